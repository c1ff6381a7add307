import { revokedAmong, revokeToken } from '@ghostnet/auth';
import { CloseCode } from '@ghostnet/client/protocol';
import { createDatabasePool, type DatabasePool, migrate } from '@ghostnet/db';
import { createTestDatabase, createTestStream, type TestDatabase, type TestStream } from '@ghostnet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressOf } from '../test/envelopes.ts';
import { RawClient, startTestGateway, tokenFor } from '../test/harness.ts';

let db: TestDatabase;
let stream: TestStream;
let pool: DatabasePool;

beforeAll(async () => {
  [db, stream] = await Promise.all([createTestDatabase(), createTestStream()]);
  await migrate(db.url);
  pool = await createDatabasePool(db.url);
});
afterAll(async () => {
  await pool?.end();
  await Promise.all([db?.drop(), stream?.destroy()]);
});

const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

async function authed(url: string, token: string): Promise<RawClient> {
  const client = new RawClient(url);
  await client.opened;
  client.send({ type: 'AUTH', token });
  return client;
}

describe('logged-out sessions (the API revokes, the gateway refuses)', () => {
  it('refuses a revoked token at AUTH and closes open sessions of a token revoked since', async () => {
    const gw = await startTestGateway(stream, {
      revocations: { revokedAmong: (hashes) => revokedAmong(pool, hashes) },
      revocationCheckMs: 200,
    });
    try {
      const [a, b] = [addressOf(0xa1), addressOf(0xb2)];
      const [tokenA, tokenB] = [await tokenFor(a), await tokenFor(b)];
      const open = await authed(gw.url, tokenA);
      const other = await authed(gw.url, tokenB);
      expect((await open.next('CONNECTION_STATE')).status).toBe('connected');
      expect((await other.next('CONNECTION_STATE')).status).toBe('connected');

      // Logout (what POST /auth/logout writes): the open socket of that token is closed, the other stays.
      await revokeToken(pool, tokenA, inAnHour());
      expect(await open.next('ERROR')).toMatchObject({ code: 'TOKEN_REVOKED' });
      expect((await open.closed).code).toBe(CloseCode.AUTH_FAILED);
      expect(other.ws.readyState).toBe(other.ws.OPEN);

      // The same token again: refused before it gets a lease or the feed.
      const again = await authed(gw.url, tokenA);
      expect(await again.next('ERROR')).toMatchObject({ code: 'TOKEN_REVOKED' });
      expect((await again.closed).code).toBe(CloseCode.AUTH_FAILED);
      expect(again.frames.some((f) => f.type === 'CONNECTION_STATE')).toBe(false);
      // A new sign-in of the same player is a new token, and welcome.
      const fresh = await authed(gw.url, await tokenFor(a, Date.now() + 1_000));
      expect((await fresh.next('CONNECTION_STATE')).status).toBe('connected');
      other.close();
      fresh.close();
    } finally {
      await gw.stop();
    }
  });

  it('lets a signed token in while the revocation list cannot be read (the feed resumes through a Postgres outage)', async () => {
    const gw = await startTestGateway(stream, {
      revocations: {
        revokedAmong: async () => {
          throw new Error('connection refused');
        },
      },
      revocationCheckMs: 100,
    });
    try {
      const client = await authed(gw.url, await tokenFor(addressOf(0xc3)));
      expect((await client.next('CONNECTION_STATE')).status).toBe('connected');
      await new Promise((r) => setTimeout(r, 300)); // failing periodic checks close nothing
      expect(client.ws.readyState).toBe(client.ws.OPEN);
      client.close();
    } finally {
      await gw.stop();
    }
  });
});
