import { type DatabasePool, sql } from '@ghostnet/db';
import { createSubjects, DerivedEnvelope, derivedId, parseStreamMessage } from '@ghostnet/events';
import type { Logger } from '@ghostnet/logger';
import { epochOf } from '@ghostnet/stream';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { z } from 'zod';
import { readConsistent } from '../read/context.ts';
import { LeaseManager } from '../runtime/lease.ts';
import { reorgNoticesAfter } from '../runtime/notices.ts';

/** The lease that lets one projector process publish at a time (the others stand by). */
export const SURVIVORS_LEASE = 'derived:ScanSurvivors';

export interface SurvivorsPublisherOptions {
  pool: DatabasePool;
  /** For the lease's own session. */
  databaseUrl: string;
  js: JetStreamClient;
  jsm: JetStreamManager;
  streamName: string;
  chainId: number;
  subjectPrefix?: string;
  logger: Logger;
  /** How often the game projection is looked at for newly finalized scans. */
  pollMs?: number;
  /**
   * Scans finalized at or below `sequence` are never published, until a first derived message is in the
   * stream (after that, the stream says where to go on). On a deployment with history, the stream's last
   * sequence skips it; absent or 0, every scan is derived from the start. `epoch` is the creation time of the
   * stream the sequence belongs to: in another stream (a recreated one) it means nothing, and a pass refuses
   * to publish rather than silently skip that stream's scans up to it.
   */
  from?: { sequence: number; epoch: string };
}

export interface SurvivorsStats {
  /** Holds the lease and publishes. */
  active: boolean;
  /** Source sequence of the last ScanSurvivors in the stream (0: none yet). */
  cursor: number;
  published: number;
  /** Publishes JetStream dropped as duplicates (another publisher, or a retry after a crash). */
  duplicates: number;
  lastError: string | null;
}

const SurvivorRow = z.object({
  sequence: z.number(),
  level: z.string(),
  address: z.string(),
  ghost_streak: z.number(),
});

/** Scans published per pass: bounds one pass's memory while a large backlog is worked off. */
const SCANS_PER_PASS = 20;

/**
 * Publishes `derived.ScanSurvivors`: for every finalized scan, the positions that survived it and their
 * streaks, which no chain event names (facts file). The game projection already records them, one SURVIVED
 * history row per survivor at the ScanFinalized's sequence, so the message is read from there once the
 * projection has applied that sequence.
 *
 * Exactly once, with no state of its own: the cursor is the source sequence of the last ScanSurvivors in the
 * stream (read again before every pass), and each message's id is derived from its source event, so a
 * publish repeated after a crash, or by a second process, is dropped by JetStream as a duplicate.
 */
