import { deployGhostnet, type GhostnetDeployment } from '@ghostnet/contracts';
import { type ChainEnvelope, createLogDecoder, decodeVictims, EVENT_PLANS } from '@ghostnet/events';
import { type Anvil, startAnvil, waitFor } from '@ghostnet/test';
import { type Address, type Hex, toHex } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type ChainPosition, GAME_EVENT_NAMES, readMany } from './chain.ts';
import { JsonRpc } from './rpc.ts';
import { runSimulation, type SimulationOptions, type SimulationSummary } from './simulation.ts';

let anvil: Anvil;
let deployment: GhostnetDeployment;
let summary: SimulationSummary;

/** Small enough for the test budget, set so that every event type shows up (the run is deterministic). */
const bounded = (): Omit<SimulationOptions, 'rpcUrl' | 'deployment'> => ({
  players: 24,
  seed: 'acceptance',
  maxBlocks: 110,
  txsPerBlock: 40,
  culling: { level: 5, maxPositions: 3 },
  systemResetEveryBlocks: 25,
  emissionsEveryBlocks: 8,
});

beforeAll(async () => {
  anvil = await startAnvil();
  deployment = await deployGhostnet({ rpcUrl: anvil.rpcUrl });
  summary = await runSimulation({ rpcUrl: anvil.rpcUrl, deployment, ...bounded() });
});

afterAll(async () => {
  await anvil?.stop();
});

const Log = z.object({
  address: z.string(),
  topics: z.array(z.string()),
  data: z.string(),
  blockNumber: z.string(),
  blockHash: z.string(),
  logIndex: z.string(),
  transactionHash: z.string(),
  transactionIndex: z.string(),
});
const Tx = z.object({ hash: z.string(), from: z.string(), to: z.string().nullable(), input: z.string() });
const Block = z.object({ number: z.string(), timestamp: z.string() });

async function chunked<T, R>(items: T[], size: number, fn: (chunk: T[]) => Promise<R[]>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await fn(items.slice(i, i + size))));
  return out;
}

