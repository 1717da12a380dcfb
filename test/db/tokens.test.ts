import { createApiToken, listApiTokens, NotFoundError, revokeApiToken, verifyApiToken } from '@activity-core/db';
import { describe, expect, it } from 'vitest';
import { rawQuery, useMigratedDb } from './fixture.ts';

const ctx = useMigratedDb(4);

describe('api tokens', () => {
  it('the secret is returned once; only its hash is stored', async () => {
    const { db, url } = ctx();
    const { token, secret } = await createApiToken(db, { name: 'ci', scopes: ['runs:read'] });
    expect(secret).toMatch(/^act_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);
    expect(token).toMatchObject({ name: 'ci', scopes: ['runs:read'], revokedAt: null, lastUsedAt: null });
    const stored = await rawQuery(url, 'select * from api_tokens where id = $1', [token.id]);
    expect(JSON.stringify(stored.rows[0])).not.toContain(secret.slice(-43));
    expect((await listApiTokens(db)).map((t) => t.id)).toContain(token.id);
    expect(Object.keys((await listApiTokens(db))[0] ?? {})).not.toContain('tokenHash');
  });

  it('verify accepts the token, rejects near misses, and records use', async () => {
    const { db } = ctx();
    const { token, secret } = await createApiToken(db, { name: 'api' });
    const ok = await verifyApiToken(db, secret);
    expect(ok?.id).toBe(token.id);
    expect(ok?.lastUsedAt).toBeInstanceOf(Date);
    const flipped = `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    expect(await verifyApiToken(db, flipped)).toBeNull();
    expect(await verifyApiToken(db, '')).toBeNull();
    expect(await verifyApiToken(db, 'Bearer nonsense')).toBeNull();
    const otherId = `act_${'0'.repeat(32)}_${secret.slice(-43)}`;
    expect(await verifyApiToken(db, otherId)).toBeNull();
  });

  it('revoked and expired tokens no longer verify', async () => {
    const { db } = ctx();
    const { token, secret } = await createApiToken(db, { name: 'old' });
    const revoked = await revokeApiToken(db, token.id);
    expect(revoked.revokedAt).toBeInstanceOf(Date);
    expect((await revokeApiToken(db, token.id)).revokedAt).toEqual(revoked.revokedAt);
    expect(await verifyApiToken(db, secret)).toBeNull();
    await expect(revokeApiToken(db, '00000000-0000-7000-8000-000000000000')).rejects.toBeInstanceOf(NotFoundError);

    const expiring = await createApiToken(db, { name: 'short', expiresAt: new Date(Date.now() + 60_000) });
    expect(await verifyApiToken(db, expiring.secret)).not.toBeNull();
    expect(await verifyApiToken(db, expiring.secret, new Date(Date.now() + 120_000))).toBeNull();
  });
});
