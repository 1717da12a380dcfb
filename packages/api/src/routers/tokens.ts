import { createApiToken, listApiTokens, revokeApiToken } from '@activity-core/db';
import { z } from 'zod';
import { type ApiToken, toApiToken } from '../dto.ts';
import { Id, Text, Timestamp } from '../inputs.ts';
import { Scope } from '../scopes.ts';
import { adminProcedure, router } from '../trpc.ts';

export const tokensRouter = router({
  /** Creates a token. `secret` is the bearer token; it is shown here once and stored only hashed. */
  create: adminProcedure
    .input(
      z.object({
        name: Text(200).min(1),
        scopes: z.array(Scope).min(1, 'at least one scope').max(3),
        expiresAt: Timestamp.optional(),
      }),
    )
    .mutation(async ({ ctx, input }): Promise<{ token: ApiToken; secret: string }> => {
      const { token, secret } = await createApiToken(ctx.deps.db, {
        name: input.name,
        scopes: [...new Set(input.scopes)],
        expiresAt: input.expiresAt ? new Date(input.expiresAt) : null,
      });
      return { token: toApiToken(token), secret };
    }),

  list: adminProcedure
    .input(z.object({}).optional())
    .query(async ({ ctx }): Promise<ApiToken[]> => (await listApiTokens(ctx.deps.db)).map(toApiToken)),

  revoke: adminProcedure
    .input(z.object({ id: Id }))
    .mutation(async ({ ctx, input }): Promise<ApiToken> => toApiToken(await revokeApiToken(ctx.deps.db, input.id))),
});