describe('a bounded simulator run', () => {
  it('runs clean: every transaction mined as planned', () => {
    expect(summary.failed).toBe(0);
    expect(summary.mismatches).toBe(0);
    expect(summary.blocks).toBe(110);
    expect(summary.events).toBeGreaterThan(1000);
  });

  it('emits every event type of the facts file, and each log decodes with @ghostnet/events', async () => {
    const rpc = new JsonRpc(anvil.rpcUrl);
    const { GhostCore, TraceScan } = deployment.addresses;
    const logs = z.array(Log).parse(
      await rpc.call('eth_getLogs', [
        {
          fromBlock: toHex(deployment.deployBlock),
          toBlock: toHex(summary.toBlock),
          address: [GhostCore, TraceScan],
        },
      ]),
    );
    const hashes = [...new Set(logs.map((l) => l.transactionHash))];
    const txs = new Map(
      (
        await chunked(hashes, 500, async (chunk) =>
          z
            .array(Tx)
            .parse(await rpc.batch(chunk.map((h) => ({ method: 'eth_getTransactionByHash', params: [h] })))),
        )
      ).map((t) => [t.hash, t]),
    );
    const blockNumbers = [...new Set(logs.map((l) => l.blockNumber))];
    const blocks = new Map(
      (
        await chunked(blockNumbers, 500, async (chunk) =>
          z
            .array(Block)
            .parse(
              await rpc.batch(chunk.map((n) => ({ method: 'eth_getBlockByNumber', params: [n, false] }))),
            ),
        )
      ).map((b) => [b.number, Number(BigInt(b.timestamp)) * 1000]),
    );

    // Victims of each DeathsSubmitted: the submitDeaths input, with what each lost (frozen at death on chain).
    const nameOf = (log: { topics: string[] }) => EVENT_PLANS.get(log.topics[0]!.toLowerCase())!.name;
    const allVictims = [
      ...new Set(
        logs
          .filter((log) => nameOf(log) === 'DeathsSubmitted')
          .flatMap((log) => {
            const tx = txs.get(log.transactionHash)!;
            return decodeVictims(tx.input, tx.to, TraceScan) as Address[];
          }),
      ),
    ];
    const positions = (await readMany(
      rpc,
      deployment.addresses,
      allVictims.map((v) => ({ contract: 'GhostCore' as const, functionName: 'getPosition', args: [v] })),
    )) as ChainPosition[];
    const lost = new Map(allVictims.map((v, i) => [v, positions[i]!.amount.toString()]));

    const decode = createLogDecoder({ chainId: deployment.chainId, addresses: { GhostCore, TraceScan } });
    const envelopes: ChainEnvelope[] = logs.map((log, i) => {
      const tx = txs.get(log.transactionHash)!;
      const raw = {
        ...log,
        blockNumber: BigInt(log.blockNumber),
        logIndex: Number(BigInt(log.logIndex)),
        transactionIndex: Number(BigInt(log.transactionIndex)),
      };
      const name = nameOf(log);
      let enrichment: unknown;
      if (name === 'DeathsSubmitted') {
        enrichment = {
          victims: decodeVictims(tx.input, tx.to, TraceScan).map((address) => ({
            address,
            amountLost: lost.get(address as Address)!,
          })),
        };
      } else if (name === 'ScanFinalized') {
        const sibling = logs[i - 1]!;
        expect(sibling.transactionHash).toBe(log.transactionHash);
        enrichment = { survivors: BigInt(`0x${sibling.data.slice(2, 66)}`).toString() };
      }
      return decode(raw, {
        blockTimestampMs: blocks.get(log.blockNumber)!,
        txFrom: tx.from,
        observedAt: Date.now(),
        ...(enrichment === undefined ? {} : { enrichment }),
      });
    });

    const counts = Object.fromEntries(GAME_EVENT_NAMES.map((n) => [n, 0])) as Record<string, number>;
    for (const e of envelopes) counts[e.name]! += 1;
    console.log('events by type (bounded run):', counts);
    for (const name of GAME_EVENT_NAMES) expect(counts[name], name).toBeGreaterThan(0);
    // The simulator's own count is of the same logs.
    expect(counts).toEqual(summary.countsByType);

    // Facts the backend relies on, checked on what the simulator produced.
    for (const e of envelopes) {
      if (e.name === 'DeathsSubmitted') {
        expect(e.enrichment.victims.length).toBe(Number(e.args.count));
        expect(e.enrichment.victims.length).toBeLessThanOrEqual(100);
      }
      if (e.name === 'SystemResetTriggered') {
        expect(e.args.jackpotWinner).toBe('0x0000000000000000000000000000000000000000');
      }
      if (e.name === 'DeathsProcessed') expect([e.args.burned, e.args.distributed]).toEqual(['0', '0']);
    }
    const byTx = new Map<string, ChainEnvelope[]>();
    for (const e of envelopes) byTx.set(e.tx.hash, [...(byTx.get(e.tx.hash) ?? []), e]);
    for (const group of byTx.values()) {
      const names = group.map((e) => e.name);
      if (names.includes('PositionCulled')) expect(names).toEqual(['PositionCulled', 'JackedIn']);
      if (names.includes('DeathsSubmitted')) expect(names).toEqual(['DeathsProcessed', 'DeathsSubmitted']);
      if (names.includes('ScanFinalized'))
        expect(names.slice(-2)).toEqual(['SurvivorsUpdated', 'ScanFinalized']);
    }
  });

  it("agrees with the chain on every player's position (getPosition, isAlive)", async () => {
    const rpc = new JsonRpc(anvil.rpcUrl);
    expect(summary.players.length).toBe(summary.wallets);
    const results = await readMany(
      rpc,
      deployment.addresses,
      summary.players.flatMap((p) => [
        { contract: 'GhostCore' as const, functionName: 'getPosition', args: [p.address] },
        { contract: 'GhostCore' as const, functionName: 'isAlive', args: [p.address] },
        { contract: 'GhostCore' as const, functionName: 'isCulled', args: [p.address] },
      ]),
    );
    const statuses = new Set<string>();
    summary.players.forEach((belief, i) => {
      const position = results[i * 3] as ChainPosition;
      const alive = results[i * 3 + 1] as boolean;
      const culled = results[i * 3 + 2] as boolean;
      statuses.add(belief.status);
      const chain = {
        level: position.level,
        amount: position.amount,
        ghostStreak: position.ghostStreak,
        alive,
        culled,
      };
      expect(chain, `${belief.address} (${belief.profile}, ${belief.status})`).toEqual({
        level: belief.level,
        amount: belief.amount,
        ghostStreak: belief.ghostStreak,
        alive: belief.alive,
        culled: belief.status === 'culled',
      });
      if (belief.status === 'dead' || belief.status === 'culled') expect(position.level).toBeGreaterThan(0);
    });
    // The run reached every kind of state, so the comparison above covered them all.
    expect([...statuses].sort()).toEqual(['alive', 'culled', 'dead', 'extracted', 'fresh']);
    expect(summary.players.some((p) => p.ghostStreak > 0)).toBe(true);
  });

  it('is reproducible: the same seed on a fresh deployment gives the same run', async () => {
    const other = await startAnvil();
    try {
      const again = await runSimulation({
        rpcUrl: other.rpcUrl,
        deployment: await deployGhostnet({ rpcUrl: other.rpcUrl }),
        ...bounded(),
      });
      expect(again.countsByType).toEqual(summary.countsByType);
      expect(again.players).toEqual(summary.players);
    } finally {
      await other.stop();
    }
  });
});

