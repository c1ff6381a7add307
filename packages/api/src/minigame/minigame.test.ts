import { connect, createServer } from 'node:net';
import { keyringFromEnv } from '@ghostnet/auth';
import { GatewayClient } from '@ghostnet/client';
import { Secret } from '@ghostnet/config';
import {
  anvilAccount,
  DEV_ACCOUNT_ROLES,
  deployGhostnet,
  type GhostnetDeployment,
  ghostCoreAbi,
  traceScanAbi,
} from '@ghostnet/contracts';
import { createDatabasePool, type DatabasePool, sql } from '@ghostnet/db';
import { type FeedEvent, type Position, parseStreamMessage } from '@ghostnet/events';
import { Gateway, projectionSnapshots } from '@ghostnet/gateway';
import { createIngester, type Ingester } from '@ghostnet/ingest';
import { createLogger } from '@ghostnet/logger';
import {
  createProjectionRunner,
  gameProjection,
  type ProjectionRunner,
  readPositionEvents,
} from '@ghostnet/projections';
import {
  type Anvil,
  createTestDatabase,
  createTestStream,
  freePort,
  sendContractCall,
  startAnvil,
  type TestDatabase,
  type TestStream,
  waitFor,
} from '@ghostnet/test';
import { type Abi, createPublicClient, http, type LocalAccount, toHex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { foundry } from 'viem/chains';
import { createSiweMessage } from 'viem/siwe';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import { call, type RunningApi, startApi, TEST_JWT, TEST_SIWE } from '../testing/apiProcess.ts';
import { pruneTypingChallenges } from './routes.ts';
import { expectedDurationMs } from './rules.ts';

// Each file starts API processes: slow to start on a loaded machine, never a reason to fail.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

const E18 = 10n ** 18n;
const DARKNET = 4;
let anvil: Anvil;
let db: TestDatabase;
let stream: TestStream;
let api: RunningApi;
let deployment: GhostnetDeployment;
const signerKey = toHex(anvilAccount(DEV_ACCOUNT_ROLES.boostSigner).getHdKey().privateKey!);
const [alice, bob, carol, dave, erin] = DEV_ACCOUNT_ROLES.testWallets.map((i) =>
  anvilAccount(i),
) as LocalAccount[];
const tokens = new Map<string, string>();
let ingester: Ingester | undefined;
let runner: ProjectionRunner | undefined;
let pool: DatabasePool | undefined;
/** The API's own tables, to look at what a request left behind. */
let apiDb: DatabasePool;
let gateway: Gateway | undefined;
let client: GatewayClient | undefined;
/** The second boost of the first test: applied on chain later, while an SDK client watches. */
let signedNotApplied: { valueBps: number; expiry: number; nonce: string; signature: string } | undefined;

let publicClient: ReturnType<typeof createPublicClient>;
const send = (
  account: LocalAccount,
  contract: 'GhostCore' | 'TraceScan',
  functionName: string,
  args: unknown[],
) =>
  sendContractCall(anvil.rpcUrl, account, {
    address: deployment.addresses[contract],
    abi: contract === 'GhostCore' ? ghostCoreAbi : traceScanAbi,
    functionName,
    args,
  });
/** The player submits a signed boost the API returned, as the frontend would. */
const applyBoost = (
  player: LocalAccount,
  boost: { valueBps: number; expiry: number; nonce: string; signature: string },
) =>
  send(player, 'GhostCore', 'applyBoost', [
    0,
    boost.valueBps,
    BigInt(boost.expiry),
    boost.nonce,
    boost.signature,
  ]);
const read = (functionName: string, args: unknown[]) =>
  publicClient.readContract({
    address: deployment.addresses.GhostCore,
    abi: ghostCoreAbi as Abi,
    functionName,
    args,
  });

beforeAll(async () => {
  [anvil, db, stream] = await Promise.all([startAnvil(), createTestDatabase(), createTestStream()]);
  publicClient = createPublicClient({ chain: foundry, transport: http(anvil.rpcUrl) });
  deployment = await deployGhostnet({
    rpcUrl: anvil.rpcUrl,
    fund: { accounts: [alice!, bob!, carol!, erin!], amount: 1000n * E18 },
  });
  for (const player of [alice!, bob!, carol!, erin!]) {
    expect((await send(player, 'GhostCore', 'jackIn', [200n * E18, DARKNET])).status).toBe('success');
    expect(await read('isAlive', [player.address])).toBe(true);
  }
  api = await startApi({ databaseUrl: db.url, stream, env: apiEnv(anvil.rpcUrl) });
  apiDb = await createDatabasePool(db.url, { maximumPoolSize: 2 });
  for (const player of [alice!, bob!, carol!, dave!, erin!]) tokens.set(player.address, await login(player));
});

const apiEnv = (rpcUrl: string) => ({
  RPC_URL: rpcUrl,
  GHOST_CORE_ADDRESS: deployment.addresses.GhostCore,
  TRACE_SCAN_ADDRESS: deployment.addresses.TraceScan,
  BOOST_SIGNER_PRIVATE_KEY: signerKey,
  RATE_LIMIT_ANON_PER_MINUTE: '10000',
  LOG_LEVEL: 'trace',
});

afterAll(async () => {
  client?.close();
  await apiDb?.end();
  await gateway?.stop();
  // The gateway's connection-lease bucket lives beside the test stream on the shared NATS.
  if (gateway) await stream.jsm.streams.delete(`KV_gw_${stream.name}`).catch(() => {});
  await runner?.stop();
  await ingester?.stop();
  await pool?.end();
  await api?.stop();
  await anvil?.stop();
  await Promise.all([db?.drop(), stream?.destroy()]);
});

async function login(player: LocalAccount): Promise<string> {
  const { nonce } = (await call(api.url, 'GET', '/auth/nonce')).body;
  const message = createSiweMessage({
    address: player.address,
    domain: TEST_SIWE.domain,
    uri: TEST_SIWE.origin,
    version: '1',
    chainId: stream.chainId,
    nonce,
    issuedAt: new Date(),
  });
  const res = await call(api.url, 'POST', '/auth/verify', {
    body: { message, signature: await player.signMessage!({ message }) },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.token;
}

async function minigameEvents() {
  const out: { address: string; result: { boostBps: number | null } }[] = [];
  const info = await stream.jsm.streams.info(stream.name);
  if (info.state.messages === 0) return out;
  const consumer = await stream.js.consumers.get(stream.name, {
    filter_subjects: stream.subjects.app('MinigameResult'),
  });
  for await (const msg of await consumer.fetch({ max_messages: 100, expires: 1000 })) {
    const envelope = parseStreamMessage(msg.data);
    if (envelope.kind === 'app' && envelope.name === 'MinigameResult') out.push(envelope.args);
    if (msg.info.pending === 0) break;
  }
  await consumer.delete().catch(() => {});
  return out;
}

/** A challenge issued "just now": nobody can have typed it yet. */
const freshChallenge = async (player: LocalAccount) =>
  (await call(api.url, 'POST', '/minigame/typing/challenge', { token: tokens.get(player.address) })).body;

/** A challenge as the player answers it: issued 10 s ago (its issue time moved back instead of waiting). */
async function challenge(player: LocalAccount) {
  const ch = await freshChallenge(player);
  await apiDb.query(sql.unsafe`
    UPDATE api_typing_challenges SET issued_at = issued_at - interval '10 seconds' WHERE id = ${ch.challengeId}`);
  return ch;
}

/** A plausible result for a challenge: 180 WPM at 90 % (1500 bps), typed in the time 180 WPM takes, or with changes. */
function result(ch: { challengeId: string; command: string }, change: Record<string, unknown> = {}) {
  return {
    challengeId: ch.challengeId,
    accuracy: 0.9,
    wpm: 180,
    command: ch.command,
    timestamp: Date.now(),
    duration: expectedDurationMs(ch.command, 180),
    ...change,
  };
}
const submit = (player: LocalAccount, body: unknown) =>
  call(api.url, 'POST', '/minigame/typing/result', { token: tokens.get(player.address), body });

describe('typing mini-game on anvil with our GhostCore', () => {
  it('login → challenge → result → the signed boost is accepted by applyBoost and lowers the death rate', async () => {
    const ch = await challenge(alice!);
    expect(ch.command.length).toBeGreaterThan(10);
    const res = await submit(alice!, result(ch));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ valid: true, boost: { type: 0, valueBps: 1500 } });
    const { boost } = res.body;
    const nextScan = Number(await read('nextScanTime', [DARKNET]));
    expect(boost.expiry).toBeGreaterThan(nextScan + 120);

    const before = Number(await read('getEffectiveDeathRate', [alice!.address]));
    expect((await applyBoost(alice!, boost)).status).toBe('success');
    expect(Number(await read('getEffectiveDeathRate', [alice!.address]))).toBe(before - 1500);

    // The boost now counts against the 3500 bps cap: the next one is cut to what is left.
    const next = await submit(alice!, result(await challenge(alice!), { accuracy: 1 }));
    expect(next.body).toMatchObject({ valid: true, boost: { valueBps: 2000 } });
    signedNotApplied = next.body.boost;
    // Each valid result reached the stream through the outbox (the feed's MINIGAME_RESULT).
    const results = await waitFor(
      'the MinigameResult events',
      async () => {
        const found = await minigameEvents();
        return found.length >= 2 ? found : undefined;
      },
      { timeoutMs: 60_000 },
    );
    expect(
      results.map((r: { address: string; result: { boostBps: number | null } }) => [
        r.address,
        r.result.boostBps,
      ]),
    ).toEqual([
      [alice!.address.toLowerCase(), 1500],
      [alice!.address.toLowerCase(), 2000],
    ]);
    // 180 WPM passes the checks and is rewarded, but is recorded as suspicious (never shown to the player).
    expect(JSON.stringify(res.body)).not.toMatch(/suspicious|WPM_OVER/i);
    const review = await createDatabasePool(db.url, { maximumPoolSize: 1 });
    try {
      const flags = await review.anyFirst(sql.type(z.object({ suspicious: z.array(z.string()) }))`
        SELECT suspicious FROM api_typing_results WHERE address = ${alice!.address.toLowerCase()} ORDER BY created_at`);
      expect(flags).toEqual([['WPM_OVER_150'], ['WPM_OVER_150']]);
    } finally {
      await review.end();
    }
    // The 2000 bps signature is not applied yet, but it counts: 1500 active + 2000 promised leaves nothing.
    // (Counting the chain alone, a third win would be signed 2000 again, and both applied give 5500.)
    const third = await submit(alice!, result(await challenge(alice!), { accuracy: 1 }));
    expect(third.body).toEqual({ valid: true, reason: 'BOOST_CAP_REACHED' });
  });

  it("the applied boost is indexed: ingester → stream → projector shows a BOOST on the player's position", async () => {
    const logger = createLogger({ name: 'pipeline', level: 'warn' });
    ingester = createIngester({
      rpcUrl: anvil.rpcUrl,
      chainId: stream.chainId,
      addresses: { GhostCore: deployment.addresses.GhostCore, TraceScan: deployment.addresses.TraceScan },
      startBlock: deployment.deployBlock,
      nc: stream.nc,
      streamName: stream.name,
      subjectPrefix: stream.prefix,
      pollIntervalMs: 100,
      logger,
    });
    await ingester.start();
    pool = await createDatabasePool(db.url);
    runner = createProjectionRunner({
      pool,
      databaseUrl: db.url,
      nc: stream.nc,
      streamName: stream.name,
      chainId: stream.chainId,
      subjectPrefix: stream.prefix,
      projections: [gameProjection],
      logger,
      pollMs: 200,
    });
    await runner.start();
    const boost = await waitFor(
      'the BoostApplied in the projection',
      async () => (await readPositionEvents(pool!, alice!.address)).events.find((e) => e.kind === 'BOOST'),
      { timeoutMs: 60_000 },
    );
    expect(boost.level).toBe('DARKNET');
  });

  it('a connected SDK client sees the boost: POSITION_UPDATE with it once applied, MINIGAME_RESULT in the feed', async () => {
    const logger = createLogger({ name: 'gateway', level: 'warn' });
    gateway = new Gateway({
      nc: stream.nc,
      streamName: stream.name,
      subjectRoot: stream.subjects.root,
      keyring: keyringFromEnv({ ...TEST_JWT, JWT_KEYS: new Secret(TEST_JWT.JWT_KEYS) }),
      snapshots: projectionSnapshots(pool!),
      logger,
      host: '127.0.0.1',
      port: 0,
      allowedOrigins: [TEST_SIWE.origin],
      connectionsBucket: `gw_${stream.name}`,
      positionTickMs: 50,
    });
    await gateway.start();
    await gateway.whenReady();
    const positions: Position[] = [];
    const feed: FeedEvent[] = [];
    client = new GatewayClient({
      url: `ws://127.0.0.1:${gateway.port}`,
      token: tokens.get(alice!.address)!,
      WebSocket: WebSocket as never,
    });
    client.on('position', (position) => position && positions.push(position));
    client.on('feed', (event) => feed.push(event));
    client.connect();
    // The snapshot already holds the boost applied before the client came.
    const synced = await waitFor('the first snapshot', async () => client!.state.position ?? undefined, {
      timeoutMs: 60_000,
    });
    expect(synced.boosts).toMatchObject([{ type: 'DEATH_REDUCTION', valueBps: 1500 }]);

    const pending = signedNotApplied!;
    expect((await applyBoost(alice!, pending)).status).toBe('success');
    const update = await waitFor(
      'the POSITION_UPDATE with the second boost',
      async () => positions.find((p) => p.boosts.length === 2),
      { timeoutMs: 60_000 },
    );
    expect(update.boosts).toEqual([
      { type: 'DEATH_REDUCTION', valueBps: 1500, expiresAt: expect.any(Number) },
      { type: 'DEATH_REDUCTION', valueBps: 2000, expiresAt: pending.expiry * 1000 },
    ]);
    expect(Number(await read('getEffectiveDeathRate', [alice!.address]))).toBe(0);

    // The cap is reached: a new win is still a valid result, on the feed, with no boost to sign.
    const capped = await submit(alice!, result(await challenge(alice!)));
    expect(capped.body).toMatchObject({ valid: true, reason: 'BOOST_CAP_REACHED' });
    expect(capped.body.boost ?? null).toBeNull();
    const announced = await waitFor(
      'the MINIGAME_RESULT feed event',
      async () => feed.find((e) => e.type === 'MINIGAME_RESULT'),
      { timeoutMs: 60_000 },
    );
    expect(announced.data).toMatchObject({ address: alice!.address.toLowerCase(), game: 'typing' });
  });

  it('rejects each cheat with its reason', async () => {
    const stale = await submit(bob!, result(await challenge(bob!), { timestamp: Date.now() - 6 * 60_000 }));
    expect(stale.body).toEqual({ valid: false, reason: 'STALE_TIMESTAMP' });

    const first = await challenge(bob!);
    const accepted = result(first);
    expect((await submit(bob!, accepted)).body.valid).toBe(true);
    expect((await submit(bob!, accepted)).body.reason).toBe('CHALLENGE_REPLAYED');
    // Two answers to one challenge at once: the row lock lets exactly one through.
    const raced = await challenge(bob!);
    const both = await Promise.all([
      submit(bob!, result(raced)),
      submit(bob!, result(raced, { timestamp: Date.now() + 1 })),
    ]);
    expect(both.map((r) => r.body.reason ?? 'ok').sort()).toEqual(['CHALLENGE_REPLAYED', 'ok']);
    const again = await challenge(bob!);
    expect(
      (await submit(bob!, { ...accepted, challengeId: again.challengeId, command: again.command })).body
        .reason,
    ).toBe('RESULT_REPLAYED');
    expect((await submit(carol!, result(await challenge(bob!)))).body.reason).toBe('CHALLENGE_NOT_YOURS');
    expect(
      (await submit(bob!, { ...result(await challenge(bob!)), challengeId: crypto.randomUUID() })).body
        .reason,
    ).toBe('CHALLENGE_UNKNOWN');

    const cases: [Record<string, unknown>, string][] = [
      [{ wpm: 5 }, 'WPM_OUT_OF_RANGE'],
      [{ wpm: 250 }, 'WPM_OUT_OF_RANGE'],
      [{ duration: 60_000 }, 'DURATION_IMPLAUSIBLE'],
      [{ wpm: 20 }, 'DURATION_IMPLAUSIBLE'],
      [{ accuracy: 1.2 }, 'ACCURACY_OUT_OF_RANGE'],
      [{ keystrokes: Array(60).fill(5) }, 'KEYSTROKES_TOO_FAST'],
    ];
    for (const [change, reason] of cases) {
      const res = await submit(carol!, result(await challenge(carol!), change));
      expect({ change, body: res.body }).toEqual({ change, body: { valid: false, reason } });
    }
    // A bot answering the moment the challenge is issued, claiming no time at all: the ±5 s the facts file
    // allows covers the 2–4 s that 180 WPM takes, but the server saw no such time pass.
    const instant = await submit(carol!, result(await freshChallenge(carol!), { duration: 0 }));
    expect(instant.body).toEqual({ valid: false, reason: 'DURATION_IMPLAUSIBLE' });
  });

  it('refuses malformed input with 400 and the error shape', async () => {
    const ch = await challenge(carol!);
    const bad = [
      {},
      { ...result(ch), challengeId: 'not-a-uuid' },
      { ...result(ch), wpm: 'fast' },
      { ...result(ch), timestamp: -1 },
      { ...result(ch), duration: 1e9 },
      { ...result(ch), keystrokes: ['a'] },
      { ...result(ch), command: 'x'.repeat(500) },
    ];
    for (const body of bad) {
      const res = await submit(carol!, body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
    expect((await call(api.url, 'POST', '/minigame/typing/challenge')).status).toBe(401);
  });

  it('allows 10 games an hour', async () => {
    for (let i = 0; i < 10; i++) {
      expect((await submit(erin!, result(await challenge(erin!), { wpm: 5 }))).body.reason).toBe(
        'WPM_OUT_OF_RANGE',
      );
    }
    expect((await submit(erin!, result(await challenge(erin!)))).body).toEqual({
      valid: false,
      reason: 'TOO_MANY_GAMES',
    });
  });

  it('two wins at once: the second is capped by the signature the first was given, applied or not', async () => {
    const [a, b] = await Promise.all([challenge(carol!), challenge(carol!)]);
    const both = await Promise.all([
      submit(carol!, result(a, { accuracy: 1, wpm: 120, duration: expectedDurationMs(a.command, 120) })),
      submit(
        carol!,
        result(b, {
          accuracy: 1,
          wpm: 120,
          duration: expectedDurationMs(b.command, 120),
          timestamp: Date.now() + 1,
        }),
      ),
    ]);
    expect(both.map((r) => r.body.boost?.valueBps ?? r.body.reason).sort()).toEqual([
      3500,
      'BOOST_CAP_REACHED',
    ]);
  });

  it('reads the chain only for a result that could earn a boost: a cheat is answered while the chain is down', async () => {
    const offline = await startApi({ databaseUrl: db.url, stream, env: apiEnv('http://127.0.0.1:9') });
    try {
      const submitOffline = (body: unknown) =>
        call(offline.url, 'POST', '/minigame/typing/result', { token: tokens.get(dave!.address), body });
      expect((await submitOffline(result(await challenge(dave!), { wpm: 5 }))).body).toEqual({
        valid: false,
        reason: 'WPM_OUT_OF_RANGE',
      });
      expect(
        (await submitOffline({ ...result(await challenge(dave!)), challengeId: crypto.randomUUID() })).body,
      ).toEqual({ valid: false, reason: 'CHALLENGE_UNKNOWN' });
      // One that could earn a boost needs the chain: 503, and nothing is used up.
      const winner = result(await challenge(dave!));
      const down = await submitOffline(winner);
      expect(down.status).toBe(503);
      expect(down.body.error.code).toBe('CHAIN_UNAVAILABLE');
      expect((await submit(dave!, winner)).body).toEqual({ valid: false, reason: 'NO_POSITION' });
    } finally {
      await offline.stop();
    }
  });

  it('bounds the challenges a player holds open, and prunes the unanswered ones once expired', async () => {
    const grace = privateKeyToAccount(generatePrivateKey());
    tokens.set(grace.address, await login(grace));
    const open = [];
    for (let i = 0; i < 20; i++) open.push(await freshChallenge(grace));
    const over = await call(api.url, 'POST', '/minigame/typing/challenge', {
      token: tokens.get(grace.address),
    });
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe('TOO_MANY_CHALLENGES');
    // Answered ones stay (the hourly limit and the replay check read their results); expired ones free a slot.
    await submit(grace, result(open[0], { wpm: 5 }));
    const address = grace.address.toLowerCase();
    await apiDb.query(sql.unsafe`
      UPDATE api_typing_challenges SET issued_at = now() - interval '3 hours', expires_at = now() - interval '2 hours'
      WHERE address = ${address}`);
    expect(
      (await call(api.url, 'POST', '/minigame/typing/challenge', { token: tokens.get(grace.address) }))
        .status,
    ).toBe(200);
    // (The API's own pruning, every 60 s, may have got there first: what is left is what counts.)
    await pruneTypingChallenges(apiDb);
    const left = await apiDb.anyFirst(sql.type(z.object({ answered: z.boolean() }))`
      SELECT answered_at IS NOT NULL AS answered FROM api_typing_challenges WHERE address = ${address} ORDER BY issued_at`);
    expect(left).toEqual([true, false]);
  });

  it('signs nothing for a player without a position, or while a scan of their level is pending', async () => {
    expect((await submit(dave!, result(await challenge(dave!)))).body).toEqual({
      valid: false,
      reason: 'NO_POSITION',
    });

    const owner = anvilAccount(DEV_ACCOUNT_ROLES.deployer);
    const block = await publicClient.getBlock();
    await send(owner, 'GhostCore', 'setNextScanTime', [DARKNET, block.timestamp + 5n]);
    await publicClient.request({ method: 'evm_increaseTime' as never, params: [10] as never });
    await send(owner, 'TraceScan', 'executeScan', [DARKNET]);
    const ch = await challenge(bob!);
    const games = async () =>
      apiDb.oneFirst(sql.type(z.object({ n: z.number() }))`
        SELECT count(*)::int AS n FROM api_typing_results WHERE address = ${bob!.address.toLowerCase()}`);
    const before = await games();
    const pending = result(ch, { timestamp: Date.now() + 1 });
    expect((await submit(bob!, pending)).body).toEqual({ valid: false, reason: 'SCAN_PENDING' });
    // The player cannot see the scan's state: the game is not used up, the same answer may come again.
    expect((await submit(bob!, pending)).body).toEqual({ valid: false, reason: 'SCAN_PENDING' });
    expect(await games()).toBe(before);
  });

  it("serializes one player's results: the same timestamp twice is one game, and the hourly cap holds under concurrency", async () => {
    const frank = privateKeyToAccount(generatePrivateKey());
    tokens.set(frank.address, await login(frank));
    const timestamp = Date.now();
    const [a, b] = await Promise.all([challenge(frank), challenge(frank)]);
    const pair = await Promise.all([
      submit(frank, result(a, { timestamp })),
      submit(frank, result(b, { timestamp })),
    ]);
    expect(pair.map((r) => r.status)).toEqual([200, 200]);
    expect(pair.filter((r) => r.body.reason === 'RESULT_REPLAYED')).toHaveLength(1);

    // One game played; twelve more at once: exactly nine fit in the hour.
    const challenges = await Promise.all(Array.from({ length: 12 }, () => challenge(frank)));
    const burst = await Promise.all(
      challenges.map((ch, i) => submit(frank, result(ch, { timestamp: timestamp + 1 + i }))),
    );
    expect(burst.map((r) => r.status)).toEqual(Array(12).fill(200));
    expect(burst.filter((r) => r.body.reason !== 'TOO_MANY_GAMES')).toHaveLength(9);
  });

  it('refuses to start with a signer key GhostCore does not accept, naming both addresses, never the key', async () => {
    const wrongKey = generatePrivateKey();
    const wrong = await startApi({
      databaseUrl: db.url,
      stream,
      env: { ...apiEnv(anvil.rpcUrl), BOOST_SIGNER_PRIVATE_KEY: wrongKey },
      waitReady: false,
    });
    const code = await wrong.process.exited;
    const output = wrong.process.output();
    expect(code, output).toBe(78);
    expect(output).toContain(privateKeyToAccount(wrongKey).address);
    expect(output).toContain(anvilAccount(DEV_ACCOUNT_ROLES.boostSigner).address);
    expect(output.toLowerCase()).not.toContain(wrongKey.slice(2).toLowerCase());
  });

  it('an RPC down at start: nothing is signed until the signer is checked, and nothing with a key GhostCore does not accept', async () => {
    const port = await freePort();
    const wrongKey = generatePrivateKey();
    const rpc = `http://127.0.0.1:${port}`;
    const [wrong, right] = await Promise.all([
      startApi({ databaseUrl: db.url, stream, env: { ...apiEnv(rpc), BOOST_SIGNER_PRIVATE_KEY: wrongKey } }),
      startApi({ databaseUrl: db.url, stream, env: apiEnv(rpc) }),
    ]);
    // The RPC comes up once both are serving: a plain TCP relay to anvil on the port they were given.
    const anvilPort = Number(new URL(anvil.rpcUrl).port);
    const relay = createServer((socket) => {
      const upstream = connect(anvilPort, '127.0.0.1');
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    try {
      // A player per API: each retry below opens a challenge, and a player may hold at most 20 open.
      const henry = privateKeyToAccount(generatePrivateKey());
      const ivy = privateKeyToAccount(generatePrivateKey());
      for (const p of [henry, ivy]) tokens.set(p.address, await login(p));
      const win = async (api: RunningApi) => {
        const player = api === wrong ? henry : ivy;
        return call(api.url, 'POST', '/minigame/typing/result', {
          token: tokens.get(player.address),
          body: result(await challenge(player)),
        });
      };
      expect((await win(wrong)).status).toBe(503);
      await new Promise<void>((resolve) => relay.listen(port, '127.0.0.1', resolve));
      // The chain answers now (a loaded machine may fail a first check through the relay: that is a 503 too,
      // and the next result checks again). The wrong key is found out before any chain read or signature:
      // every answer is a 503, never a judged result.
      const statuses: number[] = [];
      await waitFor(
        'the mismatch to be found',
        async () => {
          statuses.push((await win(wrong)).status);
          return /does not match the chain/.test(wrong.process.output());
        },
        { timeoutMs: 15_000, intervalMs: 1_000 },
      );
      expect(new Set(statuses)).toEqual(new Set([503]));
      expect(wrong.process.output()).toContain(privateKeyToAccount(wrongKey).address);
      // The right key passes the check late, and the result is judged on the chain (ivy has no position).
      const judged = await waitFor(
        'the right key to be checked',
        async () => {
          const res = await win(right);
          return res.status === 503 ? undefined : res;
        },
        { timeoutMs: 15_000, intervalMs: 1_000 },
      );
      expect(judged.body).toEqual({ valid: false, reason: 'NO_POSITION' });
      expect(wrong.process.output().toLowerCase()).not.toContain(wrongKey.slice(2).toLowerCase());
    } finally {
      relay.close();
      await Promise.all([wrong.stop(), right.stop()]);
    }
  });

  it('never writes the signer key to a log line, at any level', async () => {
    // The process has logged at trace level through every path above, refusals and errors included.
    const output = api.process.output().toLowerCase();
    expect(output.length).toBeGreaterThan(0);
    expect(output).not.toContain(signerKey.slice(2).toLowerCase());
  });
});
