/** One difference between two JSON values, at a path such as `trigger.event.filter` or `taskTemplates[0].title`. */
export interface FieldChange {
  readonly path: string;
  readonly kind: 'added' | 'removed' | 'changed';
  readonly before?: unknown;
  readonly after?: unknown;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

/**
 * The field-level differences from `before` to `after` (JSON values: objects by key, arrays by
 * position), deepest first where both sides have structure. Key order does not count.
 *
 * @example diffJson({ a: 1, b: [1] }, { a: 2, b: [1, 2] }) // a changed, b[1] added
 */
export function diffJson(before: unknown, after: unknown, path = ''): FieldChange[] {
  const changes: FieldChange[] = [];
  const stack: Array<[unknown, unknown, string]> = [[before, after, path]];
  // Iterative, so a deeply nested payload cannot exhaust the call stack.
  while (stack.length > 0) {
    const [a, b, at] = stack.pop() as [unknown, unknown, string];
    if (isObject(a) && isObject(b)) {
      const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort().reverse();
      for (const key of keys) {
        const p = join(at, key);
        if (!(key in b)) changes.push({ path: p, kind: 'removed', before: a[key] });
        else if (!(key in a)) changes.push({ path: p, kind: 'added', after: b[key] });
        else stack.push([a[key], b[key], p]);
      }
    } else if (Array.isArray(a) && Array.isArray(b)) {
      for (let i = Math.max(a.length, b.length) - 1; i >= 0; i--) {
        const p = join(at, i);
        if (i >= b.length) changes.push({ path: p, kind: 'removed', before: a[i] });
        else if (i >= a.length) changes.push({ path: p, kind: 'added', after: b[i] });
        else stack.push([a[i], b[i], p]);
      }
    } else if (a !== b) {
      // Primitives differ, or the two sides have different shapes (object vs array vs scalar).
      changes.push({ path: at, kind: 'changed', before: a, after: b });
    }
  }
  return changes.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}
