/**
 * npm run bench:e2e — the spec's latency budget (block → client < 300 ms), measured end to end on the real
 * processes: a GhostCore transaction on anvil (automine: the block is produced inside the send) → ingester →
 * JetStream → gateway → SDK clients (FEED_EVENT), and → projector → gateway → the player's POSITION_UPDATE.
 * The stream append is observed on the side (a plain NATS subscription) to split the time into its stages.
 * All clocks are this process's: the transaction is sent and every client runs here.
 * Env: BENCH_CLIENTS (100 observers), BENCH_PLAYERS (20), BENCH_TX_PER_SECOND (10), BENCH_SECONDS (30).
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { issueSessionToken } from '@ghostnet/auth';
import { GatewayClient } from '@ghostnet/client';
import { deployGhostnet, ghostCoreAbi, LEVEL } from '@ghostnet/contracts';
import { createSubjects } from '@ghostnet/events';
import { createTestDatabase, freePort, startAnvil, TEST_NATS_URL, waitFor } from '@ghostnet/test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { type Abi, createPublicClient, createWalletClient, defineChain, http, type LocalAccount } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import WebSocket from 'ws';
import { AppProcess } from '../src/chaos/components.ts';
import { randomJwt } from '../src/jwt.ts';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 100);
const PLAYERS = Number(process.env.BENCH_PLAYERS ?? 20);
const RATE = Number(process.env.BENCH_TX_PER_SECOND ?? 10);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const E18 = 10n ** 18n;
const WS = WebSocket as unknown as ConstructorParameters<typeof GatewayClient>[0]['WebSocket'];
const log = (line: string) => process.stdout.write(`${line}\n`);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

interface Sent {
  player: number;
  action: 'jackIn' | 'extract';
  sentAt: number;
  blockHash: string;
}

const anvil = await startAnvil();
const database = await createTestDatabase();
const suffix = randomBytes(4).toString('hex');
const STREAM = `BENCH_E2E_${suffix}`;
const PREFIX = `e2e${suffix}`;
const nc = await connect({ servers: TEST_NATS_URL });
const jsm = await jetstreamManager(nc);
const apps: AppProcess[] = [];
const clients: GatewayClient[] = [];
try {
  log(`machine: ${cpus().length} cores, load ${load()}`);
  const players: LocalAccount[] = Array.from({ length: PLAYERS }, () =>
    privateKeyToAccount(generatePrivateKey()),
  );
  const deployment = await deployGhostnet({
    rpcUrl: anvil.rpcUrl,
    fund: { accounts: players, amount: 1_000_000n * E18, eth: 100n * E18 },
  });
  const chain = defineChain({
    id: anvil.chainId,
    name: 'anvil',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [anvil.rpcUrl] } },
  });
  const publicClient = createPublicClient({ chain, transport: http(anvil.rpcUrl), pollingInterval: 5 });
  const wallets = players.map((account) =>
    createWalletClient({ account, chain, transport: http(anvil.rpcUrl) }),
  );

  const { keyring, env: jwt } = randomJwt();
  const common = {
    LOG_LEVEL: 'warn',
    NATS_URL: TEST_NATS_URL,
    STREAM_NAME: STREAM,
    SUBJECT_PREFIX: PREFIX,
    CHAIN_ID: String(anvil.chainId),
  };
  const app = (name: string, script: string, env: Record<string, string>, kind: AppProcess['kind']) => {
    const p = new AppProcess(
      name,
      kind,
      script,
      { ...common, ...env },
      {
        restartDelayMs: 60_000,
        onCrash: (crash) =>
          log(`!! ${crash.component} exited (${crash.code ?? crash.signal}): ${crash.tail}`),
      },
    );
    apps.push(p);
    return p;
  };
  const gatewayPort = await freePort();
  await app(
    'ingester',
    'apps/ingester/src/main.ts',
    {
      RPC_URL: anvil.rpcUrl,
      RPC_WS_URL: anvil.wsUrl,
      GHOST_CORE_ADDRESS: deployment.addresses.GhostCore,
      TRACE_SCAN_ADDRESS: deployment.addresses.TraceScan,
      START_BLOCK: String(deployment.deployBlock),
    },
    'ingester',
  ).start();
  await waitFor('the stream', async () => (await jsm.streams.info(STREAM).catch(() => null)) !== null, {
    timeoutMs: 60_000,
  });
  await Promise.all([
    app('projector', 'apps/projector/src/main.ts', { DATABASE_URL: database.url }, 'projector').start(),
    app(
      'gateway',
      'apps/gateway/src/main.ts',
      {
        DATABASE_URL: database.url,
        HOST: '127.0.0.1',
        PORT: String(gatewayPort),
        ...jwt,
        CONNECTIONS_BUCKET: `e2e_${suffix}`,
      },
      'gateway',
    ).start(),
  ]);
  await waitFor(
    'the gateway',
    () =>
      fetch(`http://127.0.0.1:${gatewayPort}/health`)
        .then((r) => r.ok)
        .catch(() => false),
    { timeoutMs: 60_000, intervalMs: 200 },
  );

  // One JACK_IN before the clients connect, so that the projector has a checkpoint for their FULL_SYNC.
  const send = async (player: number, action: Sent['action']): Promise<Sent> => {
    const sentAt = performance.now();
    const hash = await wallets[player]!.writeContract({
      address: deployment.addresses.GhostCore,
      abi: ghostCoreAbi as Abi,
      functionName: action,
      args: action === 'jackIn' ? [100n * E18, LEVEL.VAULT] : [],
    } as never);
    const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 5 });
    if (receipt.status !== 'success') throw new Error(`${action} by player ${player} reverted`);
    return { player, action, sentAt, blockHash: receipt.blockHash.toLowerCase() };
  };
  const inGame = new Set<number>();
  await send(0, 'jackIn');
  inGame.add(0);

  // Where each block's events were seen: appended to the stream, delivered to each client.
  const appendedAt = new Map<string, number>();
  const sub = nc.subscribe(`${createSubjects(anvil.chainId, PREFIX).root}.chain.>`, {
    callback: (_error, msg) => {
      const { block } = msg.json<{ block: { hash: string } }>();
      if (!appendedAt.has(block.hash)) appendedAt.set(block.hash, performance.now());
    },
  });
  const deliveredAt = new Map<string, number[]>();
  const positionsOf = new Map<number, { at: number; alive: boolean }[]>();
  const token = async (address: string) =>
    (await issueSessionToken(keyring, { address, chainId: anvil.chainId })).token;
  const url = `ws://127.0.0.1:${gatewayPort}`;
  for (let i = 0; i < CLIENTS; i++) {
    const client = new GatewayClient({
      url,
      token: await token(`0x${(0xe2e00000 + i).toString(16).padStart(40, '0')}`),
      WebSocket: WS,
    });
    client.on('feed', (event) => {
      const blockHash = event.id.split(':')[1]!;
      const list = deliveredAt.get(blockHash) ?? [];
      list.push(performance.now());
      deliveredAt.set(blockHash, list);
    });
    clients.push(client.connect());
  }
  for (let p = 0; p < PLAYERS; p++) {
    const client = new GatewayClient({
      url,
      token: await token(players[p]!.address.toLowerCase()),
      WebSocket: WS,
    });
    const seen: { at: number; alive: boolean }[] = [];
    positionsOf.set(p, seen);
    client.on('position', (position) => seen.push({ at: performance.now(), alive: position !== null }));
    clients.push(client.connect());
  }
  await waitFor('every client live', async () => clients.every((c) => c.status === 'live'), {
    timeoutMs: 120_000,
    intervalMs: 100,
  });
  log(`${CLIENTS} observers + ${PLAYERS} players connected; ${RATE} tx/s for ${SECONDS} s (load ${load()})`);

  // Load: players take turns jacking in and extracting, one transaction every 1/RATE s.
  const sent: Sent[] = [];
  const failed: string[] = [];
  const started = performance.now();
  for (let n = 0; performance.now() - started < SECONDS * 1000; n++) {
    const due = started + (n * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const player = n % PLAYERS;
    const action = inGame.has(player) ? 'extract' : 'jackIn';
    try {
      sent.push(await send(player, action));
    } catch (error) {
      // Counted and reported, not measured; the player's state is read back so the turns go on.
      failed.push(`${(error as Error).message.split('\n')[0]}`);
      const alive = await publicClient.readContract({
        address: deployment.addresses.GhostCore,
        abi: ghostCoreAbi as Abi,
        functionName: 'isAlive',
        args: [players[player]!.address],
      });
      if (alive) inGame.add(player);
      else inGame.delete(player);
      continue;
    }
    if (action === 'jackIn') inGame.add(player);
    else inGame.delete(player);
  }
  await new Promise((r) => setTimeout(r, 3_000)); // the last deliveries
  sub.unsubscribe();

  const feed: number[] = [];
  const appended: number[] = [];
  const fanout: number[] = [];
  const position: number[] = [];
  let missing = 0;
  for (const s of sent) {
    const append = appendedAt.get(s.blockHash);
    if (append !== undefined) appended.push(append - s.sentAt);
    const deliveries = deliveredAt.get(s.blockHash) ?? [];
    missing += CLIENTS - deliveries.length;
    for (const at of deliveries) {
      feed.push(at - s.sentAt);
      if (append !== undefined) fanout.push(at - append);
    }
    const update = positionsOf
      .get(s.player)!
      .find((u) => u.at > s.sentAt && u.alive === (s.action === 'jackIn'));
    if (update) position.push(update.at - s.sentAt);
  }
  const stats = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
    return `p50 ${q(0.5).toFixed(1)} ms, p99 ${q(0.99).toFixed(1)} ms, max ${(sorted.at(-1) ?? Number.NaN).toFixed(1)} ms (n=${xs.length})`;
  };
  log(`${sent.length} transactions, ${feed.length} feed deliveries (${missing} missing), load ${load()}`);
  if (failed.length > 0)
    log(`  ${failed.length} transactions failed and are not measured: ${failed.slice(0, 3).join('; ')}`);
  log(`  tx sent → appended to the stream:        ${stats(appended)}`);
  log(`  appended → SDK client FEED_EVENT:        ${stats(fanout)}`);
  log(`  tx sent → SDK client FEED_EVENT:         ${stats(feed)}   (budget: block → client < 300 ms)`);
  log(`  tx sent → player's POSITION_UPDATE:      ${stats(position)}   (through the projector)`);
  if (missing > 0 || position.length < sent.length) process.exitCode = 1;
} finally {
  for (const c of clients) c.close();
  for (const a of apps) await a.stop();
  await jsm.streams.delete(STREAM).catch(() => {});
  await jsm.streams.delete(`KV_e2e_${suffix}`).catch(() => {});
  await nc.close();
  await anvil.stop();
  await database.drop();
}
