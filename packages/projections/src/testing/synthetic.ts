import { createHash } from 'node:crypto';
import {
  type ChainEnvelope,
  type ChainEventName,
  CONTRACT_OF,
  createSubjects,
  type LevelName,
  type ReorgNotice,
  type StreamMessage,
} from '@ghostnet/events';
import type { JetStreamClient } from '@nats-io/jetstream';

/**
 * A deterministic stream of GHOSTNET chain events that obey GhostCore's rules (cull at capacity with an 80%
 * penalty, victims alive at the scanned level, streaks on finalize, the reset's floors), for tests and the
 * benchmark while no chain is involved. Not a substitute for the simulator: it checks the projector's
 * plumbing, the simulator checks its rules against the contracts.
 */

const LEVELS: LevelName[] = ['VAULT', 'MAINFRAME', 'SUBNET', 'DARKNET', 'BLACK_ICE'];
const MIN_STAKE: Record<LevelName, bigint> = {
  VAULT: 10n * 10n ** 18n,
  MAINFRAME: 25n * 10n ** 18n,
  SUBNET: 50n * 10n ** 18n,
  DARKNET: 100n * 10n ** 18n,
  BLACK_ICE: 250n * 10n ** 18n,
};
const GHOST_CORE = '0x5fbdb2315678afecb367f032d93f642f64180aa3';
const TRACE_SCAN = '0xe7f1725e7734ce288f8367e1bb143e90bb3f0512';

function playerAddress(i: number): string {
  return `0xfeed${(i + 1).toString(16).padStart(36, '0')}`;
}

type Ev = { name: ChainEventName; args: Record<string, unknown>; enrichment?: unknown };

export interface ModelPosition {
  level: LevelName;
  amount: bigint;
  alive: boolean;
  status: 'active' | 'traced' | 'culled';
  streak: number;
  entryAt: number;
}

interface State {
  rng: number;
  block: number;
  time: number;
  scanId: number;
  positions: Map<string, ModelPosition>;
  /** Alive addresses per level, in GhostCore's swap-and-pop order (the first is culled). */
  lists: Map<LevelName, string[]>;
  nextScan: Map<LevelName, number>;
  /** Players without a position, in no order. */
  free: string[];
}

export interface SyntheticOptions {
  chainId?: number;
  seed?: number;
  players?: number;
  /** Positions per level before culling starts (small, to exercise culls). */
  capacity?: number;
  startTime?: number;
  /** Mix in system resets (about one per this many transactions; 0 = never). */
  resetEvery?: number;
  /**
   * Chain seconds per transaction (default 1.5, randomised ×⅔…×1⅓). Each level scans on its interval of chain
   * time (4 h … 30 min), as on chain: a larger value means more scans per event.
   */
  secondsPerTx?: number;
}

const INTERVAL_MS: Record<LevelName, number> = {
  VAULT: 4 * 3_600_000,
  MAINFRAME: 3 * 3_600_000,
  SUBNET: 2 * 3_600_000,
  DARKNET: 3_600_000,
  BLACK_ICE: 1_800_000,
};

export class SyntheticGame {
  readonly chainId: number;
  readonly players: string[];
  readonly capacity: number;
  /** May change between takes, like msPerTx. */
  resetEvery: number;
  /** Chain ms per transaction; may change between takes (a benchmark sets the chain clock to wall-clock pace). */
  msPerTx: number;
  #fork: string;
  #s: State;

