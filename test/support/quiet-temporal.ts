import { DefaultLogger, Runtime } from '@temporalio/worker';

// Each test file runs in its own fork; keep the Temporal SDK's INFO chatter out of the report.
Runtime.install({ logger: new DefaultLogger('WARN') });
