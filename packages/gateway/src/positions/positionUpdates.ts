import type { Logger } from '@ghostnet/logger';
import type { SnapshotSource } from '../snapshot/source.ts';

export interface PositionUpdatesOptions {
  source: Pick<SnapshotSource, 'readPosition' | 'positionsCheckpoint'>;
  /** Addresses with a socket on this instance. */
  localUsers(): Iterable<string>;
  isLocal(address: string): boolean;
  /** Sends one serialized POSITION_UPDATE to every socket of that user on this instance. */
  publish(address: string, frame: string): void;
  /** Whether a read of this epoch is of the stream being followed (it may go by several names). */
  isCurrentEpoch(epoch: string): boolean;
  tickMs: number;
  concurrency?: number;
  logger: Logger;
}

/**
 * POSITION_UPDATE after a stream message that changed a user's position. The position is read from the
 * projector's table, so it waits until the positions checkpoint has reached the message's sequence: the update
 * then reflects the message (and maybe later ones; its `sequenceId` says which). Added latency = projector lag +
 * one query after the projector's checkpoint notice (`nudge`), or up to one tick when notices are not wired.
 * Requests for the same user coalesce; users are read `concurrency` at a time.
 */
/** Reads of one user's position that may fail in a row before its update is dropped (a row that never reads). */
const MAX_ATTEMPTS = 5;

export class PositionUpdates {
  #pending = new Map<string, number>();
  /** Users whose last reads failed, with how many in a row. */
  #failures = new Map<string, number>();
  #timer: NodeJS.Timeout | null = null;
  #running = false;
  #again = false;
  #stopped = false;
  delivered = 0;

  constructor(readonly options: PositionUpdatesOptions) {}

  start(): void {
    this.#timer = setInterval(() => void this.tick(), this.options.tickMs);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
  }

  /** `users` changed at `sequence` ('all': every local user). Users without a local socket are ignored. */
  enqueue(users: readonly string[] | 'all', sequence: number): void {
    const list = users === 'all' ? this.options.localUsers() : users;
    for (const user of list) {
      if (!this.options.isLocal(user)) continue;
      const known = this.#pending.get(user);
      if (known === undefined || known < sequence) this.#pending.set(user, sequence);
    }
  }

  get pending(): number {
    return this.#pending.size;
  }

  /**
   * The positions projection committed a batch (a checkpoint notice): look now rather than at the next tick.
   * A nudge during a tick runs one more tick after it, so no commit is missed between the two.
   */
  nudge(): void {
    if (this.#running) this.#again = true;
    else void this.tick();
  }

  async tick(): Promise<void> {
    if (this.#running || this.#stopped || this.#pending.size === 0) return;
    this.#running = true;
    this.#again = false;
    try {
      const checkpoint = await this.options.source.positionsCheckpoint();
      if (!this.options.isCurrentEpoch(checkpoint.epoch)) return;
      const due: [user: string, sequence: number][] = [];
      for (const [user, seq] of this.#pending) if (seq <= checkpoint.sequence) due.push([user, seq]);
      for (const [user] of due) this.#pending.delete(user);
      const concurrency = this.options.concurrency ?? 16;
      let failed = 0;
      let lastError: unknown;
      for (let i = 0; i < due.length; i += concurrency) {
        const batch = due.slice(i, i + concurrency);
        const results = await Promise.allSettled(batch.map(([user]) => this.#send(user)));
        results.forEach((result, j) => {
          const [user, seq] = batch[j]!;
          if (result.status === 'fulfilled') {
            this.#failures.delete(user);
            return;
          }
          failed++;
          lastError = result.reason;
          const attempts = (this.#failures.get(user) ?? 0) + 1;
          if (attempts >= MAX_ATTEMPTS) {
            // A read that keeps failing would cost a query and a log line every tick, for good; the next
            // change of this user's position tries again.
            this.#failures.delete(user);
            this.options.logger.error(
              { err: result.reason, address: user, attempts },
              'position update dropped: its read failed every time',
            );
            return;
          }
          this.#failures.set(user, attempts);
          // Back in the queue; enqueue keeps a newer request that came in during the read.
          this.enqueue([user], seq);
        });
      }
      if (failed > 0) {
        this.options.logger.warn(
          { err: lastError, failed, of: due.length },
          'position updates: reads failed, retrying next tick',
        );
      }
    } catch (error) {
      this.options.logger.warn(
        { err: error },
        'position updates: checkpoint read failed, retrying next tick',
      );
    } finally {
      this.#running = false;
    }
    if (this.#again) this.nudge();
  }

  async #send(user: string): Promise<void> {
    if (!this.options.isLocal(user)) return;
    const { position, sequence, epoch } = await this.options.source.readPosition(user);
    if (!this.options.isCurrentEpoch(epoch)) return;
    this.options.publish(user, JSON.stringify({ type: 'POSITION_UPDATE', position, sequenceId: sequence }));
    this.delivered++;
  }
}
