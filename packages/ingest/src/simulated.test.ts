import { deployGhostnet, type GhostnetDeployment, ghostCoreAbi } from '@ghostnet/contracts';
import {
  CHAIN_EVENT_NAMES,
  type ChainEnvelope,
  EVENT_PLANS,
  LevelName,
  toFeedEvents,
} from '@ghostnet/events';
import { createLogger } from '@ghostnet/logger';
import { runSimulation } from '@ghostnet/sim';
import {
  type Anvil,
  canonicalChainEvents,
  createTestStream,
  readStream,
  startAnvil,
  type TestStream,
  waitFor,
} from '@ghostnet/test';
import { createPublicClient, http } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIngester, type Ingester } from './ingester.ts';

const ZERO = '0x0000000000000000000000000000000000000000';
let anvil: Anvil;
let deployment: GhostnetDeployment;
let stream: TestStream;
let ingester: Ingester;

const game = {
  players: 24,
  txsPerBlock: 40,
  culling: { level: 5 as const, maxPositions: 3 },
  systemResetEveryBlocks: 25,
  emissionsEveryBlocks: 8,
};

beforeAll(async () => {
  anvil = await startAnvil();
  deployment = await deployGhostnet({ rpcUrl: anvil.rpcUrl });
  stream = await createTestStream({ chainId: anvil.chainId });
});
afterAll(async () => {
  await ingester?.stop();
  await stream?.destroy();
  await anvil?.stop();
});

/** The chain's game logs, straight from the node: what the stream must equal. */
async function chainLogIds(): Promise<string[]> {
  const response = await fetch(anvil.rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'eth_getLogs',
      params: [
        {
          address: [deployment.addresses.GhostCore, deployment.addresses.TraceScan],
          topics: [[...EVENT_PLANS.keys()]],
          fromBlock: `0x${deployment.deployBlock.toString(16)}`,
          toBlock: 'latest',
        },
      ],
    }),
  });
  const { result } = (await response.json()) as { result: { blockHash: string; logIndex: string }[] };
  return result.map((l) => `${anvil.chainId}:${l.blockHash.toLowerCase()}:${Number(l.logIndex)}`);
}

async function streamEvents(): Promise<ChainEnvelope[]> {
  return canonicalChainEvents(await readStream(stream.js, stream.jsm, stream.name)).map(
    (s) => s.message as ChainEnvelope,
  );
}

async function expectStreamEqualsChain(): Promise<ChainEnvelope[]> {
  const expected = await chainLogIds();
  let events: ChainEnvelope[] = [];
  await waitFor(
    'stream to equal the chain',
    async () => {
      events = await streamEvents();
      return events.length === expected.length;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  ).catch(() => {});
  expect(events.map((e) => e.id)).toEqual(expected);
  return events;
}

describe('ingesting a simulated game', () => {
  it('backfills the simulator history, then follows the simulator live: each log once, in order', async () => {
    const history = await runSimulation({
      rpcUrl: anvil.rpcUrl,
      deployment,
      seed: 'ingest-history',
      maxBlocks: 110,
      ...game,
    });
    expect(history.failed).toBe(0);

    ingester = createIngester({
      rpcUrl: anvil.rpcUrl,
      wsUrl: anvil.wsUrl,
      chainId: anvil.chainId,
      addresses: deployment.addresses,
      startBlock: deployment.deployBlock,
      nc: stream.nc,
      streamName: stream.name,
      subjectPrefix: stream.prefix,
      logger: createLogger({ name: 'sim-ingest', level: 'silent' }),
    });
    await ingester.start();
    const backfilled = await expectStreamEqualsChain();
    expect(backfilled.length).toBe(history.events);

    const live = await runSimulation({
      rpcUrl: anvil.rpcUrl,
      deployment,
      seed: 'ingest-live',
      maxBlocks: 40,
      ...game,
    });
    expect(live.failed).toBe(0);
    const events = await expectStreamEqualsChain();

    const counts = Object.fromEntries(
      CHAIN_EVENT_NAMES.map((n) => [n, events.filter((e) => e.name === n).length]),
    );
    console.log('events by type:', JSON.stringify(counts));
    for (const name of CHAIN_EVENT_NAMES) expect(counts[name], name).toBeGreaterThan(0);

    // Enrichment agrees with the logs it was derived from.
    let jackpots = 0;
    const client = createPublicClient({ transport: http(anvil.rpcUrl) });
    for (const [i, e] of events.entries()) {
      if (e.name === 'DeathsSubmitted') {
        expect(e.enrichment.victims.length).toBe(Number(e.args.count));
        for (const v of e.enrichment.victims) expect(BigInt(v.amountLost)).toBeGreaterThan(0n);
      }
      if (e.name === 'ScanFinalized') {
        const survivors = events
          .slice(0, i)
          .reverse()
          .find((p) => p.tx.hash === e.tx.hash && p.name === 'SurvivorsUpdated');
        expect(survivors?.name === 'SurvivorsUpdated' && survivors.args.count).toBe(e.enrichment.survivors);
      }
      if (e.name === 'SystemResetTriggered') {
        // The jackpot goes to the last depositor since the previous reset (the log itself says 0x0).
        expect(e.args.jackpotWinner).toBe(ZERO);
        const since = events.slice(0, i).findLastIndex((p) => p.name === 'SystemResetTriggered');
        const last = events
          .slice(since + 1, i)
          .findLast((p) => p.name === 'JackedIn' || p.name === 'StakeAdded');
        const winner = last && BigInt(e.args.jackpotAmount) > 0n ? last.args.user : null;
        // Its level: the winner's position at the end of that block, decoded here with the full ABI.
        const position = winner
          ? await client.readContract({
              address: deployment.addresses.GhostCore,
              abi: ghostCoreAbi,
              functionName: 'getPosition',
              args: [winner as `0x${string}`],
              blockNumber: BigInt(e.block.number),
            })
          : null;
        // Its level: the winner's live position at the end of that block, decoded here with the full ABI.
        const level = position?.alive ? LevelName.options[position.level - 1] : null;
        expect(e.enrichment).toEqual({ jackpotWinner: winner, jackpotWinnerLevel: level ?? null });
        const feed = toFeedEvents(e);
        expect(feed[0]).toMatchObject({ type: 'SYSTEM_RESET', data: { jackpotWinner: winner ?? ZERO } });
        // JACKPOT needs the winner's level: not shown for a winner who no longer holds a position.
        expect(feed).toHaveLength(winner && level ? 2 : 1);
        if (winner && level) {
          expect(feed[1]).toEqual({
            id: `${e.id}#jackpot`,
            type: 'JACKPOT',
            timestamp: e.block.timestamp,
            data: {
              address: winner,
              level,
              amount: e.args.jackpotAmount,
            },
          });
          jackpots++;
        }
      }
    }
    expect(jackpots).toBeGreaterThan(0);
  }, 240_000);
});
