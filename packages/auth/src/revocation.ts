import { createHash } from 'node:crypto';
import { type DatabasePool, sql } from '@ghostnet/db';
import { z } from 'zod';

// Logged-out sessions (`api_revoked_tokens`, migration 0100): the API writes them on logout, and the API and
// the gateway both refuse a token found there, so a session ends everywhere at once. Only a hash is stored: the
// table never holds a usable token. Rows go once the token itself has expired (the API prunes them).

/** A pool or a transaction. */
type Db = Pick<DatabasePool, 'query' | 'maybeOne' | 'any'>;

export function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

export async function revokeToken(db: Db, token: string, expiresAtSeconds: number): Promise<void> {
  await db.query(sql.unsafe`
    INSERT INTO api_revoked_tokens (token_hash, expires_at)
    VALUES (${sql.binary(tokenHash(token))}, to_timestamp(${expiresAtSeconds}))
    ON CONFLICT DO NOTHING`);
}

// Built once: zod compiles a schema's parser on its first use, which a schema built per call repeats.
const HashRow = z.object({ hash: z.string() });
const OneRow = z.object({ one: z.number() });

/** Which of these token hashes (hex) are revoked: one query for a gateway's every session. */
export async function revokedAmong(db: Db, hashes: readonly string[]): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  const rows = await db.any(sql.type(HashRow)`
    SELECT encode(token_hash, 'hex') AS hash FROM api_revoked_tokens
    WHERE token_hash = ANY (SELECT decode(h, 'hex') FROM unnest(${sql.array([...hashes], 'text')}) AS h)`);
  return new Set(rows.map((r) => r.hash));
}

/** One token, by primary key: the API asks this on every signed-in request. */
export async function isTokenRevoked(db: Db, token: string): Promise<boolean> {
  const row = await db.maybeOne(sql.type(OneRow)`
    SELECT 1 AS one FROM api_revoked_tokens WHERE token_hash = ${sql.binary(tokenHash(token))}`);
  return row !== null;
}
