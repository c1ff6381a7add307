import { type DatabasePool, sql } from '@ghostnet/db';
import { AppEnvelope, type Subjects } from '@ghostnet/events';
import type { Logger } from '@ghostnet/logger';
import { orderedConsumer } from '@ghostnet/stream';
import { DeliverPolicy, type JetStreamClient } from '@nats-io/jetstream';
import { z } from 'zod';

const PendingRow = z.object({
  id: z.number(),
  envelope_id: z.string(),
  created_at: z.number(),
  last_attempt_at: z.number().nullable(),
  envelope: z.unknown(),
});

// One publisher at a time across all instances, so the stream receives app events in outbox order.
const OUTBOX_LOCK = 7_013_370_100;

export interface OutboxPublisherOptions {
  pool: DatabasePool;
  js: JetStreamClient;
  streamName: string;
  subjects: Subjects;
  logger: Logger;
  pollMs?: number;
  batchSize?: number;
  /** The stream's duplicate window; rows older than this may have been published by an instance that died. */
  duplicateWindowMs?: number;
  /** Test hook: runs after the batch is in the stream and before it is marked sent. */
  afterPublish?: () => void;
}

/**
 * Publishes committed outbox rows to `<prefix>.<chainId>.app.<Event>` with Nats-Msg-Id = envelope id, then
 * marks them sent, all under a transaction-scoped advisory lock (released by Postgres if we die). A crash
 * between publish and mark leaves the rows pending; the next pass publishes them again and JetStream's
 * duplicate window drops the copies. A row older than that window was maybe published long ago, so it is
 * looked up in the stream before it is sent again: never lost, never doubled.
 */
const LockedRow = z.object({ locked: z.boolean() });

export class OutboxPublisher {
  readonly #o: Required<Omit<OutboxPublisherOptions, 'afterPublish'>> &
    Pick<OutboxPublisherOptions, 'afterPublish'>;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = true;

  constructor(options: OutboxPublisherOptions) {
    this.#o = { pollMs: 500, batchSize: 200, duplicateWindowMs: 120_000, ...options };
  }

  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  /** Publish now (called after a commit that wrote outbox rows). */
  wake(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  #schedule(ms: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#running = this.#loop().finally(() => {
        this.#running = null;
      });
    }, ms);
  }

  async #loop(): Promise<void> {
    let delay = this.#o.pollMs;
    try {
      let published: number;
      do {
        this.#again = false;
        published = await this.publishPending();
      } while ((published === this.#o.batchSize || this.#again) && !this.#stopped);
    } catch (error) {
      this.#o.logger.warn({ err: error }, 'outbox publish failed; will retry');
      delay = Math.min(5_000, this.#o.pollMs * 4);
    }
    if (!this.#stopped) this.#schedule(delay);
  }

  /** One pass: returns how many rows were marked sent (0 when another instance holds the lock). */
  async publishPending(): Promise<number> {
    const { pool, js, subjects, batchSize } = this.#o;
    // A session lock on one connection (not a transaction): the attempt counter must be committed before
    // publishing, and Postgres releases the lock by itself if this process dies.
    return pool.connect(async (db) => {
      const locked = await db.oneFirst(
        sql.type(LockedRow)`SELECT pg_try_advisory_lock(${OUTBOX_LOCK}) AS locked`,
      );
      if (!locked) return 0;
      try {
        const rows = await db.any(sql.type(PendingRow)`
          SELECT id, envelope_id, created_at, last_attempt_at, envelope FROM api_outbox
          WHERE published_at IS NULL ORDER BY id LIMIT ${batchSize}`);
        if (rows.length === 0) return 0;
        const ids = sql.array(
          rows.map((r) => r.id),
          'int8',
        );
        await db.query(sql.unsafe`
          UPDATE api_outbox SET attempts = attempts + 1, last_attempt_at = now() WHERE id = ANY(${ids})`);

        const envelopes = rows.map((row) => AppEnvelope.parse(row.envelope));
        // A row tried before may be in the stream from its *first* attempt, which JetStream deduplicates only
        // within its window. Failed passes (a NATS outage) keep last_attempt_at fresh, so the first attempt is
        // bounded by the row's creation instead: tried before and created long ago → look in the stream.
        const attemptedLongAgo = rows.some(
          (r) => r.last_attempt_at !== null && Date.now() - r.created_at > this.#o.duplicateWindowMs * 0.8,
        );
        const known = attemptedLongAgo
          ? await this.#alreadyInStream(new Date(Math.min(...rows.map((r) => r.created_at)) - 1000))
          : new Map<string, number>();

        // Sent together: one connection keeps publish order, so the stream gets them in outbox order.
        const sequences = await Promise.all(
          envelopes.map(async (envelope) => {
            const seen = known.get(envelope.id);
            if (seen !== undefined) return seen;
            const ack = await js.publish(subjects.app(envelope.name), JSON.stringify(envelope), {
              msgID: envelope.id,
              expect: { streamName: this.#o.streamName },
            });
            return ack.seq;
          }),
        );
        this.#o.afterPublish?.();
        await db.query(sql.unsafe`
          UPDATE api_outbox AS o SET published_at = now(), stream_sequence = s.seq
          FROM unnest(${ids}, ${sql.array(sequences, 'int8')}) AS s(id, seq)
          WHERE o.id = s.id`);
        return rows.length;
      } finally {
        await db.query(sql.unsafe`SELECT pg_advisory_unlock(${OUTBOX_LOCK})`);
      }
    });
  }

  /** Envelope ids already in the stream's app subjects since `since`, with their sequences. */
  async #alreadyInStream(since: Date): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    const consumer = await orderedConsumer(this.#o.js, this.#o.streamName, {
      filter_subjects: this.#o.subjects.appAll,
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: since.toISOString(),
      headers_only: true,
    });
    try {
      let pending = (await consumer.info()).num_pending;
      while (pending > 0) {
        const batch = await consumer.fetch({ max_messages: Math.min(500, pending), expires: 2_000 });
        let received = 0;
        for await (const msg of batch) {
          const id = msg.headers?.get('Nats-Msg-Id');
          if (id) found.set(id, msg.seq);
          received++;
          pending = msg.info.pending;
          if (pending === 0) break;
        }
        // An empty pull with messages still pending is not "not in the stream": re-publishing on an incomplete
        // answer could store a second copy. Fail the pass; the next one looks again.
        if (received === 0) throw new Error(`outbox: stream check stalled with ${pending} messages pending`);
      }
    } finally {
      await consumer.delete().catch(() => {});
    }
    this.#o.logger.info(
      { since, found: found.size },
      'outbox: checked the stream before re-publishing old rows',
    );
    return found;
  }
}
