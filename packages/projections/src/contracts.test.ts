import { deployGhostnet, ghostCoreAbi } from '@ghostnet/contracts';
import { sql } from '@ghostnet/db';
import { BOOST_TYPES, ChainEnvelope } from '@ghostnet/events';
import { createIngester } from '@ghostnet/ingest';
import { runSimulation, type SimulationSummary } from '@ghostnet/sim';
import { type Anvil, createTestStream, startAnvil, type TestStream } from '@ghostnet/test';
import { type Address, createPublicClient, http } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SurvivorsPublisher } from './derive/survivors.ts';
import { readLevelStats, readNetworkState, readPosition } from './read/index.ts';
import { createHarness, type Harness } from './testing/harness.ts';
import { derivedMessages } from './testing/survivors.ts';

/**
 * The acceptance check against the contracts: a simulator run on anvil, ingested into a stream, projected;
 * then every wallet's getPosition/isAlive and every level's getLevelState must equal the tables.
 */

const LEVELS = ['NONE', 'VAULT', 'MAINFRAME', 'SUBNET', 'DARKNET', 'BLACK_ICE'];

let anvil: Anvil;
let stream: TestStream;
let h: Harness;
let summary: SimulationSummary;
let client: ReturnType<typeof createPublicClient>;
let ghostCore: Address;
let stopIngester: () => Promise<void>;

