import { createHash, timingSafeEqual } from 'node:crypto';
import { verifyApiToken } from '@activity-core/db';
import type { ApiContext } from './context.ts';
import type { Principal } from './scopes.ts';

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Compares two secrets in time that depends on neither (both are hashed to 32 bytes first). */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

const BOOTSTRAP: Principal = { kind: 'bootstrap', id: 'bootstrap', name: 'bootstrap', scopes: ['admin'] };

async function resolve(ctx: ApiContext): Promise<Principal | null> {
  const match = ctx.authorization ? BEARER.exec(ctx.authorization) : null;
  const secret = match?.[1];
  if (!secret) return null;
  const bootstrap = ctx.deps.bootstrapToken;
  if (bootstrap && secretsEqual(secret, bootstrap)) return BOOTSTRAP;
  const token = await verifyApiToken(ctx.deps.db, secret, ctx.deps.now?.() ?? new Date());
  if (!token) return null;
  return { kind: 'token', id: token.id, name: token.name, scopes: token.scopes };
}

const resolved = new WeakMap<ApiContext, Promise<Principal | null>>();

/**
 * The caller of this request, or null when the bearer token is missing or not valid. Verified
 * once per HTTP request (a batch shares the context), against `AC_API_TOKEN` or the token table.
 */
export function authenticate(ctx: ApiContext): Promise<Principal | null> {
  let pending = resolved.get(ctx);
  if (!pending) {
    pending = resolve(ctx);
    resolved.set(ctx, pending);
  }
  return pending;
}
