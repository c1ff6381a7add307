import { type DatabasePool, errorChain, isDatabaseUnavailable, sql } from '@ghostnet/db';
import { ReorgNotice } from '@ghostnet/events';
import type { Logger } from '@ghostnet/logger';
import { holdsMessage, messageIdOf } from '@ghostnet/stream';
import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  ReplayPolicy,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { DatabaseTransactionConnection } from 'slonik';
import { z } from 'zod';
import { CHECKPOINT_CHANNEL } from '../read/checkpointNotices.ts';
import type { DecodeCache } from './decode.ts';
import { subjectKind } from './decode.ts';
import {
  activateIfCaughtUp,
  consumerName,
  type GenerationStatus,
  markFailed,
  resetGenerationIn,
  schemaOf,
} from './generations.ts';
import { leaseLockRow } from './lease.ts';
import { reorgNoticesAfter } from './notices.ts';
import { BatchReader } from './reader.ts';
import { LatencyWindow } from './stats.ts';
import { PoisonMessageError, type ProjectedMessage, type Projection } from './types.ts';
import { pruneUndo } from './undo.ts';

export interface BatchInfo {
  projection: string;
  version: number;
  /** Stream messages covered (checkpoint advance), and how many the handler applied. */
  size: number;
  applied: number;
  firstSequence: number;
  lastSequence: number;
  /** Messages in the stream after this batch when it was delivered. */
  pending: number;
  durationMs: number;
  committedAt: number;
  /** appended → committed, per message of the batch. */
  lagsMs: number[];
}

export interface WorkerOptions {
  pool: DatabasePool;
  js: JetStreamClient;
  jsm: JetStreamManager;
  streamName: string;
  decode: DecodeCache;
  logger: Logger;
  batchSize: number;
  batchWaitMs: number;
  undoWindow: number;
  undoRetain: number;
  /**
   * Before reading, note the orphans of the reorg notices further on in the stream (default true), so that a
   * catch-up (a new projection, a rebuild) passes over them instead of applying them and rebuilding from
   * sequence 1 at each notice. Off only to test that fallback.
   */
  preloadReorgNotices?: boolean;
  leaseValid: () => boolean;
  /**
   * The lease as Postgres sees it: every batch checks, in its own transaction, that this backend still holds
   * the generation's advisory lock (a fencing check: a holder whose session was cut without it noticing must
   * not apply beside the standby that took over). Absent only in tests of the worker alone.
   */
  leaseFence?: { pid: number; key: string };
  /**
   * How long the consumer may deliver nothing before the worker checks whether the stream is ahead of its
   * checkpoint (default 5 s). Ahead at two checks in a row, with nothing delivered between, the consumer
   * stands still and is opened again from the checkpoint.
   */
  stallCheckMs?: number;
  /** Called when the fence failed, before the worker stops. */
  onLeaseLost?: () => void;
  onBatch?: (info: BatchInfo) => void;
}

/** This process's lease session does not hold the generation's lock any more: stop, apply nothing. */
export class LeaseLost extends Error {
  override name = 'LeaseLost';
}

export type WorkerState = 'starting' | 'running' | 'failed' | 'stopped';

export interface WorkerStats {
  projection: string;
  version: number;
  status: GenerationStatus;
  state: WorkerState;
  lastSequence: number;
  pending: number;
  batches: number;
  appliedEvents: number;
  lastBatch: { size: number; durationMs: number; at: number } | null;
  batchMs: { p50: number; p99: number };
  lagMs: { p50: number; p99: number };
  failure: { sequence: number; reason: string } | null;
  /** Reorg notices that took back applied events: with the undo log, or by emptying the generation. */
  /** undone: with the undo log; rebuilt: from sequence 1; preloaded: notices whose orphans were skipped ahead. */
  reorgs: { undone: number; rebuilt: number; preloaded: number };
  /** Times the consumer stood still behind the stream and was opened again. */
  stalls: number;
}

interface Item {
  m: JsMsg;
  message?: ProjectedMessage['message'];
}

type Outcome = 'ok' | 'rewind' | 'failed' | 'gone';

// Row schemas live at module level: zod compiles a parser on a schema's first use, so a schema built per call
// is compiled per call (zod was 6 % of the projector's thread under live load while this one was inline).
const CheckpointRow = z.object({ last_sequence: z.number(), status: z.string(), holds_lease: z.boolean() });
const SessionStartRow = z.object({
  last_sequence: z.number(),
  last_message_id: z.string().nullable(),
  stream_epoch: z.string(),
  status: z.string(),
});
const HoldsLeaseRow = z.object({ holds_lease: z.boolean() });
const SequenceRow = z.object({ sequence: z.number() });
const NoticeRow = z.object({ notice: z.number() });
const UndoBatchRow = z.object({ first_seq: z.number(), last_seq: z.number() });
const EpochRow = z.object({ e: z.string() });