export class SurvivorsPublisher {
  readonly #subjects;
  readonly #subject: string;
  readonly #reorgSubject: string;
  readonly #lease: LeaseManager;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;
  /** The game generation last found without the survivors index (warned once). */
  #warnedSchema: string | null = null;
  readonly #stats: SurvivorsStats = {
    active: false,
    cursor: 0,
    published: 0,
    duplicates: 0,
    lastError: null,
  };

  constructor(readonly options: SurvivorsPublisherOptions) {
    this.#subjects = createSubjects(options.chainId, options.subjectPrefix);
    this.#subject = this.#subjects.derived('ScanSurvivors');
    this.#reorgSubject = this.#subjects.reorg;
    this.#lease = new LeaseManager(options.databaseUrl, options.logger);
  }

  stats(): SurvivorsStats {
    return { ...this.#stats };
  }

  start(): void {
    const tick = () => {
      if (this.#stopped) return;
      this.#running = this.#pass().finally(() => {
        this.#running = null;
        if (!this.#stopped) this.#timer = setTimeout(tick, this.options.pollMs ?? 200);
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
    await this.#lease.release(SURVIVORS_LEASE);
    await this.#lease.close();
    this.#stats.active = false;
  }

  async #pass(): Promise<void> {
    try {
      this.#stats.active = await this.#lease.tryAcquire(SURVIVORS_LEASE);
      if (!this.#stats.active) return;
      await this.publishPending();
      this.#stats.lastError = null;
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      if (message !== this.#stats.lastError) {
        this.options.logger.error({ err: error }, 'survivors: publish pass failed; retrying');
      }
      this.#stats.lastError = message;
    }
  }

  #waitingForIndex(schema: string): void {
    if (this.#warnedSchema === schema) return;
    this.#warnedSchema = schema;
    this.options.logger.warn(
      { schema },
      'survivors: the live game generation predates game code v3; publishing resumes once v3 is live',
    );
  }

  /** Source sequence of the last ScanSurvivors in the stream, or the `from` sequence when there is none. */
  async cursor(): Promise<number> {
    const { jsm, streamName } = this.options;
    return (await this.#last(epochOf(await jsm.streams.info(streamName)))).source;
  }

  /** The last ScanSurvivors in the stream: its source's sequence and its own (0: there is none). */
  async #last(epoch: string): Promise<{ source: number; seq: number }> {
    const { jsm, streamName } = this.options;
    const last = await jsm.direct.getMessage(streamName, { last_by_subj: this.#subject });
    if (!last) return { source: this.#startAfter(epoch), seq: 0 };
    const message = DerivedEnvelope.parse(parseStreamMessage(last.data));
    return { source: message.source.sequence, seq: last.seq };
  }

  /** Where a stream without derived messages starts: after `from`'s sequence, if `from` is for this stream. */
  #startAfter(epoch: string): number {
    const from = this.options.from;
    if (!from || from.sequence === 0) return 0;
    if (from.epoch !== epoch) {
      throw new Error(
        `survivors start after sequence ${from.sequence} of the stream created at ${from.epoch}, but this stream ` +
          `was created at ${epoch}: set the start for this stream (DERIVED_FROM_SEQUENCE and DERIVED_FROM_EPOCH, ` +
          'from `ghostnet stream info`), or unset it to derive every scan',
      );
    }
    return from.sequence;
  }

  /** One pass: publishes the survivors of every scan the game projection has applied past the cursor. */
  async publishPending(): Promise<number> {
    let published = 0;
    // A stream recreated under us: until game has reset to the new one, its rows belong to the old one and
    // their sequences mean nothing here.
    const epoch = epochOf(await this.options.jsm.streams.info(this.options.streamName));
    const last = await this.#last(epoch);
    this.#stats.cursor = last.source;
    // Each publish expects the subject's last message to be the one this pass started from, then its own:
    // a publisher that lost its lease without noticing (frozen past the duplicate window) is refused by the
    // stream instead of appending survivors again.
    let lastSeq = last.seq;
    for (let after = last.source; ; ) {
      const scans = await this.#readScans(after, epoch);
      if (scans.length === 0) return published;
      const orphans = { sequences: new Set<number>(), noticesUpTo: after };
      for (const scan of scans) {
        if (this.#stopped || !this.#lease.holds(SURVIVORS_LEASE)) return published;
        after = scan.sequence;
        // A reorg notice in the stream took this finalize back; the game projection has not applied the notice
        // yet. Its survivors would go out after the REORG that should have removed them. Looked up again before
        // every publish (one direct get when no notice came), not once per pass: a notice appended while the
        // pass publishes would otherwise let the rest of the pass out.
        await this.#readOrphans(orphans);
        if (orphans.sequences.has(scan.sequence)) continue;
        lastSeq = await this.#publish(scan, lastSeq);
        this.#stats.cursor = scan.sequence;
        published++;
      }
    }
  }

  /**
   * Adds the sequences orphaned by the reorg notices stored after `noticesUpTo`, and moves it past them
   * (notices are rare: a few gets, one when none came).
   */
  async #readOrphans(orphans: { sequences: Set<number>; noticesUpTo: number }): Promise<void> {
    const { jsm, streamName } = this.options;
    for await (const m of reorgNoticesAfter(jsm, streamName, this.#reorgSubject, orphans.noticesUpTo)) {
      const notice = parseStreamMessage(m.data);
      if (notice.kind === 'reorg') for (const s of notice.orphanedSequences) orphans.sequences.add(s);
      orphans.noticesUpTo = m.seq;
    }
  }

  async #readScans(after: number, epoch: string) {
    const rows = await readConsistent(this.options.pool, ['game'], async (ctx) => {
      const game = ctx.active.get('game');
      if (!game || game.epoch !== epoch) return [];
      // A generation of game code v2 (live while v3 builds after an upgrade) has no index to find survivors
      // by sequence: reading it every pass would scan the whole history. Wait for v3.
      const indexed = await ctx.tx.exists(sql.unsafe`
        SELECT 1 FROM pg_indexes WHERE schemaname = ${game.schema} AND indexname = 'position_history_survivors'`);
      if (!indexed) {
        this.#waitingForIndex(game.schema);
        return [];
      }
      const history = ctx.table('game', 'position_history');
      return ctx.tx.any(sql.type(SurvivorRow)`
        WITH scans AS (
          SELECT DISTINCT sequence FROM ${history}
          WHERE kind = 'SURVIVED' AND sequence > ${after}
          ORDER BY sequence LIMIT ${SCANS_PER_PASS}
        )
        SELECT h.sequence, h.level::text AS level, h.address::text AS address, h.ghost_streak
        FROM ${history} h JOIN scans USING (sequence)
        WHERE h.kind = 'SURVIVED'
        ORDER BY h.sequence, h.address`);
    });
    const scans: { sequence: number; level: string; survivors: { address: string; streak: number }[] }[] = [];
    for (const row of rows) {
      let scan = scans[scans.length - 1];
      if (scan?.sequence !== row.sequence) {
        scan = { sequence: row.sequence, level: row.level, survivors: [] };
        scans.push(scan);
      }
      scan.survivors.push({ address: row.address, streak: row.ghost_streak });
    }
    return scans;
  }

  /** Publishes one scan's survivors after the subject's message `lastSeq`; returns the new one's sequence. */
  async #publish(
    scan: { sequence: number; level: string; survivors: { address: string; streak: number }[] },
    lastSeq: number,
  ): Promise<number> {
    const { js, jsm, streamName, chainId, logger } = this.options;
    const stored = await jsm.direct.getMessage(streamName, { seq: scan.sequence });
    const finalized = stored ? parseStreamMessage(stored.data) : null;
    if (
      finalized?.kind !== 'chain' ||
      finalized.name !== 'ScanFinalized' ||
      finalized.args.level !== scan.level
    ) {
      // The projection wrote SURVIVED rows at a sequence that is not this level's ScanFinalized: a defect
      // upstream. Publishing would put it in every feed; stopping here keeps the cursor on it, loudly.
      throw new Error(`sequence ${scan.sequence} holds survivors but is not a ${scan.level} ScanFinalized`);
    }
    const expected = Number(finalized.enrichment.survivors);
    if (expected !== scan.survivors.length) {
      // SurvivorsUpdated (the chain's count) disagrees with the positions the projection holds alive.
      logger.error(
        { sequence: scan.sequence, level: scan.level, chain: expected, projected: scan.survivors.length },
        'survivors: the projected survivors differ from the chain count',
      );
    }
    const message = DerivedEnvelope.parse({
      v: 1,
      kind: 'derived',
      name: 'ScanSurvivors',
      id: derivedId('ScanSurvivors', finalized.id),
      chainId,
      source: { id: finalized.id, sequence: scan.sequence },
      occurredAt: finalized.block.timestamp,
      args: { level: scan.level, scanId: finalized.args.scanId, survivors: scan.survivors },
    });
    const ack = await js.publish(this.#subject, JSON.stringify(message), {
      // The source's sequence too: a reorg that flips back appends the same finalize again (same envelope id)
      // at a new sequence, and under the message id of the copy it replaces JetStream would drop the new
      // survivors for its whole duplicate window. A re-publish for the same source still has the same id.
      msgID: `${message.id}@${scan.sequence}`,
      // 0 when the subject is empty: the stream refuses this if someone published one meanwhile.
      expect: { streamName, lastSubjectSequence: lastSeq },
    });
    if (ack.duplicate) this.#stats.duplicates++;
    else this.#stats.published++;
    logger.debug(
      { sequence: ack.seq, source: scan.sequence, level: scan.level, survivors: scan.survivors.length },
      'survivors published',
    );
    return ack.seq;
  }
}
