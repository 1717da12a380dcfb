// What a running `npm start` tells its user: the ready summary and the `--print-env` lines.
// Pure: built from one `Endpoints` record, which the start command also keeps in the data
// directory so that `--print-env` can print the same list from another shell.

export const ServiceNames = ['api', 'ingest', 'worker'] as const;
export type ServiceName = (typeof ServiceNames)[number];

export interface Endpoints {
  /** The tRPC endpoint, e.g. `http://127.0.0.1:3000/trpc`. */
  readonly apiUrl: string;
  /** Where the bootstrap admin token is kept; `undefined` when it came from `AC_API_TOKEN`. */
  readonly tokenFile: string | undefined;
  /** Base URL of each service's ops server (`/healthz`, `/readyz`, `/metrics`). */
  readonly services: Readonly<Record<ServiceName, string>>;
  readonly temporalAddress: string;
  readonly temporalNamespace: string;
  readonly temporalTaskQueue: string;
  readonly temporalUiUrl: string | undefined;
  readonly natsUrl: string;
  readonly natsMonitorUrl: string | undefined;
  /** With credentials. */
  readonly databaseUrl: string;
  /** `DATABASE_URL` came from outside: its password is the user's, not shown in the summary. */
  readonly externalDatabase: boolean;
}

/** `postgres://user:secret@host/db` → `postgres://user:***@host/db`. */
export function maskPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === '') return url;
    parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

/** The ready summary as label/value rows, one URL per row so each can be copied alone. */
export function summaryRows(e: Endpoints): Array<readonly [string, string]> {
  const rows: Array<readonly [string, string]> = [
    ['API (tRPC)', e.apiUrl],
    ['API token', e.tokenFile ? `in ${e.tokenFile}` : 'the one in AC_API_TOKEN'],
  ];
  for (const name of ServiceNames) {
    rows.push([`${name} health`, `${e.services[name]}/readyz`], [`${name} metrics`, `${e.services[name]}/metrics`]);
  }
  rows.push(
    ['Temporal', `${e.temporalAddress} (namespace ${e.temporalNamespace}, task queue ${e.temporalTaskQueue})`],
    ['Temporal UI', e.temporalUiUrl ?? '(external Temporal)'],
    ['NATS', e.natsUrl],
    ['NATS monitoring', e.natsMonitorUrl ?? '(external NATS)'],
    ['PostgreSQL', e.externalDatabase ? maskPassword(e.databaseUrl) : e.databaseUrl],
  );
  return rows;
}

export function formatSummary(e: Endpoints): string {
  const rows = summaryRows(e);
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  return rows.map(([label, value]) => `  ${label.padEnd(width)}${value}\n`).join('');
}

/** Single-quoted for POSIX shells: safe for any value. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * The environment that points other tools at the running stack: the services' own variables
 * (`DATABASE_URL`, `NATS_URL`, `TEMPORAL_*`), the operator CLI's (`AC_API_URL`,
 * `AC_API_TOKEN`) and one URL variable per entry of the summary.
 */
export function environment(e: Endpoints, token: string | undefined): Array<readonly [string, string]> {
  const vars: Array<readonly [string, string]> = [['AC_API_URL', e.apiUrl]];
  if (token !== undefined) vars.push(['AC_API_TOKEN', token]);
  if (e.tokenFile) vars.push(['AC_API_TOKEN_FILE', e.tokenFile]);
  for (const name of ServiceNames) {
    const upper = name.toUpperCase();
    vars.push([`AC_${upper}_HEALTH_URL`, `${e.services[name]}/readyz`]);
    vars.push([`AC_${upper}_METRICS_URL`, `${e.services[name]}/metrics`]);
  }
  vars.push(
    ['TEMPORAL_ADDRESS', e.temporalAddress],
    ['TEMPORAL_NAMESPACE', e.temporalNamespace],
    ['TEMPORAL_TASK_QUEUE', e.temporalTaskQueue],
  );
  if (e.temporalUiUrl) vars.push(['AC_TEMPORAL_UI_URL', e.temporalUiUrl]);
  vars.push(['NATS_URL', e.natsUrl]);
  if (e.natsMonitorUrl) vars.push(['AC_NATS_MONITOR_URL', e.natsMonitorUrl]);
  vars.push(['DATABASE_URL', e.databaseUrl]);
  return vars;
}

export function formatExports(e: Endpoints, token: string | undefined): string {
  const lines = environment(e, token).map(([name, value]) => `export ${name}=${shellQuote(value)}\n`);
  if (token === undefined) lines.splice(1, 0, '# AC_API_TOKEN: the one npm start was given (it is not stored)\n');
  return lines.join('');
}
