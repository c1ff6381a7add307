import type { DatabasePool } from '@ghostnet/db';
import type { DatabasePoolConnection } from 'slonik';

interface Lane {
  connection: DatabasePoolConnection;
  release: () => void;
}

/**
 * A few pool connections held open for the hottest read, used round-robin. slonik acquires and releases a
 * connection around every `pool.query` (with bookkeeping that cost more CPU than the query itself on the
 * profile route); a held connection skips that. A lane whose connection fails is released and reopened;
 * while none is open, queries go through the pool as usual.
 */
export class ConnectionLanes {
  readonly #lanes: (Lane | null)[];
  #next = 0;
  #closed = false;

  constructor(
    private readonly pool: DatabasePool,
    size: number,
  ) {
    this.#lanes = Array.from({ length: size }, () => null);
  }

  start(): void {
    for (let i = 0; i < this.#lanes.length; i++) this.#open(i);
  }

  #open(i: number): void {
    if (this.#closed) return;
    this.pool
      .connect(
        (connection) =>
          new Promise<void>((resolve) => {
            this.#lanes[i] = { connection, release: resolve };
          }),
      )
      .catch(() => {})
      .finally(() => {
        this.#lanes[i] = null;
        if (!this.#closed) setTimeout(() => this.#open(i), 500).unref();
      });
  }

  async run<T>(work: (db: DatabasePoolConnection | DatabasePool) => Promise<T>): Promise<T> {
    for (let tries = 0; tries < this.#lanes.length; tries++) {
      const lane = this.#lanes[this.#next++ % this.#lanes.length];
      if (!lane) continue;
      try {
        return await work(lane.connection);
      } catch (error) {
        // A broken connection must not keep serving: give it back (slonik discards it) and open another.
        if (isConnectionError(error)) lane.release();
        throw error;
      }
    }
    return work(this.pool);
  }

  close(): void {
    this.#closed = true;
    for (const lane of this.#lanes) lane?.release();
  }
}

function isConnectionError(error: unknown): boolean {
  const name = (error as { name?: string })?.name ?? '';
  return /Connection|BackendTerminated|UnexpectedState/.test(name);
}
