import { hostname } from 'node:os';
import { sql } from '@ghostnet/db';
import type { Logger } from '@ghostnet/logger';
import pg from 'pg';
import type { FragmentSqlToken, ValueExpression } from 'slonik';

/**
 * Session advisory locks on one dedicated connection: a projection generation is applied by whoever holds its
 * lock. When the holder dies, PostgreSQL drops the session and its locks at once; a frozen holder is cut off by
 * idle_session_timeout (its keepalive pings every 3 s), a lost network by TCP keepalives. Correctness never depends on
 * this process's view of the lease: every batch locks the checkpoint row, applies only what follows it, and
 * checks in the same transaction that this session (by backend pid) still holds the lock.
 */
/** The two advisory-lock keys of a generation's lease: this class, and the generation's key `projection:version`. */
export const LEASE_CLASS = 'ghostnet.projection';

/**
 * `pg_locks l` rows of a generation's lease lock in this database, for `key` (a value or a SQL expression): what
 * `projections status` shows as the holder and what each batch checks before applying.
 */
export function leaseLockRow(key: ValueExpression): FragmentSqlToken {
  return sql.fragment`l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND l.classid = hashtext(${LEASE_CLASS})::oid AND l.objid = hashtext(${key})::oid`;
}

export class LeaseManager {
  #client: pg.Client | null = null;
  /** The lease session's backend pid: batches check in their own transaction that it still holds the lock. */
  #pid: number | null = null;
  #held = new Set<string>();
  #connecting: Promise<pg.Client> | null = null;
  /** Bumped each time the session is lost: a lease is valid only in the epoch it was taken in. */
  #sessionEpoch = 0;
  /** Its own timer, so that slow bookkeeping never lets idle_session_timeout end a healthy session. */
  #keepalive: NodeJS.Timeout | null = null;

  constructor(
    readonly databaseUrl: string,
    readonly logger: Logger,
    readonly idleTimeoutMs = 15_000,
    /** Shown by `projections status` as the lease holder (PostgreSQL application_name). */
    readonly holder = `projector ${hostname()} pid ${process.pid}`,
  ) {}

  get sessionEpoch(): number {
    return this.#sessionEpoch;
  }

  /** Backend pid of the lease session (null while there is none). */
  get sessionPid(): number | null {
    return this.#client ? this.#pid : null;
  }

  /**
   * A batch found that the session no longer holds a lease it thinks it has: the session is gone in Postgres
   * (cut by idle_session_timeout while this process could not tell). Drop it and every lease with it.
   */
  abandon(reason: string): void {
    if (this.#client) this.#lost(this.#client, new Error(reason));
  }

  holds(key: string): boolean {
    return this.#held.has(key);
  }

  async #connection(): Promise<pg.Client> {
    if (this.#client) return this.#client;
    this.#connecting ??= (async () => {
      const client = new pg.Client({
        connectionString: this.databaseUrl,
        keepAlive: true,
        application_name: this.holder.slice(0, 63),
        options: [
          `-c idle_session_timeout=${this.idleTimeoutMs}`,
          '-c tcp_keepalives_idle=5',
          '-c tcp_keepalives_interval=2',
          '-c tcp_keepalives_count=3',
        ].join(' '),
      });
      client.on('error', (error) => this.#lost(client, error));
      client.on('end', () => this.#lost(client, new Error('lease connection ended')));
      try {
        await client.connect();
        const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        this.#pid = rows[0]!.pid;
      } catch (error) {
        this.#connecting = null;
        client.end().catch(() => {});
        throw error;
      }
      this.#client = client;
      this.#connecting = null;
      this.#keepalive ??= setInterval(() => void this.ping(), Math.floor(this.idleTimeoutMs / 5));
      this.#keepalive.unref();
      return client;
    })();
    return this.#connecting;
  }

  #lost(client: pg.Client, error: unknown): void {
    if (this.#client !== client) return;
    this.#client = null;
    if (this.#held.size > 0) {
      this.logger.warn({ err: error, leases: [...this.#held] }, 'lease connection lost; leases released');
    }
    this.#held.clear();
    this.#sessionEpoch++;
    client.end().catch(() => {});
  }

  async tryAcquire(key: string): Promise<boolean> {
    if (this.#held.has(key)) return true;
    const client = await this.#connection();
    const { rows } = await client.query<{ ok: boolean }>(
      'SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS ok',
      [LEASE_CLASS, key],
    );
    if (rows[0]?.ok) this.#held.add(key);
    return !!rows[0]?.ok;
  }

  async release(key: string): Promise<void> {
    if (!this.#held.delete(key)) return;
    const client = this.#client;
    if (!client) return;
    await client
      .query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', [LEASE_CLASS, key])
      .catch(() => {});
  }

  /** Keeps the session alive (and proves it is); false when it was lost, with every lease. */
  async ping(): Promise<boolean> {
    const client = this.#client;
    if (!client) return this.#held.size === 0;
    try {
      await client.query('SELECT 1');
      return true;
    } catch (error) {
      this.#lost(client, error);
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.#keepalive) clearInterval(this.#keepalive);
    this.#keepalive = null;
    const client = this.#client;
    this.#client = null;
    this.#held.clear();
    if (client) await client.end().catch(() => {});
  }
}
