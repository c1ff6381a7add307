import { randomBytes } from 'node:crypto';
import { type DatabasePool, sql } from '@ghostnet/db';
import { z } from 'zod';

export type NonceOutcome = 'ok' | 'unknown' | 'used' | 'expired';

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** 24 alphanumerics (EIP-4361 wants ≥ 8): ~142 bits, drawn without modulo bias. */
export function newNonce(length = 24): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += ALPHANUMERIC[byte % 62];
    }
  }
  return out;
}

/**
 * SIWE nonces in Postgres, so that any instance can check one another instance issued. Consuming is one
 * conditional UPDATE: of two concurrent logins with the same nonce exactly one wins.
 */
const NonceRow = z.object({ nonce: z.string() });
const UsedRow = z.object({ used: z.boolean() });

export class NonceStore {
  constructor(
    private readonly pool: DatabasePool,
    private readonly ttlMs: number,
  ) {}

  async issue(now = Date.now()): Promise<{ nonce: string; expiresAt: number }> {
    const nonce = newNonce();
    const expiresAt = now + this.ttlMs;
    await this.pool.query(sql.unsafe`
      INSERT INTO api_siwe_nonces (nonce, issued_at, expires_at)
      VALUES (${nonce}, to_timestamp(${now / 1000}), to_timestamp(${expiresAt / 1000}))`);
    return { nonce, expiresAt };
  }

  async consume(nonce: string, now = Date.now()): Promise<NonceOutcome> {
    const consumed = await this.pool.maybeOne(sql.type(NonceRow)`
      UPDATE api_siwe_nonces SET used_at = to_timestamp(${now / 1000})
      WHERE nonce = ${nonce} AND used_at IS NULL AND expires_at > to_timestamp(${now / 1000})
      RETURNING nonce`);
    if (consumed) return 'ok';
    const row = await this.pool.maybeOne(sql.type(UsedRow)`
      SELECT used_at IS NOT NULL AS used FROM api_siwe_nonces WHERE nonce = ${nonce}`);
    if (!row) return 'unknown';
    return row.used ? 'used' : 'expired';
  }

  /** Forgets nonces past their expiry (a used or expired nonce is refused either way). */
  async prune(now = Date.now()): Promise<void> {
    await this.pool.query(sql.unsafe`
      DELETE FROM api_siwe_nonces WHERE expires_at < to_timestamp(${now / 1000}) - interval '1 hour'`);
  }
}
