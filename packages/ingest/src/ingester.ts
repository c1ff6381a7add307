import { createSubjects, LogDecodeError, MalformedMessageError, type StreamMessage } from '@ghostnet/events';
import type { Logger } from '@ghostnet/logger';
import { ensureStream, streamConfigFor } from '@ghostnet/stream';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { AppendConflict, Appender } from './append/appender.ts';
import { backoffMs, RangeSizer } from './historical/rangeSizer.ts';
import { HeadWatcher } from './realtime/heads.ts';
import { ReorgTooDeep, resyncFromStream } from './reorg/resync.ts';
import { createChainReader } from './rpc/chainReader.ts';
import { createRpcClient, RpcError } from './rpc/client.ts';
import { createEnvelopeBuilder, INDEXED_TOPICS, type VictimStakes } from './sync/envelopes.ts';
import { createJackpotReader } from './sync/jackpot.ts';
import {
  type Anchor,
  fetchSegment,
  NotYetAvailable,
  type Position,
  ReorgDetected,
  type Segment,
} from './sync/segment.ts';
import { createVictimStakeReader } from './sync/victimStakes.ts';

export interface IngesterOptions {
  rpcUrl: string;
  /** WebSocket RPC for newHeads; without it the ingester polls. */
  wsUrl?: string;
  chainId: number;
  addresses: { GhostCore: string; TraceScan: string };
  /** First block to read when the stream holds nothing (the contracts' deploy block). */
  startBlock: number;
  nc: NatsConnection;
  streamName: string;
  /** Replicas when the ingester creates the stream; default from infra/nats/stream.json. */
  streamReplicas?: number;
  subjectPrefix?: string;
  /** Blocks to stay behind the head (0 on MegaETH). */
  confirmations?: number;
  /** Deeper reorgs stop the ingester instead of rewriting history. */
  maxReorgDepth?: number;
  pollIntervalMs?: number;
  rpcTimeoutMs?: number;
  /** How long start() waits for the RPC to answer eth_chainId through 5xx, 429s and timeouts (default 120 s). */
  startupRpcWaitMs?: number;
  /** Backfill through eth_getLogsWithCursor when the RPC offers it (default); false: eth_getLogs only. */
  logsWithCursor?: boolean;
  range?: { initial: number; min: number; max: number; targetLogs: number };
  /** Messages published and not yet acknowledged, at most. */
  maxInFlight?: number;
  /** Log ranges fetched ahead of the one being appended during backfill. */
  fetchAhead?: number;
  /** Segments whose appends may await their acks while the next one is built. */
  appendsAhead?: number;
  victimStakes?: VictimStakes;
  logger: Logger;
}

export interface IngesterStats {
  /** retrying: the last step failed (RPC, data, NATS) and is retried; back to backfill/live on the next success. */
  state: 'starting' | 'backfill' | 'live' | 'retrying' | 'stopped' | 'failed';
  chainHead: number | null;
  lastBlock: number | null;
  lagBlocks: number | null;
  lagSeconds: number | null;
  eventsAppended: number;
  /** Appended events per second, smoothed over roughly the last ten seconds. */
  eventsPerSecond: number;
  reorgs: number;
  rpcErrors: number;
  /** Appends refused because another writer appended chain events or reorg notices (a second ingester). */
  conflicts: number;
  /** Appends refused only because the API or the projector appended in between (resynced at once). */
  interleaved: number;
  lastSequence: number;
  streamDrift: { field: string; expected: unknown; actual: unknown }[];
  /** The method log ranges go through; null until the first range query answered. */
  logMethod: 'eth_getLogsWithCursor' | 'eth_getLogs' | null;
  error: string | null;
}

export interface Ingester {
  /** Ensures the stream, then runs until stop() or a fatal error (which rejects `done`). */
  start(): Promise<void>;
  stop(): Promise<void>;
  stats(): IngesterStats;
  done: Promise<void>;
}

