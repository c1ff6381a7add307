import { type DatabasePool, sql } from '@ghostnet/db';
import { z } from 'zod';

export interface QuotaDecision {
  allowed: boolean;
  limit: number;
  /** Estimate across instances: exact for this instance, as of its last reservation for the others. */
  remaining: number;
  /** When the current window ends (Unix ms). */
  resetAt: number;
}

interface KeyState {
  window: number;
  /** Requests this instance has reserved and not yet spent. */
  tokens: number;
  /** The shared counter as of the last reservation. */
  globalUsed: number;
  exhausted: boolean;
  pending: Promise<void> | null;
}

export interface SharedQuotaOptions {
  pool: DatabasePool;
  windowMs?: number;
  /** Called when the shared store cannot be reached; the request is then let through (fail open). */
  onStoreError?: (error: unknown) => void;
}

const Grant = z.object({ last_grant: z.number(), used: z.number() });

/**
 * Fixed-window limits shared by every instance through Postgres. An instance reserves a few requests at a
 * time from the window's counter with one atomic upsert that never lets the counter pass the limit, then
 * spends them locally: the limit holds across instances (at most `limit` requests per window in total), and
 * the database sees one statement per reservation instead of one per request. Reservations shrink as the
 * window fills, so quota stranded in another instance stays small.
 */
export class SharedQuota {
  readonly windowMs: number;
  readonly #pool: DatabasePool;
  readonly #states = new Map<string, KeyState>();
  readonly #onStoreError: (error: unknown) => void;
  #currentWindow = 0;

  constructor(options: SharedQuotaOptions) {
    this.#pool = options.pool;
    this.windowMs = options.windowMs ?? 60_000;
    this.#onStoreError = options.onStoreError ?? (() => {});
  }

  /** Synchronous while this instance holds reserved quota for the key (the common case); a promise otherwise. */
  take(key: string, limit: number, now = Date.now()): QuotaDecision | Promise<QuotaDecision> {
    const window = Math.floor(now / this.windowMs);
    if (window !== this.#currentWindow) this.#rollOver(window);
    let state = this.#states.get(key);
    if (!state || state.window !== window) {
      state = { window, tokens: 0, globalUsed: 0, exhausted: false, pending: null };
      this.#states.set(key, state);
    }
    return this.#decide(state, key, limit, (window + 1) * this.windowMs);
  }

  #decide(
    state: KeyState,
    key: string,
    limit: number,
    resetAt: number,
  ): QuotaDecision | Promise<QuotaDecision> {
    if (state.tokens > 0) {
      state.tokens--;
      return {
        allowed: true,
        limit,
        remaining: Math.max(0, limit - state.globalUsed + state.tokens),
        resetAt,
      };
    }
    if (state.exhausted) return { allowed: false, limit, remaining: 0, resetAt };
    let pending = state.pending;
    if (!pending) {
      const s = state;
      pending = this.#reserve(key, s.window, limit)
        .then(
          ({ granted, used }) => {
            s.tokens += granted;
            s.globalUsed = used;
            if (granted === 0) s.exhausted = true;
          },
          (error) => {
            this.#onStoreError(error);
            s.tokens += 1;
          },
        )
        .finally(() => {
          s.pending = null;
        });
      s.pending = pending;
    }
    // Concurrent requests for the key wait for the same reservation, then decide again.
    return pending.then(() => this.#decide(state, key, limit, resetAt));
  }

  async #reserve(key: string, window: number, limit: number): Promise<{ granted: number; used: number }> {
    const chunk = Math.min(1000, Math.max(1, Math.ceil(limit / 20)));
    const row = await this.#pool.maybeOne(sql.type(Grant)`
      INSERT INTO api_rate_limits AS r (bucket, window_start, used, last_grant)
      VALUES (${key}, ${window}, LEAST(${chunk}::int, ${limit}::int), LEAST(${chunk}::int, ${limit}::int))
      ON CONFLICT (bucket, window_start) DO UPDATE
        SET last_grant = GREATEST(1, LEAST(${chunk}::int, (${limit}::int - r.used + 7) / 8)),
            used = r.used + GREATEST(1, LEAST(${chunk}::int, (${limit}::int - r.used + 7) / 8))
        WHERE r.used < ${limit}::int
      RETURNING last_grant, used`);
    return row ? { granted: row.last_grant, used: row.used } : { granted: 0, used: limit };
  }

  #rollOver(window: number): void {
    this.#currentWindow = window;
    for (const [key, state] of this.#states) if (state.window < window) this.#states.delete(key);
  }

  /** Drops counters of finished windows; any instance may run it. */
  async prune(now = Date.now()): Promise<void> {
    const window = Math.floor(now / this.windowMs);
    await this.#pool.query(sql.unsafe`DELETE FROM api_rate_limits WHERE window_start < ${window - 1}`);
  }
}
