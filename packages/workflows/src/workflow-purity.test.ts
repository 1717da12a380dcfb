import { readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

// Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no IO packages,
// activities only as types. This walks the value imports reachable from the entry module.
const SRC = dirname(fileURLToPath(import.meta.url));
const FORBIDDEN_PACKAGES = [
  '@activity-core/activities',
  '@activity-core/db',
  '@activity-core/failures',
  '@activity-core/messaging',
  '@activity-core/runtime',
  '@temporalio/activity',
  '@temporalio/client',
  '@temporalio/worker',
  'kysely',
  'pg',
  // The core's root: Temporal evaluates workflow code's modules for every execution, and the
  // root reaches zod, CEL, re2 and luxon (~100 ms of CPU and MBs per workflow). Its light
  // subpaths (`@activity-core/core/workflow-ids`) are fine.
  '@activity-core/core',
  '@marcbachmann/cel-js',
  'luxon',
  're2js',
  'zod',
];

/** Subpaths of forbidden packages that workflow code may import (walked like our own files). */
const ALLOWED_SUBPATHS: Record<string, string> = {
  '@activity-core/core/workflow-ids': join(SRC, '../../core/src/workflow-ids.ts'),
};

function valueImports(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  const specifiers: string[] = [];
  for (const match of source.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms)) {
    if (match[1] === undefined && match[2] !== undefined) specifiers.push(match[2]);
  }
  return specifiers;
}

describe('workflow code', () => {
  test('imports no Node built-in, no IO package and no activity implementation', () => {
    const seen = new Set<string>();
    const offenders: string[] = [];
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const specifier of valueImports(file)) {
        const allowed = ALLOWED_SUBPATHS[specifier];
        if (allowed !== undefined) {
          visit(allowed);
        } else if (specifier.startsWith('.')) {
          if (specifier.includes('activities') || specifier.includes('context-sources')) {
            offenders.push(`${file}: ${specifier}`);
          }
          visit(join(dirname(file), specifier));
        } else if (
          isBuiltin(specifier) ||
          FORBIDDEN_PACKAGES.some((p) => specifier === p || specifier.startsWith(`${p}/`))
        ) {
          offenders.push(`${file}: ${specifier}`);
        }
      }
    };
    visit(join(SRC, 'workflows.ts'));
    expect(seen.size).toBeGreaterThan(3);
    expect(offenders).toEqual([]);
  });

  // The bundle preloads these modules (see bundleWorkflows): one evaluation, shared by every
  // workflow execution of the worker. A module-level `let`/`var` would carry state from one
  // execution into the next (non-determinism on replay), so workflow state stays in closures.
  test('keeps no mutable state at module level (its modules are shared between executions)', () => {
    const offenders: string[] = [];
    for (const file of reachableFiles()) {
      for (const match of readFileSync(file, 'utf8').matchAll(/^(?:export\s+)?(let|var)\s+(\w+)/gm)) {
        offenders.push(`${file}: ${match[1]} ${match[2]}`);
      }
    }
    expect(reachableFiles().length).toBeGreaterThan(3);
    expect(offenders).toEqual([]);
  });
});

/** Our files the workflow entry reaches through value imports (the allowed core subpaths too). */
function reachableFiles(): string[] {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const specifier of valueImports(file)) {
      const allowed = ALLOWED_SUBPATHS[specifier];
      if (allowed !== undefined) visit(allowed);
      else if (specifier.startsWith('.')) visit(join(dirname(file), specifier));
    }
  };
  visit(join(SRC, 'workflows.ts'));
  return [...seen];
}
