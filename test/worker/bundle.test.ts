import { createContext, runInContext } from 'node:vm';
import { describe, expect, test } from 'vitest';
import { workflowBundle } from './harness.ts';

// The worker's reusable V8 context keeps the modules a bundle loads before any workflow exists
// (the SDK's runtime and `preloadModules`) in one shared cache, and gives every workflow
// execution a module cache of its own for the rest: each execution evaluates those modules
// again (`importWorkflows`) and holds them while it is cached. This runs the bundle the way the
// SDK's ReusableVMWorkflowCreator does (the module cache behind `globalThis.__webpack_module_cache__`)
// and checks that an execution's import of the workflows evaluates nothing.
describe('the workflow bundle', () => {
  test('loads every workflow module once, before any execution (none per execution)', async () => {
    const { code } = await workflowBundle();
    const cache: Record<string, unknown> = {};
    const context = createContext({});
    Object.defineProperty(context, '__webpack_module_cache__', { value: cache });
    runInContext(code, context);
    runInContext('__TEMPORAL__.preloadModules?.()', context);
    const shared = new Set(Object.keys(cache));
    const exported = runInContext('Object.keys(__TEMPORAL__.importWorkflows())', context) as string[];
    const perExecution = Object.keys(cache).filter((id) => !shared.has(id));
    expect(exported).toEqual(expect.arrayContaining(['RunActivityWorkflow', 'TaskInstanceWorkflow']));
    expect(shared.size).toBeGreaterThan(50);
    expect(perExecution).toEqual([]);
  });
});