export function createIngester(options: IngesterOptions): Ingester {
  const logger = options.logger;
  const subjects = createSubjects(options.chainId, options.subjectPrefix);
  const rpc = createRpcClient(options.rpcUrl, { timeoutMs: options.rpcTimeoutMs ?? 10_000 });
  const reader = createChainReader(
    rpc,
    [options.addresses.GhostCore, options.addresses.TraceScan],
    INDEXED_TOPICS,
    {
      logsWithCursor: options.logsWithCursor,
      onLogMethod: (method) =>
        logger.info(
          { method },
          method === 'eth_getLogs'
            ? 'log ranges through eth_getLogs (the RPC has no eth_getLogsWithCursor, or it is turned off)'
            : 'log ranges through eth_getLogsWithCursor (the RPC pages large ranges itself)',
        ),
    },
  );
  /**
   * The RPC's chain id, waited for: a node that is restarting or a flaky provider (5xx, 429, timeouts) at the
   * moment the ingester starts delays it instead of failing the start (a crash loop under an orchestrator).
   * Unparseable answers are retried too. A wrong chain id or an unsupported method fails at once; so does a
   * node that does not answer for `startupRpcWaitMs`.
   */
  async function startupChainId(): Promise<number> {
    const deadline = Date.now() + (options.startupRpcWaitMs ?? 120_000);
    for (let attempt = 0; ; attempt++) {
      try {
        return await reader.chainId();
      } catch (error) {
        const passing = error instanceof RpcError && error.kind !== 'range' && error.kind !== 'unsupported';
        if (!passing || Date.now() > deadline) throw error;
        logger.warn({ err: error, attempt }, 'RPC not answering eth_chainId yet: retrying');
        await new Promise((r) => setTimeout(r, backoffMs(attempt, 250, 5_000)));
      }
    }
  }
  /**
   * One line per appended event at debug level (the spec's "Event indexed"): what it was, where in the chain
   * and the stream, whom it names, and how long after its block it was stored.
   */
  function logIndexed(envelopes: readonly StreamMessage[], sequences: readonly number[]): void {
    const now = Date.now();
    envelopes.forEach((e, i) => {
      if (e.kind !== 'chain') return;
      const args = e.args as { user?: string; victim?: string };
      logger.debug(
        {
          eventType: e.name,
          sequence: sequences[i],
          blockNumber: e.block.number,
          txHash: e.tx.hash,
          logIndex: e.logIndex,
          user: args.user ?? args.victim ?? null,
          latencyMs: now - e.block.timestamp,
        },
        'event indexed',
      );
    });
  }
  const confirmations = options.confirmations ?? 0;
  const maxReorgDepth = options.maxReorgDepth ?? 64;
  const heads = new HeadWatcher({
    wsUrl: options.wsUrl,
    pollIntervalMs: options.pollIntervalMs ?? (options.wsUrl ? 1_000 : 250),
    logger,
  });
  const sizer = new RangeSizer(options.range);
  const build = createEnvelopeBuilder({
    chainId: options.chainId,
    addresses: options.addresses,
    victimStakes: options.victimStakes ?? createVictimStakeReader(reader, options.addresses.GhostCore),
    jackpot: createJackpotReader(reader, options.addresses.GhostCore),
  });
  const stats: IngesterStats = {
    state: 'starting',
    chainHead: null,
    lastBlock: null,
    lagBlocks: null,
    lagSeconds: null,
    eventsAppended: 0,
    eventsPerSecond: 0,
    reorgs: 0,
    rpcErrors: 0,
    conflicts: 0,
    interleaved: 0,
    lastSequence: 0,
    streamDrift: [],
    logMethod: null,
    error: null,
  };
  /**
   * True when every message after `after` (at most a few) is on an app or derived subject: nobody else writes
   * chain events or reorg notices. Anything unreadable counts as another writer.
   */
  const onlyOthersAfter = async (after: number): Promise<boolean> => {
    try {
      const last = (await appender_jsm.streams.info(options.streamName)).state.last_seq;
      if (last <= after || last - after > 20) return false;
      for (let seq = after + 1; seq <= last; seq++) {
        const m = await appender_jsm.streams.getMessage(options.streamName, { seq });
        if (!m) return false;
        if (
          !m.subject.startsWith(`${subjects.root}.app.`) &&
          !m.subject.startsWith(`${subjects.root}.derived.`)
        ) {
          return false;
        }
      }
      return true;
    } catch {
      return false;
    }
  };
  const rate = new RateMeter();
  let stopped = false;
  let resolveDone!: () => void;
  let rejectDone!: (e: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  done.catch(() => {});
  let loop: Promise<void> | null = null;

  // Block 0 is never read: genesis runs no transactions, so it holds no logs, and no reorg replaces it. That
  // makes it a real block to anchor the first range on and to name as the common ancestor when a reorg orphans
  // every published event (a notice's ancestor must be a block: the stream keeps whatever is appended).
  const firstBlock = Math.max(options.startBlock, 1);

  /** The block the first range extends when the stream holds nothing canonical: the one before firstBlock. */
  async function genesis(): Promise<Anchor> {
    const header = await reader.header(firstBlock - 1);
    if (!header) throw new NotYetAvailable(`block ${firstBlock - 1} before the start block not available`);
    return { number: header.number, hash: header.hash };
  }

  /** Block time (ms) of the last appended block, for lagSeconds. */
  let lastBlockTimeMs: number | null = null;
  /**
   * Lag as of the newest head seen, on every pass, failing ones included: an ingester that cannot append must
   * show its lag growing (the IngesterLagging alert), not the value of its last success.
   */
  function updateLag(): void {
    if (heads.latest !== null) stats.chainHead = Math.max(stats.chainHead ?? 0, heads.latest);
    if (stats.chainHead === null) return;
    const through = stats.lastBlock ?? firstBlock - 1;
    stats.lagBlocks = Math.max(0, stats.chainHead - through);
    if (stats.chainHead - confirmations <= through) stats.lagSeconds = 0;
    else if (lastBlockTimeMs !== null) stats.lagSeconds = Math.max(0, (Date.now() - lastBlockTimeMs) / 1000);
  }

  const fetchAhead = options.fetchAhead ?? 4;
  const appendsAhead = options.appendsAhead ?? 2;

  async function run(appender: Appender): Promise<void> {
    let needResync = true;
    let attempt = 0;
    let anchor: Anchor | null = null;
    let nextFrom = firstBlock;
    let skip: Position | null = null;
    let expectFromHash: string | undefined;
    // Ranges being fetched ahead of the one being built, each extending the one before it (its anchor is the
    // previous range's end), so the RPC works while this process decodes and publishes.
    let ahead: { from: number; to: number; promise: Promise<Segment> }[] = [];
    // Earlier segments' appends, still waiting for acks while this one is fetched and dispatched.
    let inflight: Promise<void>[] = [];
    const settle = async (keep = 0) => {
      while (inflight.length > keep) await inflight.shift()!;
    };
    const discard = async () => {
      ahead = [];
      const pending = inflight;
      inflight = [];
      for (const p of pending) await p.catch(() => {});
    };

    while (!stopped) {
      try {
        if (needResync) {
          await discard();
          await appender.sync();
          const result = await resyncFromStream({
            jsm: appender_jsm,
            streamName: options.streamName,
            subjects,
            chainId: options.chainId,
            maxReorgDepth,
            isCanonical: async (number, hash) => {
              const header = await reader.header(number);
              // A node without the block is behind (or a failover target still syncing), not proof of a reorg.
              if (!header)
                throw new NotYetAvailable(`block ${number} not available to check the stream against`);
              return header.hash === hash;
            },
            genesis,
          });
          if (result.notice) {
            await appender.append([result.notice]);
            stats.reorgs++;
            logger.warn(
              {
                ancestor: result.notice.commonAncestor,
                depth: result.notice.depth,
                orphaned: result.notice.orphanedSequences.length,
              },
              'reorg: orphaned events named in a notice; canonical events follow',
            );
          }
          const position = result.position;
          if (position === null) {
            anchor = await genesis();
            nextFrom = firstBlock;
            skip = null;
            expectFromHash = undefined;
          } else if (position.afterLogIndex === null) {
            anchor = position;
            nextFrom = position.number + 1;
            skip = null;
            expectFromHash = undefined;
          } else {
            // Part of this block is in the stream: read it again, skip what is there, and make sure it is
            // still the same block.
            const header = await reader.header(position.number);
            if (!header) throw new NotYetAvailable(`block ${position.number} not available`);
            anchor = position.number === 0 ? null : { number: position.number - 1, hash: header.parentHash };
            nextFrom = position.number;
            skip = position;
            expectFromHash = position.hash;
          }
          stats.lastBlock = position?.number ?? null;
          lastBlockTimeMs = position?.timestamp ?? null;
          needResync = false;
        }

        const head = heads.latest !== null && heads.latest >= nextFrom ? heads.latest : await reader.head();
        stats.chainHead = Math.max(stats.chainHead ?? 0, head);
        updateLag();
        const target = head - confirmations;
        if (nextFrom > target) {
          await settle();
          stats.state = 'live';
          updateLag();
          await heads.wait();
          continue;
        }

        const to = Math.min(target, nextFrom + sizer.size - 1);
        const t0 = performance.now();
        let segment: Segment;
        if (ahead[0]?.from === nextFrom) segment = await ahead.shift()!.promise;
        else {
          ahead = [];
          segment = await fetchSegment(reader, {
            from: nextFrom,
            to,
            anchor,
            expectFromHash,
            knownHeader: heads.header(nextFrom),
          });
        }
        const t1 = performance.now();
        sizer.observed(segment.to - segment.from + 1, segment.logs.length);

        // Fetch the next ranges while this one is built and appended: backfill is bound by whichever is slower.
        let tail: { to: number; promise: Promise<Segment> } = ahead.at(-1) ?? {
          to: segment.to,
          promise: Promise.resolve(segment),
        };
        while (ahead.length < fetchAhead && tail.to < target) {
          const from = tail.to + 1;
          const rangeTo = Math.min(target, from + sizer.size - 1);
          const promise = tail.promise.then((previous) =>
            fetchSegment(reader, { from, to: rangeTo, anchor: previous.end }),
          );
          promise.catch(() => {});
          tail = { to: rangeTo, promise };
          ahead.push({ from, to: rangeTo, promise });
        }

        const envelopes = await build(segment, skip);
        const t2 = performance.now();
        // Only once a step succeeded: a loop of failing fetches must read 'retrying', not 'live'.
        stats.state = target - segment.from > 2 ? 'backfill' : 'live';

        const appended = appender.append(envelopes).then(({ sequences }) => {
          if (logger.isLevelEnabled('debug')) logIndexed(envelopes, sequences);
          logger.debug(
            {
              from: segment.from,
              to: segment.to,
              events: envelopes.length,
              fetchMs: Math.round(t1 - t0),
              buildMs: Math.round(t2 - t1),
              appendMs: Math.round(performance.now() - t2),
            },
            'segment appended',
          );
          countAppended();
          stats.lastSequence = appender.lastSequence;
          stats.lastBlock = segment.to;
          lastBlockTimeMs = segment.end.timestamp * 1000;
          updateLag();
        });
        appended.catch(() => {});
        inflight.push(appended);
        await settle(appendsAhead);
        anchor = segment.end;
        nextFrom = segment.to + 1;
        skip = null;
        expectFromHash = undefined;
        attempt = 0;
      } catch (error) {
        await discard();
        if (stopped) break;
        if (error instanceof ReorgTooDeep) throw error;
        updateLag();
        if (error instanceof ReorgDetected) {
          logger.warn(
            { reason: error.message },
            'chain moved under a published block: resyncing from the stream',
          );
          needResync = true;
          continue;
        }
        if (error instanceof AppendConflict) {
          // The API's outbox and the projector's derived events share the stream: each one between two of our
          // appends breaks the append's expected last message. That needs a resync, not a back-off.
          if (await onlyOthersAfter(appender.lastSequence)) {
            stats.interleaved++;
            logger.debug('app or derived messages appended between ours: resyncing');
            needResync = true;
            continue;
          }
          stats.conflicts++;
          logger.warn({ reason: error.message }, 'stream changed under us: resyncing from the stream');
          needResync = true;
          await sleep(50 + Math.random() * 200);
          continue;
        }
        if (error instanceof RpcError && error.kind === 'range') {
          sizer.tooLarge();
          logger.info({ size: sizer.size }, 'RPC refused the log range: splitting');
          continue;
        }
        stats.rpcErrors++;
        stats.state = 'retrying';
        // Capped low: after a NATS or RPC outage the ingester should be appending again within ~2 s of recovery.
        const delay = backoffMs(attempt++, 100, 2_000);
        const level = attempt > 5 ? 'error' : 'warn';
        logger[level](
          { err: (error as Error).message, kind: (error as { kind?: string }).kind, retryInMs: delay },
          error instanceof LogDecodeError
            ? 'log did not decode: retrying, nothing published'
            : error instanceof MalformedMessageError
              ? 'an envelope does not match the stream schema: retrying, nothing published'
              : 'retrying',
        );
        // Anything not understood might have left the stream ahead of what we think: resync before writing.
        if (!(error instanceof RpcError) && !(error instanceof NotYetAvailable)) needResync = true;
        await sleep(delay);
      }
    }
  }

  let appender: Appender | null = null;
  /** Chain events the stream acknowledged, whole segments or not (a conflict can cut one short). */
  function countAppended(): void {
    const landed = appender?.chainEventsAppended ?? 0;
    if (landed > stats.eventsAppended) {
      rate.add(landed - stats.eventsAppended);
      stats.eventsAppended = landed;
    }
  }

  let appender_jsm: Awaited<ReturnType<typeof jetstreamManager>>;

  return {
    done,
    stats: () => {
      countAppended();
      return { ...stats, eventsPerSecond: rate.perSecond(), logMethod: reader.logMethod() };
    },
    async start() {
      appender_jsm = await jetstreamManager(options.nc);
      const ensured = await ensureStream(
        appender_jsm,
        streamConfigFor({
          name: options.streamName,
          subjectRoot: subjects.root,
          replicas: options.streamReplicas,
        }),
      );
      stats.streamDrift = ensured.drift;
      if (ensured.drift.length > 0) {
        logger.error(
          { drift: ensured.drift, stream: options.streamName },
          'stream config drift: not changing it, fix it with the NATS CLI',
        );
      }
      if (ensured.created)
        logger.info({ stream: options.streamName, subjects: ensured.info.config.subjects }, 'stream created');
      const rpcChainId = await startupChainId();
      if (rpcChainId !== options.chainId) {
        throw new Error(`RPC serves chain ${rpcChainId}, configured CHAIN_ID is ${options.chainId}`);
      }
      appender = new Appender(
        jetstream(options.nc),
        appender_jsm,
        options.streamName,
        subjects,
        options.maxInFlight,
      );
      heads.start();
      loop = run(appender)
        .then(() => {
          stats.state = 'stopped';
          resolveDone();
        })
        .catch((error: Error) => {
          stats.state = 'failed';
          stats.error = error.message;
          logger.fatal({ err: error.message }, 'ingester stopped');
          heads.stop();
          rejectDone(error);
        });
    },
    async stop() {
      stopped = true;
      heads.stop();
      await loop?.catch(() => {});
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Exponentially weighted events/s; reading it decays the rate so that an idle ingester reads near 0. */
class RateMeter {
  #rate = 0;
  #last = performance.now();
  #pending = 0;
  add(count: number): void {
    this.#pending += count;
    this.#tick();
  }
  perSecond(): number {
    this.#tick();
    return Math.round(this.#rate);
  }
  #tick(): void {
    const now = performance.now();
    const dt = (now - this.#last) / 1000;
    if (dt < 0.05) return;
    const alpha = 1 - Math.exp(-dt / 10);
    this.#rate += alpha * (this.#pending / dt - this.#rate);
    this.#pending = 0;
    this.#last = now;
  }
}
