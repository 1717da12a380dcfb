import { inspectJson } from '@activity-core/core';
import { createLogger } from '@activity-core/runtime';
import { initTRPC, TRPCError } from '@trpc/server';
import { authenticate } from './auth.ts';
import type { ApiContext } from './context.ts';
import { formatErrorShape, invalidInput, toTRPCError } from './errors.ts';
import { INPUT_FRAME_DEPTH, limitsOf } from './inputs.ts';
import { type ProcedureMeta, scopeAllows } from './scopes.ts';
import { inProcedureSpan } from './tracing.ts';

const fallbackLogger = createLogger({ base: { service: 'api' } });

const t = initTRPC
  .context<ApiContext>()
  .meta<ProcedureMeta>()
  .create({
    // Never send stack traces, whatever NODE_ENV says.
    isDev: false,
    errorFormatter: ({ shape, error, ctx }) => formatErrorShape(shape, error, ctx?.deps.logger ?? fallbackLogger),
  });

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/** Domain errors → tRPC codes, in one place (see errors.ts). */
const errorBoundary = t.middleware(async ({ ctx, path, next }) => {
  const result = await next();
  if (!result.ok) throw toTRPCError(result.error, ctx.deps.logger, path);
  return result;
});

/**
 * Every procedure needs a valid bearer token (401) holding the scope in its meta (403), within
 * the token's rate limit (429). Runs before input parsing, so bad input from a stranger is a 401.
 * A procedure without a scope in its meta is refused: fail closed.
 */
const authorize = t.middleware(async ({ ctx, meta, next }) => {
  const principal = await authenticate(ctx);
  if (!principal) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'a valid bearer token is required' });
  if (!meta?.scope || !scopeAllows(principal.scopes, meta.scope)) {
    throw new TRPCError({ code: 'FORBIDDEN', message: `this procedure needs the ${meta?.scope ?? 'unknown'} scope` });
  }
  if (!ctx.deps.rateLimiter.take(principal.id)) {
    throw new TRPCError({ code: 'TOO_MANY_REQUESTS', message: 'rate limit exceeded for this token' });
  }
  return next({ ctx: { ...ctx, principal } });
});

/**
 * Every input is walked once, without recursion, before anything parses it (zod's recursive
 * `z.json()`, the validators, CEL): nesting, list and map sizes and string lengths within the
 * input limits, every string storable text (no NUL, no unpaired surrogate), every number
 * finite. A problem is BAD_REQUEST naming its place.
 */
const boundedInput = t.middleware(async ({ ctx, getRawInput, next }) => {
  const limits = limitsOf(ctx.deps).input;
  const problem = inspectJson(await getRawInput(), { ...limits, maxDepth: limits.maxDepth + INPUT_FRAME_DEPTH });
  if (problem) {
    const message =
      problem.kind === 'too_deep' ? `nested too deep (values may nest ${limits.maxDepth} levels)` : problem.message;
    invalidInput([{ path: problem.path, message }]);
  }
  return next();
});

/** A span per procedure call when the service traces (see tracing.ts); outermost, so it covers auth and input checks. */
const traced = t.middleware(({ ctx, path, type, next }) => inProcedureSpan(ctx.deps.tracer, path, type, () => next()));

const base = t.procedure.use(traced).use(errorBoundary).use(authorize).use(boundedInput);

/** Procedures by the scope they need. */
export const readProcedure = base.meta({ scope: 'read' });
export const writeProcedure = base.meta({ scope: 'write' });
export const adminProcedure = base.meta({ scope: 'admin' });
