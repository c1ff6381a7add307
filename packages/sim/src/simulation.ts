import {
  anvilAccount,
  BoostType,
  boostNonce,
  DEV_ACCOUNT_ROLES,
  GAME,
  type LevelNumber,
  signBoost,
} from '@ghostnet/contracts';
import { type Address, getAddress, type Hex, keccak256, type LocalAccount, maxUint256, toHex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { z } from 'zod';
import {
  type ChainPosition,
  type ChainScan,
  deathRoll,
  emptyCounts,
  encode,
  GAME_EVENT_BY_TOPIC,
  type GameEventName,
  type LevelConfigValue,
  readMany,
} from './chain.ts';
import { PROFILES, type ProfileName, profileOfSlot } from './profiles.ts';
import { Rng } from './rng.ts';
import { JsonRpc, RpcBlock, RpcLog } from './rpc.ts';

const DATA = 10n ** 18n;
/** Base fee is pinned to 0 each block; the fee cap only orders a block's transactions (see sendBlock). */
const FEE_BASE = 10n ** 10n;
const WALLET_DATA = 10_000_000n * DATA;
const WALLET_ETH = 1_000n * 10n ** 18n;
const MAX_BOOST_REDUCTION_BPS = 3500;
/** Chance that a player picks a full level anyway (and culls someone). */
const CULL_CHANCE = 0.1;

// ─── Public types ──────────────────────────────────────────────────────────────────────────────────────

/** What the simulator needs of a deployment (a `Deployment` from @ghostnet/contracts fits). */
export interface SimDeployment {
  chainId: number;
  addresses: { GhostCore: string; TraceScan: string; DataToken: string };
  boostSigner?: string;
  accounts?: { boostSigner?: { index: number } };
}

export interface SimulationOptions {
  rpcUrl: string;
  deployment: SimDeployment;
  /** Concurrent players. A traced or culled player is replaced by a fresh wallet with the same profile. */
  players: number;
  /** Same seed + fresh deployment = same run (wallets, actions, scans, deaths). */
  seed: string | number;
  /** Stop after this much wall time. With no stop condition at all, 30 s. */
  durationMs?: number;
  /** Stop once this many game events are on chain (the large-history mode). */
  maxEvents?: number;
  /** Stop after this many blocks. */
  maxBlocks?: number;
  /** Pace to about this many game events per second (default: as fast as the node goes). */
  eventsPerSecond?: number;
  /** Transactions per block (default 100). */
  txsPerBlock?: number;
  /** Chain seconds between blocks (default 60; at most 119 so a scan's deaths land in its window). */
  secondsPerBlock?: number;
  /** Signs mini-game boosts; default the deployment's dev boost signer (anvil account 9). */
  boostSigner?: LocalAccount;
  /** Play the mini-game (apply boosts). Default true. */
  boosts?: boolean;
  /** Shrink a level so that culling happens; false leaves the deployment's limits. */
  culling?: { level: LevelNumber; maxPositions: number } | false;
  /** Mean blocks between system resets (0 = never). Default 400. */
  systemResetEveryBlocks?: number;
  /** Mean blocks between emissions (0 = never). Default 25. */
  emissionsEveryBlocks?: number;
  /** Reschedule every level's next scan relative to the run's start, so that runs line up. Default true. */
  alignScans?: boolean;
  onProgress?: (progress: SimulationProgress) => void;
  progressIntervalMs?: number;
  signal?: AbortSignal;
}

export interface SimulationProgress {
  blocks: number;
  transactions: number;
  events: number;
  elapsedMs: number;
  eventsPerSecond: number;
  countsByType: Record<GameEventName, number>;
}

export type PlayerStatus = 'fresh' | 'alive' | 'dead' | 'culled' | 'extracted';

/** What the simulator believes of one wallet; `getPosition`/`isAlive` on chain must agree. */
export interface PlayerBelief {
  address: Address;
  walletIndex: number;
  slot: number;
  profile: ProfileName;
  status: PlayerStatus;
  /** 0 when the wallet has no position (fresh, or extracted). */
  level: number;
  amount: bigint;
  ghostStreak: number;
  alive: boolean;
}

export interface SimulationSummary {
  seed: string;
  blocks: number;
  fromBlock: number;
  toBlock: number;
  transactions: number;
  /** Transactions that reverted or were never mined; 0 on a healthy run. */
  failed: number;
  /** Blocks whose outcome differed from the plan (the belief was then re-read from chain). */
  mismatches: number;
  events: number;
  countsByType: Record<GameEventName, number>;
  elapsedMs: number;
  eventsPerSecond: number;
  chainTime: { start: number; end: number };
  scans: number;
  resets: number;
  wallets: number;
  players: PlayerBelief[];
}

// ─── Internal state ────────────────────────────────────────────────────────────────────────────────────

interface ActiveBoost {
  boostType: number;
  valueBps: number;
  expiry: bigint;
}

interface Player {
  account: LocalAccount;
  address: Address;
  walletIndex: number;
  slot: number;
  profile: ProfileName;
  nonce: number;
  status: PlayerStatus;
  level: number;
  amount: bigint;
  ghostStreak: number;
  boosts: ActiveBoost[];
}

interface LevelBelief {
  config: LevelConfigValue;
  /** Mirror of GhostCore's per-level list, including its swap-and-pop order: culling takes entry 0. */
  positions: Address[];
  nextScanTime: bigint;
  scan: {
    active: boolean;
    scanId: bigint;
    seed: bigint | undefined;
    executedAt: bigint;
    submitted: boolean;
    deaths: number;
  };
}

type TxKind =
  | 'jackIn'
  | 'addStake'
  | 'extract'
  | 'applyBoost'
  | 'executeScan'
  | 'submitDeaths'
  | 'finalizeScan'
  | 'triggerSystemReset'
  | 'addEmissions'
  | 'setup';

interface BlockPlan {
  ts: bigint;
  txs: PlannedTx[];
  /** The block after this one must be planned from its outcome (a scan's seed, a reset's deadline). */
  needsFreshState: boolean;
  counted?: boolean;
}

interface MinedBlock {
  logs: RpcLog[];
  logsOf: Map<string, RpcLog[]>;
  firstBlock: number;
}

interface PlannedTx {
  kind: TxKind;
  from: Address;
  to: Address;
  data: Hex;
  gas: bigint;
  nonce: number;
  expect: GameEventName[];
  /** Predicted victim of a culling jackIn, checked against the PositionCulled log. */
  culls?: Address;
  level?: number;
  touched: Address[];
}

/** Gas the planner books per transaction (measured on anvil, rounded up), and the limit it sends. */
const GAS = {
  jackIn: 200_000n,
  cull: 120_000n,
  addStake: 90_000n,
  extract: 120_000n,
  applyBoost: 130_000n,
  executeScan: 130_000n,
  submitDeathsBase: 80_000n,
  submitDeathsPer: 60_000n,
  finalizeScan: 200_000n,
  triggerSystemReset: 250_000n,
  addEmissions: 110_000n,
  approve: 60_000n,
  mintBatchBase: 60_000n,
  mintBatchPer: 50_000n,
  setup: 200_000n,
} as const;

const Options = z.object({
  rpcUrl: z.url(),
  players: z.number().int().min(1).max(100_000),
  seed: z.union([z.string().min(1), z.number()]),
  durationMs: z.number().positive().optional(),
  maxEvents: z.number().int().positive().optional(),
  maxBlocks: z.number().int().positive().optional(),
  eventsPerSecond: z.number().positive().optional(),
  txsPerBlock: z.number().int().min(1).max(1000).default(100),
  secondsPerBlock: z.number().int().min(1).max(119).default(60),
  systemResetEveryBlocks: z.number().min(0).default(400),
  emissionsEveryBlocks: z.number().min(0).default(25),
});

const RpcReceiptStatus = z.object({ status: z.enum(['0x0', '0x1']) });
const lower = (a: string) => a.toLowerCase() as Address;

export async function runSimulation(options: SimulationOptions): Promise<SimulationSummary> {
  const sim = new Simulation(options);
  return sim.run();
}

class Simulation {
  readonly o: z.infer<typeof Options>;
  readonly rpc: JsonRpc;
  readonly rng: Rng;
  readonly seed: string;
  readonly addresses: { GhostCore: Address; TraceScan: Address; DataToken: Address };
  readonly keeper = lower(anvilAccount(DEV_ACCOUNT_ROLES.keeper).address);
  owner: Address = '0x';
  tokenOwner: Address = '0x';
  signer: LocalAccount | undefined;
  chainId = 0;

  players: Player[] = [];
  slots: Player[] = [];
  pool: Player[] = [];
  byAddress = new Map<Address, Player>();
  levels: LevelBelief[] = [];
  nonces = new Map<Address, number>();
  boostCounter = 0;
  resetWanted = false;

  chainTs = 0n;
  /** Timestamp of the last block planned (ahead of chainTs while a block is planned ahead). */
  chainTsPlanned = 0n;
  blockNumber = 0;
  gasLimit = 30_000_000n;
  startBlock = 0;
  startTs = 0n;

  blocks = 0;
  transactions = 0;
  failed = 0;
  mismatches = 0;
  events = 0;
  scans = 0;
  resets = 0;
  counts = emptyCounts();

  constructor(readonly options: SimulationOptions) {
    const parsed = Options.safeParse(options);
    if (!parsed.success) {
      throw new Error(
        `invalid simulation options: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    }
    this.o = parsed.data;
    this.rpc = new JsonRpc(options.rpcUrl);
    this.seed = String(options.seed);
    this.rng = new Rng(this.seed);
    const a = options.deployment.addresses;
    this.addresses = {
      GhostCore: lower(a.GhostCore),
      TraceScan: lower(a.TraceScan),
      DataToken: lower(a.DataToken),
    };
  }

  // ─── Run ─────────────────────────────────────────────────────────────────────────────────────────────

  async run(): Promise<SimulationSummary> {
    const restore = await this.takeOverMining();
    try {
      await this.setUp();
      const started = performance.now();
      const durationMs =
        this.options.durationMs ?? (this.o.maxEvents || this.o.maxBlocks ? Number.POSITIVE_INFINITY : 30_000);
      const stop = () =>
        !!this.options.signal?.aborted ||
        performance.now() - started >= durationMs ||
        (this.o.maxEvents !== undefined && this.events >= this.o.maxEvents) ||
        (this.o.maxBlocks !== undefined && this.blocks >= this.o.maxBlocks);
      let lastProgress = started;
      const progressEvery = this.options.progressIntervalMs ?? 1000;
      let next: BlockPlan | undefined;
      // A block planned ahead has already moved the belief: it is always mined, even after a stop.
      while (next || !stop()) {
        const plan = next ?? (await this.plan(true));
        next = undefined;
        const hashes = await this.send(plan);
        const mined = this.mine(plan, hashes);
        // While the node executes this block, plan the next one from the predicted state. Not across a
        // scan's execution (the next block needs its seed) nor into the last block.
        const lastBlock = this.o.maxBlocks !== undefined && this.blocks + 1 >= this.o.maxBlocks;
        let ahead: Promise<BlockPlan> | undefined;
        if (!plan.needsFreshState && !lastBlock) {
          await new Promise((resolve) => setImmediate(resolve));
          ahead = this.plan(false);
        }
        const outcome = await mined;
        next = ahead ? await ahead : undefined;
        if (!(await this.check(plan, hashes, outcome)) && next) {
          // The plan ahead was built on a wrong prediction: drop it and read everything back.
          next = undefined;
          await this.resync(this.players.map((p) => p.address));
        }
        this.adoptFunded();

        const now = performance.now();
        if (this.o.eventsPerSecond) {
          const due = started + (this.events / this.o.eventsPerSecond) * 1000;
          if (due > now) await sleep(Math.min(due - now, Math.max(0, started + durationMs - now)));
        }
        if (this.options.onProgress && now - lastProgress >= progressEvery) {
          lastProgress = now;
          this.options.onProgress(this.progress(now - started));
        }
      }
      const elapsedMs = performance.now() - started;
      this.options.onProgress?.(this.progress(elapsedMs));
      return {
        seed: this.seed,
        blocks: this.blocks,
        fromBlock: this.startBlock + 1,
        toBlock: this.blockNumber,
        transactions: this.transactions,
        failed: this.failed,
        mismatches: this.mismatches,
        events: this.events,
        countsByType: { ...this.counts },
        elapsedMs,
        eventsPerSecond: elapsedMs > 0 ? (this.events * 1000) / elapsedMs : 0,
        chainTime: { start: Number(this.startTs), end: Number(this.chainTs) },
        scans: this.scans,
        resets: this.resets,
        wallets: this.players.length,
        players: this.players.map((p) => this.beliefOf(p)),
      };
    } finally {
      await restore();
    }
  }

  progress(elapsedMs: number): SimulationProgress {
    return {
      blocks: this.blocks,
      transactions: this.transactions,
      events: this.events,
      elapsedMs,
      eventsPerSecond: elapsedMs > 0 ? (this.events * 1000) / elapsedMs : 0,
      countsByType: { ...this.counts },
    };
  }

  beliefOf(p: Player): PlayerBelief {
    return {
      address: getAddress(p.address),
      walletIndex: p.walletIndex,
      slot: p.slot,
      profile: p.profile,
      status: p.status,
      level: p.level,
      amount: p.amount,
      ghostStreak: p.ghostStreak,
      alive: p.status === 'alive',
    };
  }

  /**
   * Batched mining needs automine and interval mining off; impersonation lets the node sign for the player
   * wallets (signing in JS would cap the rate at a few hundred tx/s). Everything is put back afterwards.
   */
  async takeOverMining(): Promise<() => Promise<void>> {
    const automine = await this.rpc.call('anvil_getAutomine', [], z.boolean()).catch(() => {
      throw new Error(
        `${this.options.rpcUrl} is not anvil (anvil_getAutomine failed): the simulator needs anvil`,
      );
    });
    const interval = await this.rpc
      .call('anvil_getIntervalMining', [], z.number().nullable())
      .catch(() => null);
    // Transactions already waiting would land in our first block; mine them out of the way.
    const pool = await this.rpc.call(
      'txpool_status',
      [],
      z.object({ pending: z.string(), queued: z.string() }),
    );
    if (BigInt(pool.pending) > 0n) await this.rpc.call('evm_mine', []);
    await this.rpc.batch([
      { method: 'evm_setAutomine', params: [false] },
      { method: 'evm_setIntervalMining', params: [0] },
      { method: 'anvil_autoImpersonateAccount', params: [true] },
    ]);
    return async () => {
      await this.rpc
        .batch([
          { method: 'anvil_autoImpersonateAccount', params: [false] },
          { method: 'evm_setIntervalMining', params: [interval ?? 0] },
          { method: 'evm_setAutomine', params: [automine] },
        ])
        .catch(() => undefined);
    };
  }

  async setUp() {
    this.chainId = await this.rpc.call('eth_chainId', [], z.string().transform(Number));
    if (this.chainId !== this.options.deployment.chainId) {
      throw new Error(`RPC is chain ${this.chainId}, the deployment says ${this.options.deployment.chainId}`);
    }
    const head = RpcBlock.parse(await this.rpc.call('eth_getBlockByNumber', ['latest', false]));
    this.blockNumber = Number(head.number);
    this.startBlock = this.blockNumber;
    this.chainTs = head.timestamp;
    this.startTs = head.timestamp;
    this.gasLimit = head.gasLimit;

    const [owner, tokenOwner, signerOnChain] = (await readMany(this.rpc, this.addresses, [
      { contract: 'GhostCore', functionName: 'owner' },
      { contract: 'DataToken', functionName: 'owner' },
      { contract: 'GhostCore', functionName: 'boostSigner' },
    ])) as Address[];
    this.owner = lower(owner!);
    this.tokenOwner = lower(tokenOwner!);
    if (this.options.boosts !== false) {
      const signer =
        this.options.boostSigner ??
        anvilAccount(this.options.deployment.accounts?.boostSigner?.index ?? DEV_ACCOUNT_ROLES.boostSigner);
      if (lower(signer.address) !== lower(signerOnChain!)) {
        throw new Error(
          `GhostCore's boost signer is ${signerOnChain}, not ${signer.address}: pass its account as boostSigner, or boosts: false`,
        );
      }
      this.signer = signer;
    }
    await this.resyncLevels();

    // Set-up block: owner supply for emissions, level config for culling, scans aligned to the run's start.
    const setup: PlannedTx[] = [];
    const owned = (from: Address, to: Address, data: Hex): PlannedTx => ({
      kind: 'setup',
      from,
      to,
      data,
      gas: GAS.setup,
      nonce: this.nextNonce(from),
      expect: [],
      touched: [],
    });
    await this.loadNonces([this.owner, this.tokenOwner, this.keeper]);
    setup.push(
      owned(this.tokenOwner, this.addresses.DataToken, encode.mint(this.owner, 1_000_000_000n * DATA)),
    );
    setup.push(
      owned(this.owner, this.addresses.DataToken, encode.approve(this.addresses.GhostCore, maxUint256)),
    );
    const culling =
      this.options.culling === undefined
        ? { level: 5 as LevelNumber, maxPositions: Math.max(3, Math.ceil(this.o.players / 4)) }
        : this.options.culling;
    if (culling) {
      const level = this.levels[culling.level]!;
      level.config = { ...level.config, maxPositions: culling.maxPositions };
      setup.push(
        owned(this.owner, this.addresses.GhostCore, encode.updateLevelConfig(culling.level, level.config)),
      );
    }
    if (this.options.alignScans !== false) {
      for (let l = 1; l <= 5; l++) {
        const level = this.levels[l]!;
        if (level.scan.active) continue;
        level.nextScanTime = this.chainTs + 1n + BigInt(level.config.scanInterval);
        setup.push(
          owned(this.owner, this.addresses.GhostCore, encode.setNextScanTime(l, level.nextScanTime)),
        );
      }
    }
    setup.push(...(await this.fundWallets(this.o.players + Math.max(8, Math.ceil(this.o.players / 2)))));
    const plan: BlockPlan = { ts: this.chainTs + 1n, txs: setup, needsFreshState: true, counted: false };
    const hashes = await this.send(plan);
    if (!(await this.check(plan, hashes, await this.mine(plan, hashes)))) {
      throw new Error(
        'the set-up block failed: is this the GHOSTNET dev deployment, with its owner unlocked?',
      );
    }
    this.chainTsPlanned = this.chainTs;
    this.adoptFunded();
    for (let slot = 0; slot < this.o.players; slot++) this.fillSlot(slot);
  }

  // ─── Wallets ─────────────────────────────────────────────────────────────────────────────────────────

  funded: Player[] = [];

  /** Derives `count` new wallets, gives them ETH and DATA and has them approve GhostCore (usable next block). */
  async fundWallets(count: number): Promise<PlannedTx[]> {
    const fresh: Player[] = [];
    for (let i = 0; i < count; i++) {
      const walletIndex = this.players.length + this.funded.length + fresh.length;
      const account = privateKeyToAccount(
        keccak256(toHex(`ghostnet-sim:${this.seed}:wallet:${walletIndex}`)),
      );
      fresh.push({
        account,
        address: lower(account.address),
        walletIndex,
        slot: -1,
        profile: 'casual',
        nonce: 0,
        status: 'fresh',
        level: 0,
        amount: 0n,
        ghostStreak: 0,
        boosts: [],
      });
    }
    const used = await this.rpc.batch(
      fresh.map((p) => ({ method: 'eth_getTransactionCount', params: [p.address, 'latest'] })),
    );
    const reused = fresh.find((_, i) => BigInt(used[i] as string) !== 0n);
    if (reused) {
      throw new Error(
        `wallet ${reused.address} of seed ${this.seed} has sent transactions on this chain already: use another seed or a fresh devnet`,
      );
    }
    await this.rpc.batch(
      fresh.map((p) => ({ method: 'anvil_setBalance', params: [p.address, toHex(WALLET_ETH)] })),
    );
    this.funded.push(...fresh);
    const txs: PlannedTx[] = [];
    for (let i = 0; i < fresh.length; i += 200) {
      const chunk = fresh.slice(i, i + 200);
      txs.push({
        kind: 'setup',
        from: this.tokenOwner,
        to: this.addresses.DataToken,
        data: encode.mintBatch(
          chunk.map((p) => p.address),
          WALLET_DATA,
        ),
        gas: GAS.mintBatchBase + GAS.mintBatchPer * BigInt(chunk.length),
        nonce: this.nextNonce(this.tokenOwner),
        expect: [],
        touched: [],
      });
    }
    for (const p of fresh) {
      txs.push({
        kind: 'setup',
        from: p.address,
        to: this.addresses.DataToken,
        data: encode.approve(this.addresses.GhostCore, maxUint256),
        gas: GAS.approve,
        nonce: p.nonce++,
        expect: [],
        touched: [],
      });
    }
    return txs;
  }

  adoptFunded() {
    for (const p of this.funded) {
      this.players.push(p);
      this.byAddress.set(p.address, p);
      this.pool.push(p);
    }
    this.funded = [];
  }

  /** Gives a slot its next wallet (from the funded pool, in wallet order, so runs repeat). */
  fillSlot(slot: number): boolean {
    const next = this.pool.shift();
    if (!next) return false;
    next.slot = slot;
    next.profile = profileOfSlot(slot, this.o.players);
    this.slots[slot] = next;
    return true;
  }

  // ─── One block ───────────────────────────────────────────────────────────────────────────────────────

  /**
   * Plans one block: its timestamp, the keeper's transactions first, then the players'. Planning updates the
   * belief as if the block had executed; `check` confirms it afterwards. `fresh` says the previous block's
   * outcome is known (not planning ahead), which a system reset needs to read its deadline.
   */
  async plan(fresh: boolean): Promise<BlockPlan> {
    let ts = this.chainTsPlanned + BigInt(this.o.secondsPerBlock);
    for (const level of this.levels.slice(1)) {
      // Deaths of a scan executed in the last block go in this one, inside the 120 s window.
      if (level.scan.active && !level.scan.submitted) {
        const last = level.scan.executedAt + BigInt(GAME.SUBMISSION_WINDOW_S) - 1n;
        if (last < ts) ts = last;
      }
    }
    if (ts <= this.chainTsPlanned) ts = this.chainTsPlanned + 1n;

    const txs: PlannedTx[] = [];
    const budget = { gas: (this.gasLimit * 8n) / 10n, txs: this.txCap() };

    if (this.o.systemResetEveryBlocks > 0 && this.rng.chance(1 / this.o.systemResetEveryBlocks)) {
      this.resetWanted = true;
    }
    let needsFreshState = false;
    if (this.resetWanted && this.levels.slice(1).every((l) => !l.scan.active)) {
      if (!fresh) {
        needsFreshState = true; // postpone to a block planned with the deadline known
      } else {
        const [reset] = (await readMany(this.rpc, this.addresses, [
          { contract: 'GhostCore', functionName: 'getSystemReset' },
        ])) as { deadline: bigint }[];
        if (reset!.deadline > ts) ts = reset!.deadline;
        txs.push(
          this.keeperTx(
            'triggerSystemReset',
            this.addresses.GhostCore,
            encode.triggerSystemReset(),
            GAS.triggerSystemReset,
            ['SystemResetTriggered'],
          ),
        );
        for (const p of this.players) {
          if (p.status === 'alive') p.amount = (p.amount * BigInt(10_000 - GAME.RESET_PENALTY_BPS)) / 10_000n;
        }
        this.resetWanted = false;
        this.resets++;
      }
    }

    this.planKeeper(ts, txs);

    if (this.o.emissionsEveryBlocks > 0 && this.rng.chance(1 / this.o.emissionsEveryBlocks)) {
      const staked = [1, 2, 3, 4, 5].filter((l) => this.levels[l]!.positions.length > 0);
      if (staked.length > 0) {
        const level = this.rng.pick(staked);
        const amount = BigInt(this.rng.int(100, 5_000)) * DATA;
        txs.push({
          kind: 'addEmissions',
          from: this.owner,
          to: this.addresses.GhostCore,
          data: encode.addEmissions(level, amount),
          gas: GAS.addEmissions * 2n,
          nonce: this.nextNonce(this.owner),
          expect: ['EmissionsAdded'],
          level,
          touched: [],
        });
      }
    }

    if (this.pool.length < Math.max(4, Math.ceil(this.o.players / 8)) && this.funded.length === 0) {
      txs.push(...(await this.fundWallets(Math.max(16, Math.ceil(this.o.players / 2)))));
    }

    await this.planPlayers(ts, txs, budget);
    this.chainTsPlanned = ts;
    return {
      ts,
      txs,
      needsFreshState: needsFreshState || txs.some((t) => t.kind === 'executeScan'),
    };
  }

  txCap(): number {
    const eps = this.o.eventsPerSecond;
    // Paced runs use smaller blocks, more often: the feed looks continuous rather than bursty.
    return eps ? Math.min(this.o.txsPerBlock, Math.max(5, Math.ceil(eps / 10))) : this.o.txsPerBlock;
  }

  keeperTx(
    kind: TxKind,
    to: Address,
    data: Hex,
    gas: bigint,
    expect: GameEventName[],
    level?: number,
  ): PlannedTx {
    return {
      kind,
      from: this.keeper,
      to,
      data,
      gas: gas * 2n,
      nonce: this.nextNonce(this.keeper),
      expect,
      touched: [],
      ...(level === undefined ? {} : { level }),
    };
  }

  /** Keeper first in every block: submit the deaths the rule decides, finalize, execute what is due. */
  planKeeper(ts: bigint, txs: PlannedTx[]) {
    for (let l = 1; l <= 5; l++) {
      const level = this.levels[l]!;
      const scan = level.scan;
      if (scan.active && !scan.submitted && scan.seed !== undefined) {
        const seed = scan.seed;
        const victims = level.positions.filter((address) => {
          const p = this.byAddress.get(address);
          return p?.status === 'alive' && deathRoll(seed, address) < this.effectiveRate(p, ts);
        });
        for (let i = 0; i < victims.length; i += GAME.MAX_BATCH_SIZE) {
          const batch = victims.slice(i, i + GAME.MAX_BATCH_SIZE);
          const tx = this.keeperTx(
            'submitDeaths',
            this.addresses.TraceScan,
            encode.submitDeaths(l, batch),
            GAS.submitDeathsBase + GAS.submitDeathsPer * BigInt(batch.length),
            ['DeathsProcessed', 'DeathsSubmitted'],
            l,
          );
          tx.touched = batch;
          txs.push(tx);
          for (const address of batch) {
            const p = this.byAddress.get(address)!;
            p.status = 'dead';
            p.ghostStreak = 0;
            this.removeFromLevel(l, address);
          }
        }
        scan.submitted = true;
        scan.deaths += victims.length;
      }
      if (scan.active && scan.submitted && ts >= scan.executedAt + BigInt(GAME.SUBMISSION_WINDOW_S)) {
        txs.push(
          this.keeperTx(
            'finalizeScan',
            this.addresses.TraceScan,
            encode.finalizeScan(l),
            GAS.finalizeScan,
            scan.deaths > 0
              ? ['CascadeDistributed', 'SurvivorsUpdated', 'ScanFinalized']
              : ['SurvivorsUpdated', 'ScanFinalized'],
            l,
          ),
        );
        for (const address of level.positions) {
          const p = this.byAddress.get(address);
          if (p?.status === 'alive') p.ghostStreak += 1;
        }
        level.nextScanTime = ts + BigInt(level.config.scanInterval);
        scan.active = false;
      }
      if (!scan.active && level.nextScanTime <= ts) {
        txs.push(
          this.keeperTx(
            'executeScan',
            this.addresses.TraceScan,
            encode.executeScan(l),
            GAS.executeScan,
            ['ScanExecuted'],
            l,
          ),
        );
        level.scan = {
          active: true,
          scanId: 0n,
          seed: undefined,
          executedAt: ts,
          submitted: false,
          deaths: 0,
        };
        this.scans++;
      }
    }
  }

  isFull(level: number): boolean {
    const belief = this.levels[level]!;
    return belief.config.maxPositions > 0 && belief.positions.length >= belief.config.maxPositions;
  }

  effectiveRate(p: Player, ts: bigint): number {
    const base = this.levels[p.level]!.config.baseDeathRateBps;
    const reduction = p.boosts
      .filter((b) => b.boostType === BoostType.DEATH_REDUCTION && b.expiry > ts)
      .reduce((sum, b) => sum + b.valueBps, 0);
    return Math.max(0, base - reduction);
  }

  isLocked(level: number, ts: bigint): boolean {
    const next = this.levels[level]!.nextScanTime;
    return ts + BigInt(GAME.LOCK_PERIOD_S) >= next && ts < next;
  }

  async planPlayers(ts: bigint, txs: PlannedTx[], budget: { gas: bigint; txs: number }) {
    let gas = txs.reduce((sum, t) => sum + t.gas / 2n, 0n);
    let count = 0;
    const order = this.rng.shuffle([...this.slots.keys()]);
    // Several turns per player per block, so that a few players still fill a block: the node's cost per
    // block grows with the number of accounts, so full blocks (and fewer wallets burnt) keep the rate up.
    const turns = Math.max(4, Math.ceil((4 * budget.txs) / Math.max(1, this.slots.length)));
    for (let turn = 0; turn < turns; turn++) {
      for (const slot of order) {
        if (count >= budget.txs || gas >= budget.gas) return;
        let p = this.slots[slot]!;
        if (p.status === 'dead' || p.status === 'culled') {
          if (!this.fillSlot(slot)) continue;
          p = this.slots[slot]!;
        }
        const tx = await this.turn(p, ts);
        if (tx) {
          txs.push(tx);
          count++;
          gas += tx.gas / 2n;
        }
      }
    }
  }

  async turn(p: Player, ts: bigint): Promise<PlannedTx | undefined> {
    const profile = PROFILES[p.profile];
    if (!this.rng.chance(profile.activity)) return undefined;
    if (p.status === 'fresh' || p.status === 'extracted') return this.planJackIn(p, ts);
    if (p.status !== 'alive') return undefined;

    if (p.profile === 'sniper') {
      // Leave just before the lock; otherwise sit tight.
      const next = this.levels[p.level]!.nextScanTime;
      const soon = ts + BigInt(GAME.LOCK_PERIOD_S + 2 * this.o.secondsPerBlock) >= next;
      if (soon && !this.isLocked(p.level, ts)) return this.planExtract(p, ts);
    }
    const r = this.rng.next();
    if (r < profile.boost) return this.planBoost(p, ts);
    if (r < profile.boost + profile.addStake) return this.planAddStake(p);
    if (r < profile.boost + profile.addStake + profile.extract) return this.planExtract(p, ts);
    return undefined;
  }

  playerTx(p: Player, kind: TxKind, data: Hex, gas: bigint, expect: GameEventName[]): PlannedTx {
    return {
      kind,
      from: p.address,
      to: this.addresses.GhostCore,
      data,
      gas: gas * 2n,
      nonce: p.nonce++,
      expect,
      touched: [p.address],
    };
  }

  planJackIn(p: Player, ts: bigint): PlannedTx | undefined {
    const profile = PROFILES[p.profile];
    let level = this.rng.weighted(profile.levelWeights) + 1;
    if (this.isFull(level) && !this.rng.chance(CULL_CHANCE)) {
      // Mostly, a full level turns players away: culling should happen, not be the default way in (each
      // culled wallet is spent for good, and the node slows down as wallets pile up in its state).
      const open = [1, 2, 3, 4, 5].filter((l) => !this.isFull(l) && profile.levelWeights[l - 1]! > 0);
      if (open.length === 0) return undefined;
      level = this.rng.pick(open);
    }
    const belief = this.levels[level]!;
    if (p.profile === 'sniper' && belief.nextScanTime - ts < BigInt(belief.config.scanInterval) / 2n) {
      return undefined; // snipers enter right after a scan, not before one
    }
    const min = belief.config.minStake;
    let amount = BigInt(this.rng.int(profile.stake[0], profile.stake[1])) * DATA;
    if (amount < min) amount = min;

    let culled: Address | undefined;
    const max = belief.config.maxPositions;
    if (max > 0 && belief.positions.length >= max) {
      culled = belief.positions[0];
      if (!culled) return undefined;
      const victim = this.byAddress.get(culled);
      if (victim) {
        victim.status = 'culled';
        // The culled keep the streak they had; their amount stays readable on chain.
      }
      this.removeFromLevel(level, culled);
    }
    const tx = this.playerTx(
      p,
      'jackIn',
      encode.jackIn(amount, level),
      GAS.jackIn + (culled ? GAS.cull : 0n),
      [...(culled ? (['PositionCulled'] as const) : []), 'JackedIn'],
    );
    if (culled) {
      tx.culls = culled;
      tx.touched.push(culled);
    }
    tx.level = level;
    p.status = 'alive';
    p.level = level;
    p.amount = amount;
    p.ghostStreak = 0;
    p.boosts = [];
    belief.positions.push(p.address);
    return tx;
  }

  planAddStake(p: Player): PlannedTx {
    const profile = PROFILES[p.profile];
    const amount =
      BigInt(this.rng.int(Math.max(1, Math.floor(profile.stake[0] / 2)), profile.stake[1])) * DATA;
    p.amount += amount;
    return this.playerTx(p, 'addStake', encode.addStake(amount), GAS.addStake, ['StakeAdded']);
  }

  planExtract(p: Player, ts: bigint): PlannedTx | undefined {
    if (this.isLocked(p.level, ts)) return undefined;
    const tx = this.playerTx(p, 'extract', encode.extract(), GAS.extract, ['Extracted']);
    this.removeFromLevel(p.level, p.address);
    p.status = 'extracted';
    p.level = 0;
    p.amount = 0n;
    p.ghostStreak = 0;
    p.boosts = [];
    return tx;
  }

  /** The mini-game: a boost the dev signer signs under the backend's rules (not during a scan, capped). */
  async planBoost(p: Player, ts: bigint): Promise<PlannedTx | undefined> {
    if (!this.signer) return undefined;
    const level = this.levels[p.level]!;
    if (level.scan.active) return undefined;
    const profile = PROFILES[p.profile];
    const boostType = this.rng.chance(0.85) ? BoostType.DEATH_REDUCTION : BoostType.YIELD_MULTIPLIER;
    const valueBps = this.rng.pick(profile.boostBps);
    if (boostType === BoostType.DEATH_REDUCTION) {
      const active = p.boosts
        .filter((b) => b.boostType === BoostType.DEATH_REDUCTION && b.expiry > ts)
        .reduce((sum, b) => sum + b.valueBps, 0);
      if (active + valueBps > MAX_BOOST_REDUCTION_BPS) return undefined;
    }
    // Lasts until the level's next scan is finalized.
    const expiry = level.nextScanTime + BigInt(GAME.SUBMISSION_WINDOW_S + this.o.secondsPerBlock);
    const nonce = boostNonce(`ghostnet-sim:${this.seed}:${this.addresses.GhostCore}`, this.boostCounter++);
    const signature = await signBoost({
      signer: this.signer,
      chainId: this.chainId,
      ghostCore: this.addresses.GhostCore,
      message: { user: getAddress(p.address), boostType, valueBps, expiry, nonce },
    });
    p.boosts = p.boosts.filter((b) => b.expiry > ts);
    p.boosts.push({ boostType, valueBps, expiry });
    const gas = GAS.applyBoost + 20_000n * BigInt(p.boosts.length);
    return this.playerTx(
      p,
      'applyBoost',
      encode.applyBoost(boostType, valueBps, expiry, nonce, signature),
      gas,
      ['BoostApplied'],
    );
  }

  removeFromLevel(level: number, address: Address) {
    const list = this.levels[level]!.positions;
    const index = list.indexOf(address);
    if (index < 0) return;
    list[index] = list[list.length - 1]!;
    list.pop();
  }

  nextNonce(address: Address): number {
    const n = this.nonces.get(address) ?? 0;
    this.nonces.set(address, n + 1);
    return n;
  }

  async loadNonces(addresses: Address[]) {
    const unique = [...new Set(addresses)];
    const counts = await this.rpc.batch(
      unique.map((a) => ({ method: 'eth_getTransactionCount', params: [a, 'latest'] })),
    );
    unique.forEach((a, i) => {
      this.nonces.set(a, Number(BigInt(counts[i] as string)));
    });
  }

  // ─── Mining and checking ─────────────────────────────────────────────────────────────────────────────

  /**
   * Sends the block's transactions in one batch request. The node orders a block by fee cap, so each
   * transaction's cap is one wei lower than the one before: the block executes exactly in plan order
   * (keeper first), which the plan's predictions rely on. The base fee is pinned to 0 so nobody pays.
   */
  async send(plan: BlockPlan): Promise<(Hex | undefined)[]> {
    const n = BigInt(plan.txs.length);
    const sent = await this.rpc.batchSettled([
      { method: 'anvil_setNextBlockBaseFeePerGas', params: ['0x0'] },
      ...plan.txs.map((tx, k) => ({
        method: 'eth_sendTransaction',
        params: [
          {
            from: tx.from,
            to: tx.to,
            data: tx.data,
            gas: toHex(tx.gas),
            nonce: toHex(tx.nonce),
            type: '0x2',
            maxFeePerGas: toHex(FEE_BASE + n - BigInt(k)),
            maxPriorityFeePerGas: '0x0',
          },
        ],
      })),
    ]);
    return sent.slice(1).map((r) => (r.error ? undefined : (r.result as Hex)));
  }

  /**
   * Mines the block at its planned timestamp and fetches its logs (GhostCore, TraceScan and DataToken: every
   * transaction the simulator sends emits at least one of them, so a transaction without logs failed).
   */
  async mine(plan: BlockPlan, hashes: (Hex | undefined)[]): Promise<MinedBlock> {
    const logs: RpcLog[] = [];
    const logsOf = new Map<string, RpcLog[]>();
    let ts = plan.ts;
    let firstBlock = 0;
    // A block that ran out of gas leaves the rest in the pool: mine again until ours are all in.
    for (let attempt = 0; attempt < 5; attempt++) {
      await this.rpc.call('evm_mine', [Number(ts)]);
      this.blockNumber += 1;
      this.chainTs = ts;
      if (attempt === 0) firstBlock = this.blockNumber;
      const raw = await this.rpc.call('eth_getLogs', [
        {
          fromBlock: toHex(this.blockNumber),
          toBlock: toHex(this.blockNumber),
          address: [this.addresses.GhostCore, this.addresses.TraceScan, this.addresses.DataToken],
        },
      ]);
      for (const log of z.array(RpcLog).parse(raw)) {
        logs.push(log);
        const hash = log.transactionHash.toLowerCase();
        const list = logsOf.get(hash);
        if (list) list.push(log);
        else logsOf.set(hash, [log]);
      }
      const missing = hashes.filter((h): h is Hex => !!h && !logsOf.has(h.toLowerCase()));
      if (missing.length === 0) break;
      const pending = await this.rpc.call('txpool_status', [], z.object({ pending: z.string() }));
      if (BigInt(pending.pending) === 0n) break;
      ts += 1n;
    }
    if (this.chainTsPlanned < this.chainTs) this.chainTsPlanned = this.chainTs;
    return { logs, logsOf, firstBlock };
  }

  /**
   * Counts the block's events and compares what happened with the plan; on any difference, re-reads the
   * touched state from chain. Returns whether the block went as planned.
   */
  async check(plan: BlockPlan, hashes: (Hex | undefined)[], mined: MinedBlock): Promise<boolean> {
    if (plan.counted !== false) {
      this.blocks++;
      this.transactions += plan.txs.length;
      for (const log of mined.logs) {
        if (log.address !== this.addresses.GhostCore && log.address !== this.addresses.TraceScan) continue;
        const name = GAME_EVENT_BY_TOPIC.get(log.topics[0]?.toLowerCase() ?? '');
        if (name) {
          this.counts[name]++;
          this.events++;
        }
      }
    }
    const touched = new Set<Address>();
    let unmined = false;
    let mismatch = false;
    for (const [i, tx] of plan.txs.entries()) {
      const hash = hashes[i];
      const all = hash ? mined.logsOf.get(hash.toLowerCase()) : undefined;
      if (!all && tx.expect.length > 0) {
        // Failed or never mined: which one decides whether the pool needs clearing.
        const receipt = hash ? await this.rpc.call('eth_getTransactionReceipt', [hash]) : null;
        if (!receipt) unmined = true;
      }
      if (!all && !(tx.kind === 'setup' && hash && (await this.succeeded(hash)))) {
        this.failed++;
        mismatch = true;
        for (const a of [tx.from, ...tx.touched]) touched.add(a);
        continue;
      }
      const logs = (all ?? []).filter(
        (l) => l.address === this.addresses.GhostCore || l.address === this.addresses.TraceScan,
      );
      const names = logs.map((l) => GAME_EVENT_BY_TOPIC.get(l.topics[0]!.toLowerCase()));
      if (names.join() !== tx.expect.join()) {
        mismatch = true;
        for (const a of [tx.from, ...tx.touched]) touched.add(a);
      }
      if (tx.culls) {
        const victim = logs[0]?.topics[1];
        if (!victim || lower(`0x${victim.slice(26)}`) !== tx.culls) {
          mismatch = true;
          touched.add(tx.culls);
          if (victim) touched.add(lower(`0x${victim.slice(26)}`));
        }
      }
      if (tx.kind === 'executeScan' && tx.level !== undefined) {
        const log = logs.find((l) => GAME_EVENT_BY_TOPIC.get(l.topics[0]!.toLowerCase()) === 'ScanExecuted');
        if (log) {
          const scan = this.levels[tx.level]!.scan;
          scan.scanId = BigInt(log.topics[2]!);
          scan.seed = BigInt(log.data.slice(0, 66));
        }
      }
    }
    if (unmined) await this.rpc.call('anvil_dropAllTransactions', []).catch(() => undefined);
    if (mismatch) {
      this.mismatches++;
      for (const tx of plan.txs) touched.add(tx.from);
      await this.resync([...touched]);
    }
    return !mismatch;
  }

  async succeeded(hash: Hex): Promise<boolean> {
    const receipt = await this.rpc.call('eth_getTransactionReceipt', [hash]);
    return RpcReceiptStatus.safeParse(receipt).data?.status === '0x1';
  }

  // ─── Reading the chain back ──────────────────────────────────────────────────────────────────────────

  async resyncLevels() {
    const calls = [1, 2, 3, 4, 5].flatMap((l) => [
      { contract: 'GhostCore' as const, functionName: 'getLevelConfig', args: [l] },
      { contract: 'GhostCore' as const, functionName: 'getLevelState', args: [l] },
      { contract: 'GhostCore' as const, functionName: 'getLevelPositions', args: [l] },
      { contract: 'TraceScan' as const, functionName: 'getCurrentScan', args: [l] },
    ]);
    const results = await readMany(this.rpc, this.addresses, calls);
    this.levels = [undefined as unknown as LevelBelief];
    for (let l = 1; l <= 5; l++) {
      const [config, state, positions, scan] = results.slice((l - 1) * 4, l * 4) as [
        LevelConfigValue,
        { nextScanTime: bigint },
        Address[],
        ChainScan,
      ];
      this.levels[l] = {
        config: { ...config },
        positions: positions.map(lower),
        nextScanTime: state.nextScanTime,
        scan: {
          active: scan.active,
          scanId: scan.scanId,
          seed: scan.active ? scan.seed : undefined,
          executedAt: scan.executedAt,
          // A scan executed before we started: its deaths are someone else's to submit.
          submitted: scan.active,
          deaths: Number(scan.deathCount),
        },
      };
    }
  }

  async resync(addresses: Address[]) {
    const previous = this.levels;
    await this.resyncLevels();
    for (let l = 1; l <= 5; l++) {
      const was = previous[l]?.scan;
      const now = this.levels[l]!.scan;
      if (was && now.active && was.active && was.scanId === now.scanId) now.submitted = was.submitted;
    }
    const players = addresses.map((a) => this.byAddress.get(a)).filter((p): p is Player => !!p);
    if (players.length === 0) return;
    const results = await readMany(
      this.rpc,
      this.addresses,
      players.flatMap((p) => [
        { contract: 'GhostCore' as const, functionName: 'getPosition', args: [p.address] },
        { contract: 'GhostCore' as const, functionName: 'isCulled', args: [p.address] },
        { contract: 'GhostCore' as const, functionName: 'getActiveBoosts', args: [p.address] },
      ]),
    );
    const nonces = await this.rpc.batch(
      players.map((p) => ({ method: 'eth_getTransactionCount', params: [p.address, 'latest'] })),
    );
    players.forEach((p, i) => {
      const position = results[i * 3] as ChainPosition;
      const culled = results[i * 3 + 1] as boolean;
      const boosts = results[i * 3 + 2] as ActiveBoost[];
      p.nonce = Number(BigInt(nonces[i] as string));
      p.level = position.level;
      p.amount = position.amount;
      p.ghostStreak = position.ghostStreak;
      p.boosts = boosts.map((b) => ({ ...b }));
      p.status =
        position.level === 0
          ? p.status === 'fresh'
            ? 'fresh'
            : 'extracted'
          : position.alive
            ? 'alive'
            : culled
              ? 'culled'
              : 'dead';
    });
    for (const a of [this.owner, this.keeper, this.tokenOwner]) {
      const count = await this.rpc.call('eth_getTransactionCount', [a, 'latest'], z.string());
      this.nonces.set(a, Number(BigInt(count)));
    }
  }
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