describe('runSimulation options', () => {
  it('paces to eventsPerSecond', async () => {
    const paced = await runSimulation({
      rpcUrl: anvil.rpcUrl,
      deployment,
      players: 10,
      seed: 'paced',
      eventsPerSecond: 150,
      durationMs: 2500,
    });
    expect(paced.failed).toBe(0);
    expect(paced.eventsPerSecond).toBeLessThan(150 * 1.3);
    expect(paced.eventsPerSecond).toBeGreaterThan(150 * 0.5);
  });

  it('refuses wallets that already played on this chain, and bad options', async () => {
    await expect(
      runSimulation({ rpcUrl: anvil.rpcUrl, deployment, players: 5, seed: 'acceptance', maxBlocks: 1 }),
    ).rejects.toThrow(/has sent transactions on this chain already/);
    await expect(
      runSimulation({ rpcUrl: anvil.rpcUrl, deployment, players: 0, seed: 'x', maxBlocks: 1 }),
    ).rejects.toThrow(/players/);
    await expect(
      runSimulation({ rpcUrl: anvil.rpcUrl, deployment, players: 2, seed: 'x', secondsPerBlock: 200 }),
    ).rejects.toThrow(/secondsPerBlock/);
  });

  it('leaves the node mining as it found it', async () => {
    const rpc = new JsonRpc(anvil.rpcUrl);
    expect(await rpc.call('anvil_getAutomine')).toBe(true);
    const before = await rpc.call<string>('eth_blockNumber');
    const hash = await rpc.call<Hex>('eth_sendTransaction', [
      { from: deployment.deployer, to: '0x000000000000000000000000000000000000dEaD', value: '0x0' },
    ]);
    // Automine is back: the transaction gets a block of its own without anyone calling evm_mine.
    const receipt = await waitFor('the transaction to be mined', () =>
      rpc
        .call<{ blockNumber: string } | null>('eth_getTransactionReceipt', [hash])
        .then((r) => r ?? undefined),
    );
    expect(BigInt(receipt.blockNumber)).toBe(BigInt(before) + 1n);
  });
});