/** Applies one generation of one projection while this process holds its lease. */
export class GenerationWorker {
  checkpoint = 0;
  status: GenerationStatus;
  state: WorkerState = 'starting';
  failure: { sequence: number; reason: string } | null = null;
  readonly #orphans = new Set<number>();
  #stopping = false;
  #reader: BatchReader | null = null;
  #done: Promise<void> | null = null;
  #pending = 0;
  #batches = 0;
  #applied = 0;
  #lastBatch: WorkerStats['lastBatch'] = null;
  readonly #batchMs = new LatencyWindow(2_000);
  readonly #lagMs = new LatencyWindow(20_000);
  #lastActivationTry = 0;
  readonly #reorgs = { undone: 0, rebuilt: 0, preloaded: 0 };
  /** The newest reorg notice this session's preload looked at (or the checkpoint it started from). */
  #noticeSeen = 0;
  #stalls = 0;
  /** The checkpoint at the last idle check that found the stream ahead; -1 when the last check did not. */
  #behindAt = -1;
  readonly #log: Logger;

  constructor(
    readonly projection: Projection,
    readonly version: number,
    status: GenerationStatus,
    readonly options: WorkerOptions,
  ) {
    this.status = status;
    this.#log = options.logger.child({ projection: projection.name, version });
  }

  get key(): string {
    return `${this.projection.name}:${this.version}`;
  }