  constructor(options: SyntheticOptions = {}) {
    this.chainId = options.chainId ?? 31337;
    this.capacity = options.capacity ?? 40;
    this.resetEvery = options.resetEvery ?? 0;
    this.msPerTx = (options.secondsPerTx ?? 1.5) * 1000;
    this.players = Array.from({ length: options.players ?? 150 }, (_, i) => playerAddress(i));
    this.#fork = 'main';
    this.#s = {
      rng: options.seed ?? 1,
      block: 100,
      time: options.startTime ?? Date.UTC(2024, 0, 20, 12),
      scanId: 0,
      positions: new Map(),
      lists: new Map(LEVELS.map((l) => [l, []])),
      nextScan: new Map(
        LEVELS.map((l) => [l, (options.startTime ?? Date.UTC(2024, 0, 20, 12)) + INTERVAL_MS[l]]),
      ),
      free: [...this.players],
    };
  }

  get positions(): ReadonlyMap<string, ModelPosition> {
    return this.#s.positions;
  }

  /** An independent copy from here on (another fork of the chain: other block hashes, another future). */
  fork(name: string, seed: number): SyntheticGame {
    const copy = new SyntheticGame({
      chainId: this.chainId,
      capacity: this.capacity,
      resetEvery: this.resetEvery,
      secondsPerTx: this.msPerTx / 1000,
      players: 0,
    });
    copy.players.push(...this.players);
    copy.#fork = name;
    copy.#s = {
      rng: seed,
      block: this.#s.block,
      time: this.#s.time,
      scanId: this.#s.scanId,
      positions: new Map([...this.#s.positions].map(([a, p]) => [a, { ...p }])),
      lists: new Map([...this.#s.lists].map(([l, list]) => [l, [...list]])),
      nextScan: new Map(this.#s.nextScan),
      free: [...this.#s.free],
    };
    return copy;
  }

  #rand(): number {
    // mulberry32
    this.#s.rng = (this.#s.rng + 0x6d2b79f5) | 0;
    let t = this.#s.rng;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  #pick<T>(items: readonly T[]): T | undefined {
    return items.length ? items[Math.floor(this.#rand() * items.length)] : undefined;
  }

  #hash(what: string): string {
    return `0x${createHash('sha256').update(`${this.#fork}:${what}`).digest('hex')}`;
  }

  /** Events of the next block (one transaction). Never empty. */
  nextBlock(): ChainEnvelope[] {
    for (;;) {
      const s = this.#s;
      s.block += 1;
      s.time += Math.floor(this.msPerTx * (2 / 3 + (this.#rand() * 2) / 3));
      const events = this.#transaction();
      if (events.length) return events;
    }
  }

  /** At least `count` events. */
  take(count: number): ChainEnvelope[] {
    const out: ChainEnvelope[] = [];
    while (out.length < count) out.push(...this.nextBlock());
    return out;
  }

  #transaction(): ChainEnvelope[] {
    const due = LEVELS.find((l) => this.#s.nextScan.get(l)! <= this.#s.time);
    if (due) {
      this.#s.nextScan.set(due, this.#s.time + INTERVAL_MS[due]);
      if (this.#s.lists.get(due)!.length > 0) return this.#scan(due);
    }
    const r = this.#rand();
    const alive = LEVELS.reduce((n, l) => n + this.#s.lists.get(l)!.length, 0);
    if (this.resetEvery > 0 && this.#rand() < 1 / this.resetEvery && alive) return this.#reset();
    if (r < 0.4 || alive < 5) return this.#jackIn();
    if (r < 0.58) return this.#addStake(this.#pickAlive(alive));
    if (r < 0.74) return this.#extract(this.#pickAlive(alive));
    if (r < 0.94) return this.#boost(this.#pickAlive(alive));
    return this.#emissions();
  }

  #emit(events: Ev[], from: string): ChainEnvelope[] {
    const s = this.#s;
    const blockHash = this.#hash(`block:${s.block}`);
    const txHash = this.#hash(`tx:${s.block}`);
    return events.map((e, logIndex) => {
      const contract = CONTRACT_OF[e.name];
      return {
        v: 1,
        kind: 'chain',
        id: `${this.chainId}:${blockHash}:${logIndex}`,
        chainId: this.chainId,
        block: { number: s.block, hash: blockHash, timestamp: s.time },
        tx: { hash: txHash, index: 0, from },
        logIndex,
        contract,
        address: contract === 'GhostCore' ? GHOST_CORE : TRACE_SCAN,
        name: e.name,
        args: e.args,
        ...(e.enrichment ? { enrichment: e.enrichment } : {}),
        observedAt: s.time + 5,
      } as unknown as ChainEnvelope;
    });
  }

  #jackIn(): ChainEnvelope[] {
    const s = this.#s;
    // Dead and culled addresses never come back: new players keep arriving.
    const user = this.#takeFree() ?? this.#newPlayer();
    const level = this.#pick(LEVELS)!;
    const amount =
      MIN_STAKE[level] * BigInt(1 + Math.floor(this.#rand() * 20)) + BigInt(Math.floor(this.#rand() * 1e6));
    const events: Ev[] = [];
    const list = s.lists.get(level)!;
    if (list.length >= this.capacity) {
      const victim = list[0]!;
      const pos = s.positions.get(victim)!;
      const penalty = (pos.amount * 8000n) / 10_000n;
      pos.alive = false;
      pos.status = 'culled';
      this.#remove(level, victim);
      events.push({
        name: 'PositionCulled',
        args: {
          victim,
          penaltyAmount: penalty.toString(),
          returnedAmount: (pos.amount - penalty).toString(),
          newEntrant: user,
        },
      });
    }
    s.positions.set(user, { level, amount, alive: true, status: 'active', streak: 0, entryAt: s.time });
    list.push(user);
    events.push({
      name: 'JackedIn',
      args: { user, amount: amount.toString(), level, newTotal: amount.toString() },
    });
    return this.#emit(events, user);
  }

  /** A random player without a position (never jacked in, or extracted), taken out of the free list. */
  #takeFree(): string | undefined {
    const free = this.#s.free;
    if (!free.length) return undefined;
    const i = Math.floor(this.#rand() * free.length);
    const user = free[i]!;
    free[i] = free[free.length - 1]!;
    free.pop();
    return user;
  }

  #newPlayer(): string {
    const address = playerAddress(this.players.length);
    this.players.push(address);
    return address;
  }

  #remove(level: LevelName, user: string): void {
    const list = this.#s.lists.get(level)!;
    const index = list.indexOf(user);
    const last = list[list.length - 1]!;
    list[index] = last;
    list.pop();
  }

  /** A random alive player, without building the list (it is drawn per transaction). */
  #pickAlive(count: number): string {
    let i = Math.floor(this.#rand() * count);
    for (const level of LEVELS) {
      const list = this.#s.lists.get(level)!;
      if (i < list.length) return list[i]!;
      i -= list.length;
    }
    throw new Error('no alive player');
  }

  #addStake(user: string): ChainEnvelope[] {
    const pos = this.#s.positions.get(user)!;
    const amount = MIN_STAKE[pos.level] + BigInt(Math.floor(this.#rand() * 1e9));
    pos.amount += amount;
    return this.#emit(
      [{ name: 'StakeAdded', args: { user, amount: amount.toString(), newTotal: pos.amount.toString() } }],
      user,
    );
  }

  #extract(user: string): ChainEnvelope[] {
    const pos = this.#s.positions.get(user)!;
    const rewards = (pos.amount * BigInt(Math.floor(this.#rand() * 30))) / 100n;
    this.#remove(pos.level, user);
    this.#s.positions.delete(user);
    this.#s.free.push(user);
    return this.#emit(
      [{ name: 'Extracted', args: { user, amount: pos.amount.toString(), rewards: rewards.toString() } }],
      user,
    );
  }

  #boost(user: string): ChainEnvelope[] {
    const expiry = Math.floor((this.#s.time + 3_600_000) / 1000) * 1000;
    return this.#emit(
      [
        {
          name: 'BoostApplied',
          args: {
            user,
            boostType: this.#rand() < 0.7 ? 'DEATH_REDUCTION' : 'YIELD_MULTIPLIER',
            valueBps: 500 + Math.floor(this.#rand() * 5) * 250,
            expiry,
          },
        },
      ],
      user,
    );
  }

  #emissions(): ChainEnvelope[] {
    const level = this.#pick(LEVELS)!;
    const amount = 10n ** 18n * BigInt(1 + Math.floor(this.#rand() * 100));
    return this.#emit([{ name: 'EmissionsAdded', args: { level, amount: amount.toString() } }], GHOST_CORE);
  }

  /** A whole scan in three transactions' worth of events (execute, submit, finalize), in one block here. */
  #scan(level: LevelName): ChainEnvelope[] {
    const s = this.#s;
    s.scanId += 1;
    const scanId = String(s.scanId);
    const seed = BigInt(this.#hash(`seed:${scanId}`)).toString();
    const executedAt = Math.floor(s.time / 1000) * 1000;
    const rate = (LEVELS.indexOf(level) + 1) * 0.08;
    const victims = s.lists.get(level)!.filter(() => this.#rand() < rate);
    let totalDead = 0n;
    const lost = victims.map((address) => {
      const pos = s.positions.get(address)!;
      totalDead += pos.amount;
      pos.alive = false;
      pos.status = 'traced';
      pos.streak = 0;
      this.#remove(level, address);
      return { address, amountLost: pos.amount.toString() };
    });
    for (const address of s.lists.get(level)!) s.positions.get(address)!.streak += 1;
    const survivors = String(s.lists.get(level)!.length);
    const events: Ev[] = [{ name: 'ScanExecuted', args: { level, scanId, seed, executedAt } }];
    if (victims.length) {
      events.push(
        {
          name: 'DeathsProcessed',
          args: {
            level,
            count: String(victims.length),
            totalDead: totalDead.toString(),
            burned: '0',
            distributed: '0',
          },
        },
        {
          name: 'DeathsSubmitted',
          args: {
            level,
            scanId,
            count: String(victims.length),
            totalDead: totalDead.toString(),
            submitter: GHOST_CORE,
          },
          enrichment: { victims: lost },
        },
      );
      const share = (totalDead * 3000n) / 10_000n;
      events.push({
        name: 'CascadeDistributed',
        args: {
          sourceLevel: level,
          sameLevelAmount: share.toString(),
          upstreamAmount: share.toString(),
          burnAmount: share.toString(),
          protocolAmount: (totalDead - 3n * share).toString(),
        },
      });
    }
    events.push(
      { name: 'SurvivorsUpdated', args: { level, count: survivors } },
      {
        name: 'ScanFinalized',
        args: {
          level,
          scanId,
          deathCount: String(victims.length),
          totalDead: totalDead.toString(),
          finalizedAt: executedAt + 120_000,
        },
        enrichment: { survivors },
      },
    );
    return this.#emit(events, GHOST_CORE);
  }

  #reset(): ChainEnvelope[] {
    let total = 0n;
    for (const pos of this.#s.positions.values()) {
      if (!pos.alive) continue;
      const kept = (pos.amount * 7500n) / 10_000n;
      total += pos.amount - kept;
      pos.amount = kept;
    }
    return this.#emit(
      [
        {
          name: 'SystemResetTriggered',
          args: {
            totalPenalty: total.toString(),
            jackpotWinner: `0x${'0'.repeat(40)}`,
            jackpotAmount: (total / 2n).toString(),
          },
        },
      ],
      GHOST_CORE,
    );
  }
}

export function reorgNotice(
  chainId: number,
  orphanedSequences: number[],
  ancestorBlock: number,
): ReorgNotice {
  const hash = `0x${createHash('sha256').update(`ancestor:${ancestorBlock}`).digest('hex')}`;
  return {
    v: 1,
    kind: 'reorg',
    id: `${chainId}:reorg:${hash}:${orphanedSequences[0] ?? 0}`,
    chainId,
    commonAncestor: { number: ancestorBlock, hash },
    depth: 1,
    orphanedSequences,
    observedAt: Date.now(),
  };
}

/** Publishes in order with many in flight (each with its Nats-Msg-Id); returns the stream sequences. */
export async function publishAll(
  js: JetStreamClient,
  chainId: number,
  prefix: string,
  messages: readonly StreamMessage[],
  inflight = 256,
): Promise<number[]> {
  const subjects = createSubjects(chainId, prefix);
  const sequences: number[] = new Array(messages.length);
  for (let i = 0; i < messages.length; i += inflight) {
    const chunk = messages.slice(i, i + inflight);
    const acks = await Promise.all(
      chunk.map((m) => js.publish(subjects.of(m), JSON.stringify(m), { msgID: m.id })),
    );
    acks.forEach((ack, k) => {
      sequences[i + k] = ack.seq;
    });
  }
  return sequences;
}
