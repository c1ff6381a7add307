import type { Logger } from '@ghostnet/logger';
import type { KV } from '@nats-io/kv';
import { z } from 'zod';

/**
 * At most `max` connections per user across every gateway instance. State: one JetStream KV key per user whose
 * value holds a lease per connection (`connId → expiresAt`), changed only by compare-and-set on the key's
 * revision, so two instances admitting the same user at once cannot both take the last slot.
 *
 * Each instance renews its own leases every heartbeat; a crashed instance's leases lapse after `leaseMs` and are
 * pruned by the next writer. The bucket's TTL removes keys nobody has written for a while (users who left).
 */
export interface ConnectionLimiterOptions {
  kv: KV;
  max: number;
  leaseMs: number;
  logger: Logger;
  now?: () => number;
}

const Leases = z.object({ leases: z.record(z.string(), z.number()) });
type Leases = z.infer<typeof Leases>;

const MAX_ATTEMPTS = 20;

export class ConnectionLimiter {
  readonly #kv: KV;
  readonly #now: () => number;

  constructor(readonly options: ConnectionLimiterOptions) {
    this.#kv = options.kv;
    this.#now = options.now ?? Date.now;
  }

  /** Takes a slot for `connId`; false when the user already has `max` live leases. */
  async acquire(user: string, connId: string): Promise<boolean> {
    let admitted = false;
    await this.#change(user, (leases, now) => {
      if (Object.keys(leases).length >= this.options.max) {
        admitted = false;
        return null;
      }
      leases[connId] = now + this.options.leaseMs;
      admitted = true;
      return leases;
    });
    return admitted;
  }

  async release(user: string, connId: string): Promise<void> {
    await this.#change(user, (leases) => {
      if (!(connId in leases)) return null;
      delete leases[connId];
      return leases;
    });
  }

  /**
   * Renews this instance's leases for one user (called every heartbeat for every local user). `stillHeld` is
   * asked at write time: a socket that closed (and released its lease) after the caller listed it must not get
   * its lease back, or the user would be refused a slot until it lapsed.
   */
  async renew(
    user: string,
    connIds: readonly string[],
    stillHeld: (connId: string) => boolean = () => true,
  ): Promise<void> {
    await this.#change(user, (leases, now) => {
      for (const id of connIds) if (stillHeld(id)) leases[id] = now + this.options.leaseMs;
      return leases;
    });
  }

  /** Live leases of a user (for tests and diagnostics). */
  async count(user: string): Promise<number> {
    const entry = await this.#kv.get(user);
    if (entry?.operation !== 'PUT') return 0;
    const now = this.#now();
    return Object.values(parse(entry.string()).leases).filter((t) => t > now).length;
  }

  /**
   * Read, prune lapsed leases, apply `mutate`, write back if the key is unchanged since the read; retry on a
   * concurrent write. `mutate` returning null means nothing to write.
   */
  async #change(
    user: string,
    mutate: (leases: Record<string, number>, now: number) => Leases['leases'] | null,
  ) {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const entry = await this.#kv.get(user);
      const now = this.#now();
      const exists = entry !== null && entry.operation === 'PUT';
      const leases: Record<string, number> = {};
      if (exists) {
        for (const [id, expiresAt] of Object.entries(parse(entry.string()).leases)) {
          if (expiresAt > now) leases[id] = expiresAt;
        }
      }
      const next = mutate(leases, now);
      if (next === null) return;
      const value = JSON.stringify({ leases: next });
      try {
        if (entry) await this.#kv.update(user, value, entry.revision);
        else await this.#kv.create(user, value);
        return;
      } catch (error) {
        if (!isConflict(error)) throw error;
        // Somebody else wrote the key between our read and write: read again.
      }
    }
    throw new Error(`connection limit state for ${user} kept changing under us (${MAX_ATTEMPTS} attempts)`);
  }
}

function parse(text: string): Leases {
  try {
    const parsed = Leases.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
  } catch {}
  // An unreadable value counts as no leases rather than locking the user out.
  return { leases: {} };
}

function isConflict(error: unknown): boolean {
  const e = error as { message?: string; api_error?: { err_code?: number }; code?: unknown };
  return (
    e?.api_error?.err_code === 10071 ||
    e?.api_error?.err_code === 10164 ||
    /wrong last sequence|key exists/i.test(e?.message ?? '')
  );
}