  start(): Promise<void> {
    this.#done ??= this.#run().finally(() => {
      if (this.state !== 'failed') this.state = 'stopped';
    });
    return this.#done;
  }

  /** Finishes the batch in flight (commit, ack), then stops. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#reader?.stop();
    await this.#done;
  }

  get finished(): boolean {
    return this.state === 'failed' || this.state === 'stopped';
  }

  stats(): WorkerStats {
    return {
      projection: this.projection.name,
      version: this.version,
      status: this.status,
      state: this.state,
      lastSequence: this.checkpoint,
      pending: this.#pending,
      batches: this.#batches,
      appliedEvents: this.#applied,
      lastBatch: this.#lastBatch,
      batchMs: this.#batchMs.percentiles(),
      lagMs: this.#lagMs.percentiles(),
      failure: this.failure,
      reorgs: { ...this.#reorgs },
      stalls: this.#stalls,
    };
  }

  async #run(): Promise<void> {
    let backoff = 100;
    while (!this.#stopping && this.options.leaseValid()) {
      try {
        const outcome = await this.#session();
        if (outcome === 'failed' || outcome === 'gone') return;
        backoff = 100;
      } catch (error) {
        if (this.#stopping) return;
        if (isLeaseLost(error)) {
          this.#log.warn(
            { err: (error as Error).message },
            'lease lost: stopping; whoever holds it applies from the checkpoint',
          );
          this.options.onLeaseLost?.();
          return;
        }
        this.#log.warn({ err: error }, 'projection worker interrupted; resuming from the checkpoint');
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 5_000);
      }
    }
  }

  async #session(): Promise<Outcome> {
    const prepared = await this.#prepare();
    if (prepared === 'gone') return 'gone';
    const messages = await this.#openConsumer(this.checkpoint + 1);
    const reader = new BatchReader(messages, Math.max(this.options.batchSize * 4, 1_000));
    this.#reader = reader;
    if (this.#stopping) reader.stop();
    this.state = 'running';
    try {
      for (;;) {
        if (this.#stopping || !this.options.leaseValid()) return 'ok';
        const batch = await reader.next(
          this.options.batchSize,
          this.options.batchWaitMs,
          this.options.stallCheckMs ?? 5_000,
        );
        if (!batch) {
          if (this.#stopping) return 'ok';
          throw new Error('the consumer ended');
        }
        if (batch.length === 0) {
          if (await this.#standsStill()) return 'ok';
          continue;
        }
        this.#behindAt = -1;
        // Far behind, batches keep no undo data: a notice appended since this session's preload would find
        // its orphans applied and rebuild the generation from sequence 1 in place (readers would see empty
        // tables for the whole replay). A new notice ends the session instead; the next one preloads it.
        if (batch[batch.length - 1]!.info.pending >= this.options.undoWindow && (await this.#noticeArrived()))
          return 'ok';
        const outcome = await this.#process(batch);
        if (outcome !== 'ok') return outcome === 'rewind' ? 'ok' : outcome;
      }
    } finally {
      reader.stop();
      this.#reader = null;
    }
  }

  /**
   * Nothing delivered for a while: true when the stream was ahead of the checkpoint at this check and at the
   * one before, with nothing delivered between, so that the session ends and the consumer is opened again.
   * Seen on a 3-node cluster when the node holding the consumer died: the client library did not notice, and
   * the projection stood still for a minute and more while the stream went on.
   */
  async #standsStill(): Promise<boolean> {
    const info = await this.options.jsm.streams.info(this.options.streamName).catch(() => null);
    if (!info || info.state.last_seq <= this.checkpoint) {
      this.#behindAt = -1;
      return false;
    }
    if (this.#behindAt !== this.checkpoint) {
      this.#behindAt = this.checkpoint;
      return false;
    }
    this.#behindAt = -1;
    this.#stalls++;
    this.#log.warn(
      { checkpoint: this.checkpoint, streamLastSeq: info.state.last_seq },
      'consumer stands still behind the stream; opening it again from the checkpoint',
    );
    return true;
  }

  /** Reads the checkpoint, resets the generation when the stream was recreated, loads the orphan set. */
  async #prepare(): Promise<'ok' | 'gone'> {
    const { pool, jsm, streamName } = this.options;
    const epoch = (await jsm.streams.info(streamName)).created;
    const name = this.projection.name;
    const row = await pool.maybeOne(sql.type(SessionStartRow)`
      SELECT c.last_sequence, c.last_message_id, c.stream_epoch, v.status FROM projection_checkpoints c
      JOIN projection_versions v ON v.projection = c.projection AND v.version = c.version
      WHERE c.projection = ${name} AND c.version = ${this.version}`);
    if (!row || row.status === 'retired') return 'gone';
    this.status = row.status as GenerationStatus;
    if (
      row.stream_epoch !== epoch &&
      (await holdsMessage(jsm, streamName, row.last_sequence, row.last_message_id))
    ) {
      // A rebuild would empty the live tables and replay everything for nothing.
      this.#log.warn(
        { was: row.stream_epoch, now: epoch, sequence: row.last_sequence },
        "the stream's creation time changed but it holds the checkpoint's message: same stream, going on",
      );
      await pool.transaction(async (tx) => {
        if (!(await this.#lockCheckpoint(tx))) return;
        await tx.query(sql.unsafe`
          UPDATE projection_checkpoints SET stream_epoch = ${epoch}
          WHERE projection = ${name} AND version = ${this.version} AND stream_epoch = ${row.stream_epoch}`);
      });
      row.stream_epoch = epoch;
    }
    if (row.stream_epoch !== epoch) {
      this.#log.warn(
        { was: row.stream_epoch, now: epoch },
        'the stream was recreated; rebuilding from sequence 1',
      );
      await pool.transaction(async (tx) => {
        // Under the checkpoint lock and the lease fence, as every other write: a holder that lost its lease
        // without knowing must not empty the generation its successor is applying.
        if (!(await this.#lockCheckpoint(tx))) return;
        await resetGenerationIn(tx, this.projection, this.version, this.status, epoch, false);
      });
      this.options.decode.clear();
    }
    this.checkpoint = row.stream_epoch === epoch ? row.last_sequence : 0;
    if (this.options.preloadReorgNotices !== false) await this.#preloadNotices();
    const orphans = await pool.anyFirst(sql.type(SequenceRow)`
      SELECT sequence FROM projection_orphans WHERE projection = ${name} AND version = ${this.version}`);
    this.#orphans.clear();
    for (const s of orphans) this.#orphans.add(s);
    return 'ok';
  }

  /**
   * Records the orphans of the reorg notices ahead of the checkpoint (a direct get per notice: notices are
   * few), so that they are never applied. Only orphans above the checkpoint, checked under its lock: one
   * already applied must stay out of projection_orphans until its notice comes, which then takes it back.
   * A notice that does not parse ends the preload; the worker stops on it when it gets there.
   */
  async #preloadNotices(): Promise<void> {
    const { pool, jsm, streamName, decode } = this.options;
    const subject = `${decode.root}.control.reorg`;
    const orphans: number[] = [];
    const notices: number[] = [];
    this.#noticeSeen = this.checkpoint;
    for await (const m of reorgNoticesAfter(jsm, streamName, subject, this.checkpoint)) {
      this.#noticeSeen = Math.max(this.#noticeSeen, m.seq);
      let notice: ReorgNotice;
      try {
        notice = ReorgNotice.parse(decode.decode(m.seq, m.subject, m.data));
      } catch {
        break;
      }
      for (const s of notice.orphanedSequences) {
        if (s < m.seq) {
          orphans.push(s);
          notices.push(m.seq);
        }
      }
    }
    if (orphans.length === 0) return;
    const name = this.projection.name;
    const added = await pool.transaction(async (tx) => {
      const cp = await this.#lockCheckpoint(tx);
      if (!cp) return 0;
      const rows = await tx.anyFirst(sql.type(NoticeRow)`
        INSERT INTO projection_orphans (projection, version, sequence, notice_sequence)
        SELECT ${name}, ${this.version}, s, n
        FROM unnest(${sql.array(orphans, 'int8')}, ${sql.array(notices, 'int8')}) AS x(s, n)
        WHERE s > ${cp.last_sequence}
        ON CONFLICT DO NOTHING
        RETURNING notice_sequence AS notice`);
      return new Set(rows).size;
    });
    this.#reorgs.preloaded += added;
    if (added > 0)
      this.#log.info({ notices: added }, 'reorg notices ahead: their orphans will be passed over');
  }

  /** A reorg notice ahead of the checkpoint that this session's preload did not see (one direct get). */
  async #noticeArrived(): Promise<boolean> {
    if (this.options.preloadReorgNotices === false) return false;
    const { jsm, streamName, decode } = this.options;
    // A failed look is no notice: the batch goes on, and the next batch looks again.
    const last = await jsm.direct
      .getMessage(streamName, { last_by_subj: `${decode.root}.control.reorg` })
      .catch(() => null);
    if (!last || last.seq <= this.#noticeSeen || last.seq <= this.checkpoint) return false;
    this.#log.info({ notice: last.seq, checkpoint: this.checkpoint }, 'reorg notice ahead: preloading it');
    return true;
  }

  /**
   * Recreates the durable consumer at checkpoint + 1 instead of trusting its ack state: a takeover starts at
   * once (no waiting for the dead holder's ack_wait), and the checkpoint in Postgres stays the only truth.
   */
  async #openConsumer(start: number) {
    const { js, jsm, streamName } = this.options;
    const durable = consumerName(this.projection.name, this.version);
    await jsm.consumers.delete(streamName, durable).catch(() => {});
    await jsm.consumers.add(streamName, {
      durable_name: durable,
      ack_policy: AckPolicy.All,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: start,
      replay_policy: ReplayPolicy.Instant,
      ack_wait: nanos(300_000),
      max_deliver: -1,
      max_ack_pending: 50_000,
    });
    const consumer = await js.consumers.get(streamName, durable);
    return consumer.consume({
      max_messages: Math.max(this.options.batchSize * 2, 256),
      abort_on_missing_resource: true,
      // A pull parked on a consumer leader whose NATS node died is noticed after two missed heartbeats
      // (expires/2 apart): 5 s instead of the default 30 s of standing still after a node loss.
      expires: 5_000,
    });
  }

  async #process(batch: JsMsg[]): Promise<Outcome> {
    const root = this.options.decode.root;
    let i = 0;
    while (i < batch.length) {
      let j = i;
      while (j < batch.length && !isReorg(batch[j]!.subject, root)) j++;
      if (j > i) {
        const outcome = await this.#applySegment(batch.slice(i, j));
        if (outcome !== 'ok') return outcome;
      }
      if (j < batch.length) {
        const outcome = await this.#applyReorg(batch[j]!);
        if (outcome !== 'ok') return outcome;
      }
      i = j + 1;
    }
    return 'ok';
  }

  async #applySegment(msgs: JsMsg[]): Promise<Outcome> {
    const { decode } = this.options;
    const items: Item[] = [];
    let poison: { sequence: number; reason: string } | null = null;
    for (const m of msgs) {
      if (m.seq <= this.checkpoint || this.#orphans.has(m.seq)) {
        items.push({ m });
        continue;
      }
      const kind = subjectKind(m.subject, decode.root);
      const event = kind.section === 'chain' || kind.section === 'app' || kind.section === 'derived';
      if (!event || !this.projection.accepts.has(kind.name)) {
        items.push({ m });
        continue;
      }
      try {
        const message = decode.decode(m.seq, m.subject, m.data);
        items.push({ m, message: message as Item['message'] });
      } catch (error) {
        poison = {
          sequence: m.seq,
          reason: `malformed message on ${m.subject}: ${(error as Error).message}`,
        };
        break;
      }
    }
    if (items.length > 0) {
      const outcome = await this.#commitOrIsolate(items);
      if (outcome !== 'ok') return outcome;
    }
    if (poison) return this.#fail(poison.sequence, poison.reason);
    return 'ok';
  }

  /** Applies the items in one transaction; when the handler refuses, finds the one message it refuses. */
  async #commitOrIsolate(items: Item[]): Promise<Outcome> {
    try {
      return await this.#commit(items);
    } catch (error) {
      if (isTransient(error) || this.#stopping) throw error;
      const applicable = items.filter((it) => it.message);
      if (applicable.length <= 1) {
        const culprit = applicable[0]?.m.seq ?? items[0]!.m.seq;
        return this.#fail(culprit, describe(error));
      }
      this.#log.warn({ err: error }, 'batch refused; applying its messages one by one to find the culprit');
      for (const item of items) {
        try {
          const outcome = await this.#commit([item]);
          if (outcome !== 'ok') return outcome;
        } catch (single) {
          if (isTransient(single)) throw single;
          return this.#fail(item.m.seq, describe(single));
        }
      }
      return 'ok';
    }
  }

  /**
   * Locks this generation's checkpoint row and, in the same round trip, sets the transaction's settings: its
   * commit does not wait for the WAL flush (safe: a commit lost in a PostgreSQL crash loses its checkpoint with
   * it, and every session starts from the checkpoint, never from the consumer's acks, so the batch is simply
   * applied again; it takes the fsync off every batch's latency). For a batch (`capture` given) also the
   * generation's schema first on the search path, and undo capture for the batch that starts right after the
   * checkpoint when near the head.
   */
  async #lockCheckpoint(tx: DatabaseTransactionConnection, capture?: boolean) {
    const name = this.projection.name;
    const batch =
      capture === undefined
        ? sql.fragment``
        : sql.fragment`,
            set_config('search_path', ${`${schemaOf(name, this.version)}, public`}, true),
            set_config('ghostnet.undo',
              CASE WHEN ${capture} THEN ${`${name}|${this.version}|`} || (c.last_sequence + 1) ELSE '' END, true)`;
    const holdsLease = this.#holdsLease();
    const cp = await tx.maybeOne(sql.type(CheckpointRow)`
      SELECT c.last_sequence, v.status, ${holdsLease} AS holds_lease,
        set_config('synchronous_commit', 'off', true) ${batch}
      FROM projection_checkpoints c
      JOIN projection_versions v ON v.projection = c.projection AND v.version = c.version
      WHERE c.projection = ${name} AND c.version = ${this.version}
      FOR UPDATE OF c`);
    if (cp && !cp.holds_lease) throw this.#leaseLost();
    return cp;
  }

  /** Whether this process's lease session holds the generation's lock, as Postgres sees it (the fence). */
  #holdsLease() {
    const fence = this.options.leaseFence;
    return fence
      ? sql.fragment`EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = ${fence.pid} AND ${leaseLockRow(fence.key)})`
      : sql.fragment`true`;
  }

  #leaseLost(): LeaseLost {
    const fence = this.options.leaseFence!;
    return new LeaseLost(`lease session (pid ${fence.pid}) no longer holds ${fence.key}`);
  }

  /**
   * Moves the checkpoint from `from` to the end of `slice`, when it is still at `from` and the generation not
   * retired, in one statement that also does what #lockCheckpoint does for a batch (the row lock, the fence,
   * the transaction's settings) and what the checkpoint write after the batch does (the undo batch, the commit
   * notice: both take effect only if the transaction commits). False, with nothing changed, otherwise.
   */
  async #advanceCheckpoint(
    tx: DatabaseTransactionConnection,
    capture: boolean,
    from: number,
    slice: Item[],
  ): Promise<boolean> {
    const name = this.projection.name;
    const first = slice[0]!.m.seq;
    const lastSeq = slice[slice.length - 1]!.m.seq;
    const holdsLease = this.#holdsLease();
    const row = await tx.maybeOne(sql.type(HoldsLeaseRow)`
      WITH advanced AS (
        UPDATE projection_checkpoints c
        SET last_sequence = ${lastSeq}, last_message_id = ${messageIdOf(slice[slice.length - 1]!.m)}, updated_at = now()
        FROM projection_versions v
        WHERE c.projection = ${name} AND c.version = ${this.version} AND c.last_sequence = ${from}
          AND v.projection = c.projection AND v.version = c.version AND v.status <> 'retired'
        RETURNING c.projection
      ), captured AS (
        INSERT INTO projection_undo_batches (projection, version, first_seq, last_seq)
        SELECT ${name}, ${this.version}, ${first}, ${lastSeq} FROM advanced WHERE ${capture}
      )
      SELECT ${holdsLease} AS holds_lease,
        set_config('synchronous_commit', 'off', true),
        set_config('search_path', ${`${schemaOf(name, this.version)}, public`}, true),
        set_config('ghostnet.undo', ${capture ? `${name}|${this.version}|${from + 1}` : ''}, true),
        pg_notify(${CHECKPOINT_CHANNEL}, ${`${name}:${this.version}:${lastSeq}`})
      FROM advanced`);
    if (row && !row.holds_lease) throw this.#leaseLost();
    return row !== null;
  }

  async #commit(items: Item[]): Promise<Outcome> {
    const { pool } = this.options;
    const name = this.projection.name;
    const started = performance.now();
    const last = items[items.length - 1]!.m;
    const capture = last.info.pending < this.options.undoWindow;
    const result = await pool.transaction(async (tx) => {
      // Nearly every batch directly follows the checkpoint this worker committed last: lock and advance the
      // checkpoint in one statement. When it has moved (another holder, a rewind), lock it, then look.
      let run = followingRun(items, this.checkpoint);
      const advanced =
        typeof run === 'object' &&
        (await this.#advanceCheckpoint(tx, capture, this.checkpoint, items.slice(...run)));
      if (!advanced) {
        const cp = await this.#lockCheckpoint(tx, capture);
        if (!cp || cp.status === 'retired') return { kind: 'gone' as const };
        run = followingRun(items, cp.last_sequence);
        // Nothing after the checkpoint, or a gap after it (another holder's consumer took messages).
        if (run === 'none') return { kind: 'skip' as const, checkpoint: cp.last_sequence };
        if (run === 'gap') return { kind: 'gap' as const, checkpoint: cp.last_sequence };
      }
      const [start, end] = run as [number, number];
      const slice = items.slice(start, end);
      const first = slice[0]!.m.seq;
      const lastSeq = slice[slice.length - 1]!.m.seq;
      const toApply: ProjectedMessage[] = [];
      for (const it of slice) {
        if (it.message && !this.#orphans.has(it.m.seq)) {
          toApply.push({
            sequence: it.m.seq,
            subject: it.m.subject,
            message: it.message,
            appendedAt: it.m.info.timestampNanos / 1e6,
          });
        }
      }
      if (toApply.length > 0) await this.projection.apply(tx, toApply);
      if (!advanced) {
        await tx.query(sql.unsafe`
          WITH captured AS (
            INSERT INTO projection_undo_batches (projection, version, first_seq, last_seq)
            SELECT ${name}, ${this.version}, ${first}, ${lastSeq} WHERE ${capture}
          )
          UPDATE projection_checkpoints
          SET last_sequence = ${lastSeq}, last_message_id = ${messageIdOf(slice[slice.length - 1]!.m)}, updated_at = now()
          WHERE projection = ${name} AND version = ${this.version}
          RETURNING pg_notify(${CHECKPOINT_CHANNEL}, ${`${name}:${this.version}:${lastSeq}`})`);
      }
      return {
        kind: end < items.length ? ('partial' as const) : ('ok' as const),
        checkpoint: lastSeq,
        first,
        applied: toApply.length,
        lastMsg: slice[slice.length - 1]!.m,
        appendedAt: slice.map((it) => it.m.info.timestampNanos / 1e6),
      };
    });
    if (result.kind === 'gone') {
      this.#log.info('generation retired or dropped; stopping');
      return 'gone';
    }
    if (result.kind === 'skip') {
      last.ack();
      this.checkpoint = result.checkpoint;
      return 'ok';
    }
    if (result.kind === 'gap') {
      this.#log.warn(
        { checkpoint: result.checkpoint, got: items[0]!.m.seq },
        'gap after the checkpoint; reopening',
      );
      this.checkpoint = result.checkpoint;
      return 'rewind';
    }
    result.lastMsg.ack();
    const committedAt = Date.now();
    const durationMs = performance.now() - started;
    this.checkpoint = result.checkpoint;
    this.#pending = result.lastMsg.info.pending;
    this.#batches++;
    this.#applied += result.applied;
    this.#lastBatch = { size: result.appendedAt.length, durationMs, at: committedAt };
    this.#batchMs.add(durationMs);
    const lagsMs = result.appendedAt.map((t) => committedAt - t);
    for (const lag of lagsMs) this.#lagMs.add(lag);
    this.options.onBatch?.({
      projection: this.projection.name,
      version: this.version,
      size: result.appendedAt.length,
      applied: result.applied,
      firstSequence: result.first,
      lastSequence: result.checkpoint,
      pending: this.#pending,
      durationMs,
      committedAt,
      lagsMs,
    });
    if (this.#batches % 200 === 0) await this.#pruneUndo();
    if (this.status === 'building' && this.#pending === 0) await this.#tryActivate();
    return result.kind === 'partial' ? 'rewind' : 'ok';
  }

  /**
   * A reorg notice: remember its orphans (never applied again). If any was applied, take the generation back
   * to before the first of them — with the undo log when it covers that far, else by emptying it — and
   * replay from there; the canonical events follow in the stream.
   */
  async #applyReorg(m: JsMsg): Promise<Outcome> {
    if (m.seq <= this.checkpoint) {
      m.ack();
      return 'ok';
    }
    let notice: ReorgNotice;
    try {
      const parsed = this.options.decode.decode(m.seq, m.subject, m.data);
      notice = ReorgNotice.parse(parsed);
    } catch (error) {
      return this.#fail(m.seq, `malformed reorg notice: ${(error as Error).message}`);
    }
    const name = this.projection.name;
    const capture = m.info.pending < this.options.undoWindow;
    const result = await this.options.pool.transaction(async (tx) => {
      const cp = await this.#lockCheckpoint(tx);
      if (!cp || cp.status === 'retired') return { kind: 'gone' as const };
      if (m.seq <= cp.last_sequence) return { kind: 'skip' as const, checkpoint: cp.last_sequence };
      if (m.seq !== cp.last_sequence + 1) return { kind: 'gap' as const, checkpoint: cp.last_sequence };
      const inserted = await tx.anyFirst(sql.type(SequenceRow)`
        INSERT INTO projection_orphans (projection, version, sequence, notice_sequence)
        SELECT ${name}, ${this.version}, s, ${m.seq} FROM unnest(${sql.array(notice.orphanedSequences, 'int8')}) AS s
        WHERE s < ${m.seq}
        ON CONFLICT DO NOTHING
        RETURNING sequence`);
      const applied = inserted.filter((s) => s <= cp.last_sequence);
      if (applied.length === 0) {
        if (capture) {
          await tx.query(sql.unsafe`
            INSERT INTO projection_undo_batches (projection, version, first_seq, last_seq)
            VALUES (${name}, ${this.version}, ${m.seq}, ${m.seq})`);
        }
        await tx.query(sql.unsafe`
          UPDATE projection_checkpoints
          SET last_sequence = ${m.seq}, last_message_id = ${messageIdOf(m)}, updated_at = now()
          WHERE projection = ${name} AND version = ${this.version}`);
        return { kind: 'ok' as const, inserted, checkpoint: m.seq };
      }
      const from = Math.min(...applied);
      const batches = await tx.any(sql.type(UndoBatchRow)`
        SELECT first_seq, last_seq FROM projection_undo_batches
        WHERE projection = ${name} AND version = ${this.version} AND last_seq >= ${from}
        ORDER BY first_seq`);
      const covered =
        batches.length > 0 &&
        batches[0]!.first_seq <= from &&
        batches[batches.length - 1]!.last_seq === cp.last_sequence &&
        batches.every((b, k) => k === 0 || b.first_seq === batches[k - 1]!.last_seq + 1);
      let checkpoint: number;
      if (covered) {
        const undoFrom = batches[0]!.first_seq;
        await tx.query(sql.unsafe`SELECT projection_undo_apply(${name}, ${this.version}, ${undoFrom})`);
        const schema = schemaOf(name, this.version);
        for (const [table, column] of Object.entries(this.projection.appendOnly ?? {})) {
          await tx.query(sql.unsafe`
            DELETE FROM ${sql.identifier([schema, table])} WHERE ${sql.identifier([column])} >= ${undoFrom}`);
        }
        checkpoint = batches[0]!.first_seq - 1;
      } else {
        const epoch = await tx.oneFirst(sql.type(EpochRow)`
          SELECT stream_epoch AS e FROM projection_checkpoints WHERE projection = ${name} AND version = ${this.version}`);
        await resetGenerationIn(tx, this.projection, this.version, this.status, epoch, true);
        checkpoint = 0;
      }
      await tx.query(sql.unsafe`
        UPDATE projection_checkpoints SET last_sequence = ${checkpoint}, last_message_id = NULL, updated_at = now()
        WHERE projection = ${name} AND version = ${this.version}`);
      return { kind: 'rewound' as const, inserted, checkpoint, undone: covered, from };
    });
    if (result.kind === 'gone') return 'gone';
    if (result.kind === 'skip' || result.kind === 'gap') {
      this.checkpoint = result.checkpoint;
      if (result.kind === 'skip') m.ack();
      return result.kind === 'skip' ? 'ok' : 'rewind';
    }
    for (const s of result.inserted) this.#orphans.add(s);
    this.checkpoint = result.checkpoint;
    if (result.kind === 'ok') {
      m.ack();
      return 'ok';
    }
    if (result.undone) this.#reorgs.undone++;
    else this.#reorgs.rebuilt++;
    this.#log.info(
      {
        notice: m.seq,
        firstOrphanApplied: result.from,
        replayFrom: result.checkpoint + 1,
        undoLog: result.undone,
      },
      result.undone
        ? 'reorg: orphaned events taken back with the undo log'
        : 'reorg: beyond the undo log; rebuilt',
    );
    return 'rewind';
  }

  async #pruneUndo(): Promise<void> {
    const below = this.checkpoint - this.options.undoRetain;
    if (below <= 0) return;
    await pruneUndo(this.options.pool, this.projection.name, this.version, below);
  }

  async #tryActivate(): Promise<void> {
    if (Date.now() - this.#lastActivationTry < 250) return;
    this.#lastActivationTry = Date.now();
    if (await activateIfCaughtUp(this.options.pool, this.projection.name, this.version)) {
      this.status = 'active';
      this.#log.info({ sequence: this.checkpoint }, 'rebuild caught up; readers switched to this generation');
    }
  }

  async #fail(sequence: number, reason: string): Promise<Outcome> {
    const error = new PoisonMessageError(this.projection.name, this.version, sequence, reason);
    this.failure = { sequence, reason };
    this.#log.error({ sequence, reason }, error.message);
    // Recorded before the worker counts as finished: the runner must not see a stopped worker whose
    // generation still looks healthy in Postgres, or it would start it again.
    await markFailed(this.options.pool, this.projection.name, this.version, sequence, reason).catch((e) =>
      this.#log.error({ err: e }, 'could not record the failure'),
    );
    this.state = 'failed';
    return 'failed';
  }
}

