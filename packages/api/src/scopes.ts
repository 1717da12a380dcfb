import { z } from 'zod';

/** Token scopes. Each includes the ones before it: admin ⊇ write ⊇ read. */
export const Scope = z.enum(['read', 'write', 'admin']);
export type Scope = z.infer<typeof Scope>;

const RANK: Readonly<Record<Scope, number>> = { read: 1, write: 2, admin: 3 };

/** True when a principal holding `granted` may call a procedure that needs `required`. */
export function scopeAllows(granted: readonly string[], required: Scope): boolean {
  return granted.some((g) => Scope.safeParse(g).success && RANK[g as Scope] >= RANK[required]);
}

/** Who is calling: the bootstrap admin token from the environment, or a stored API token. */
export type Principal =
  | {
      readonly kind: 'bootstrap';
      readonly id: 'bootstrap';
      readonly name: 'bootstrap';
      readonly scopes: readonly Scope[];
    }
  | { readonly kind: 'token'; readonly id: string; readonly name: string; readonly scopes: readonly string[] };

/** What a procedure is allowed to need; read by the auth middleware and by the router walk test. */
export interface ProcedureMeta {
  readonly scope: Scope;
}