beforeAll(async () => {
  anvil = await startAnvil();
  const deployment = await deployGhostnet({ rpcUrl: anvil.rpcUrl });
  ghostCore = deployment.addresses.GhostCore as Address;
  summary = await runSimulation({
    rpcUrl: anvil.rpcUrl,
    deployment,
    players: 24,
    seed: 'projector-acceptance',
    maxBlocks: 110,
    txsPerBlock: 40,
    culling: { level: 5, maxPositions: 3 },
    systemResetEveryBlocks: 25,
    emissionsEveryBlocks: 8,
  });
  stream = await createTestStream({ chainId: anvil.chainId });
  h = await createHarness({ stream });
  const logger = h.logger;
  const ingester = createIngester({
    rpcUrl: anvil.rpcUrl,
    chainId: anvil.chainId,
    addresses: { GhostCore: deployment.addresses.GhostCore, TraceScan: deployment.addresses.TraceScan },
    startBlock: deployment.deployBlock,
    nc: stream.nc,
    streamName: stream.name,
    subjectPrefix: stream.prefix,
    logger,
  });
  await ingester.start();
  stopIngester = () => ingester.stop();
  const deadline = Date.now() + 120_000;
  while ((ingester.stats().lastBlock ?? 0) < summary.toBlock) {
    if (Date.now() > deadline) throw new Error(`ingester stuck: ${JSON.stringify(ingester.stats())}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const last = (await stream.jsm.streams.info(stream.name)).state.last_seq;
  const runner = h.runner();
  await runner.start();
  await runner.waitFor(last, 120_000);
  client = createPublicClient({ transport: http(anvil.rpcUrl) });
}, 300_000);

afterAll(async () => {
  await stopIngester?.();
  await h?.cleanup();
  await anvil?.stop();
});

const Row = z.object({
  address: z.string(),
  status: z.string(),
  level: z.string(),
  amount: z.string(),
  entry_at: z.number(),
  ghost_streak: z.number(),
  reward_debt: z.string(),
});

describe('projected tables against the contracts after a simulator run', () => {
  it('every wallet: getPosition and isAlive equal its latest position', async () => {
    expect(summary.failed).toBe(0);
    expect(summary.resets).toBeGreaterThan(0);
    expect(summary.scans).toBeGreaterThan(5);
    expect(summary.countsByType.PositionCulled).toBeGreaterThan(0);
    expect(summary.countsByType.DeathsSubmitted).toBeGreaterThan(0);
    expect(summary.countsByType.Extracted).toBeGreaterThan(0);
    const latest = await h.pool.any(sql.type(Row)`
      SELECT DISTINCT ON (address) address, status, level, amount::text, entry_at, ghost_streak, reward_debt::text
      FROM live.positions ORDER BY address, entry_seq DESC`);
    const wallets = new Set([
      ...latest.map((r) => r.address),
      ...summary.players.map((p) => p.address.toLowerCase()),
    ]);
    expect(wallets.size).toBeGreaterThan(24);
    const byAddress = new Map(latest.map((r) => [r.address, r]));
    // Boost expiry and pending rewards are read on chain at the last block the projector applied, whose time
    // the position's boosts are judged by.
    const { block } = await h.pool.one(sql.type(z.object({ block: z.string() }))`
      SELECT last_block_number::text AS block FROM live.network_state`);
    const atBlock = { blockNumber: BigInt(block) };
    let alive = 0;
    let boosted = 0;
    for (const address of wallets) {
      const [onChain, isAlive, isCulled] = await Promise.all([
        client.readContract({
          address: ghostCore,
          abi: ghostCoreAbi,
          functionName: 'getPosition',
          args: [address as Address],
        }),
        client.readContract({
          address: ghostCore,
          abi: ghostCoreAbi,
          functionName: 'isAlive',
          args: [address as Address],
        }),
        client.readContract({
          address: ghostCore,
          abi: ghostCoreAbi,
          functionName: 'isCulled',
          args: [address as Address],
        }),
      ]);
      const ours = byAddress.get(address);
      const { position } = await readPosition(h.pool, address);
      expect(position !== null, address).toBe(isAlive);
      if (Number(onChain.level) === 0) {
        // Never jacked in, or extracted (GhostCore deletes the position).
        expect(ours === undefined || ours.status === 'extracted', address).toBe(true);
        continue;
      }
      expect(ours, address).toBeDefined();
      expect(ours!.level).toBe(LEVELS[Number(onChain.level)]);
      expect(ours!.entry_at).toBe(Number(onChain.entryTimestamp) * 1000);
      if (isAlive) {
        alive++;
        expect(ours!.status).toBe('active');
        expect(ours!.amount, address).toBe(onChain.amount.toString());
        expect(ours!.ghost_streak, address).toBe(Number(onChain.ghostStreak));
        expect(ours!.reward_debt, address).toBe(onChain.rewardDebt.toString());
        expect(position!.stakedAmount).toBe(onChain.amount.toString());
        const [pending, boosts] = await Promise.all([
          client.readContract({
            address: ghostCore,
            abi: ghostCoreAbi,
            functionName: 'getPendingRewards',
            args: [address as Address],
            ...atBlock,
          }),
          client.readContract({
            address: ghostCore,
            abi: ghostCoreAbi,
            functionName: 'getActiveBoosts',
            args: [address as Address],
            ...atBlock,
          }),
        ]);
        expect(position!.earnedYield, address).toBe(pending.toString());
        expect(position!.boosts, address).toEqual(
          boosts.map((b) => ({
            type: BOOST_TYPES[Number(b.boostType)],
            valueBps: Number(b.valueBps),
            expiresAt: Number(b.expiry) * 1000,
          })),
        );
        if (boosts.length > 0) boosted++;
      } else {
        expect(ours!.status).toBe(isCulled ? 'culled' : 'traced');
        // GhostCore freezes a culled streak and zeroes a traced one.
        if (isCulled) expect(ours!.ghost_streak, address).toBe(Number(onChain.ghostStreak));
      }
    }
    expect(alive).toBeGreaterThan(5);
    expect(boosted).toBeGreaterThan(0);
  });

  it('every level: getLevelState equals level stats; TVL and the reset deadline agree', async () => {
    const { levels } = await readLevelStats(h.pool);
    const acc = await h.pool.any(sql.type(
      z.object({ level: z.string(), acc: z.string(), finalized: z.number() }),
    )`
      SELECT level, acc_rewards_per_share::text AS acc, scans_finalized AS finalized FROM live.level_stats`);
    for (let index = 1; index <= 5; index++) {
      const state = await client.readContract({
        address: ghostCore,
        abi: ghostCoreAbi,
        functionName: 'getLevelState',
        args: [index],
      });
      const ours = levels.find((l) => l.level === LEVELS[index])!;
      expect(ours.totalStaked, LEVELS[index]).toBe(state.totalStaked.toString());
      expect(ours.operatorCount, LEVELS[index]).toBe(Number(state.aliveCount));
      expect(acc.find((a) => a.level === LEVELS[index])!.acc, LEVELS[index]).toBe(
        state.accRewardsPerShare.toString(),
      );
      if (acc.find((a) => a.level === LEVELS[index])!.finalized > 0) {
        expect(ours.nextScanTimestamp, LEVELS[index]).toBe(Number(state.nextScanTime) * 1000);
      }
    }
    const tvl = await client.readContract({
      address: ghostCore,
      abi: ghostCoreAbi,
      functionName: 'getTotalValueLocked',
    });
    const { networkState } = await readNetworkState(h.pool);
    expect(networkState!.tvl).toBe(tvl.toString());
    if (summary.resets > 0) {
      const reset = await client.readContract({
        address: ghostCore,
        abi: ghostCoreAbi,
        functionName: 'getSystemReset',
      });
      expect(networkState!.systemResetTimestamp).toBe(Number(reset.deadline) * 1000);
    }
  });

  it('every finalized scan: derived survivors match the chain count, and each streak getPosition at that block', async () => {
    const publisher = new SurvivorsPublisher({
      pool: h.pool,
      databaseUrl: h.db.url,
      js: stream.js,
      jsm: stream.jsm,
      streamName: stream.name,
      chainId: stream.chainId,
      subjectPrefix: stream.prefix,
      logger: h.logger,
      pollMs: 50,
    });
    const finalized = (
      await h.pool.anyFirst(sql.type(z.object({ payload: z.unknown() }))`
        SELECT payload FROM live.events WHERE name = 'ScanFinalized' ORDER BY sequence`)
    ).map((p) => ChainEnvelope.parse(p));
    const withSurvivors = finalized.filter(
      (f) => f.name === 'ScanFinalized' && f.enrichment.survivors !== '0',
    );
    expect(withSurvivors.length).toBeGreaterThan(5);
    publisher.start();
    try {
      const deadline = Date.now() + 60_000;
      while ((await derivedMessages(stream)).length < withSurvivors.length) {
        if (Date.now() > deadline)
          throw new Error(`survivors not published: ${JSON.stringify(publisher.stats())}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await publisher.stop();
    }
    const derived = await derivedMessages(stream);
    expect(derived.map((d) => d.message.source.id)).toEqual(withSurvivors.map((f) => f.id));
    let compared = 0;
    for (const [i, { message }] of derived.entries()) {
      const source = withSurvivors[i]!;
      if (source.name !== 'ScanFinalized') throw new Error('not a ScanFinalized');
      // SurvivorsUpdated: the contract's own count of positions alive at the level after the scan.
      expect(message.args.survivors.length, source.id).toBe(Number(source.enrichment.survivors));
      expect(message.args.level).toBe(source.args.level);
      for (const survivor of message.args.survivors) {
        const onChain = await client.readContract({
          address: ghostCore,
          abi: ghostCoreAbi,
          functionName: 'getPosition',
          args: [survivor.address as Address],
          blockNumber: BigInt(source.block.number),
        });
        // At the end of the block: compare only positions that entered before it and are still there
        // (later transactions of the block may extract one, or end it and open another).
        const same =
          onChain.alive &&
          LEVELS[Number(onChain.level)] === source.args.level &&
          Number(onChain.entryTimestamp) * 1000 < source.block.timestamp;
        if (!same) continue;
        expect(survivor.streak, `${survivor.address} at ${source.id}`).toBe(Number(onChain.ghostStreak));
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(20);
  });
});