/**
 * The items that directly follow `checkpoint`, as [start, end) indexes: 'none' when every item is at or below
 * it, 'gap' when the first one above it does not follow it.
 */
function followingRun(items: Item[], checkpoint: number): [number, number] | 'none' | 'gap' {
  const start = items.findIndex((it) => it.m.seq > checkpoint);
  if (start < 0) return 'none';
  let end = start;
  while (end < items.length && items[end]!.m.seq === checkpoint + 1 + (end - start)) end++;
  return end === start ? 'gap' : [start, end];
}

function isReorg(subject: string, root: string): boolean {
  return subject === `${root}.control.reorg`;
}

function isLeaseLost(error: unknown): boolean {
  for (const e of errorChain(error)) if (e.name === 'LeaseLost') return true;
  return false;
}

/** Errors that say nothing about the message: retry the batch rather than call it poison. */
export function isTransient(error: unknown): boolean {
  if (isDatabaseUnavailable(error)) return true;
  for (const e of errorChain(error)) {
    // Serialization failures and deadlocks (class 40), the server's resource and operator classes (53, 57:
    // a statement timeout or cancel among them) and system errors (58) say nothing about the message either.
    if (typeof e.code === 'string' && /^(40|53|57|58)/.test(e.code)) return true;
    // LeaseLost is no verdict on the messages: it goes up to the loop, which stops the worker.
    if (/^(StatementTimeoutError|UnexpectedStateError|LeaseLost)$/.test(e.name ?? '')) return true;
  }
  return false;
}

function describe(error: unknown): string {
  const e = error as { message?: string; cause?: { message?: string } };
  const cause = e.cause?.message && e.cause.message !== e.message ? ` (${e.cause.message})` : '';
  return `${e.message ?? String(error)}${cause}`.slice(0, 1000);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
