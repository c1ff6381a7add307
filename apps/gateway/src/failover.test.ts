import { fileURLToPath } from 'node:url';
import { CloseCode, GatewayClient } from '@ghostnet/client';
import { deployGhostnet, type GhostnetDeployment } from '@ghostnet/contracts';
import { createDatabasePool, type DatabasePool, migrate } from '@ghostnet/db';
import { addressOf, expectedFrames, JWT_ENV, RawClient, tokenFor } from '@ghostnet/gateway/testing';
import { createIngester, type Ingester } from '@ghostnet/ingest';
import { createLogger } from '@ghostnet/logger';
import { ALL_PROJECTIONS, createProjectionRunner, type ProjectionRunner } from '@ghostnet/projections';
import { runSimulation } from '@ghostnet/sim';
import {
  type Anvil,
  appNodeArgs,
  createTestDatabase,
  createTestStream,
  freePort,
  type Started,
  startAnvil,
  startProcess,
  type TestDatabase,
  type TestStream,
  waitFor,
} from '@ghostnet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const WS = WebSocket as unknown as ConstructorParameters<typeof GatewayClient>[0]['WebSocket'];

let stream: TestStream;
let db: TestDatabase;
let anvil: Anvil;
let deployment: GhostnetDeployment;
let pool: DatabasePool;
let ingester: Ingester;
let projector: ProjectionRunner;

/** Every gateway process a test started: afterAll kills any still running, whatever the test's outcome. */
const running = new Set<Started>();

/** One gateway process on a fixed port; restartable on the same port, killed by PID. */
class GatewayProcess {
  process: Started | null = null;
  constructor(
    readonly port: number,
    readonly env: Record<string, string> = {},
  ) {}
  get url() {
    return `ws://127.0.0.1:${this.port}`;
  }
  async start() {
    this.process = startProcess(process.execPath, appNodeArgs(MAIN), {
      env: {
        ...process.env,
        LOG_LEVEL: 'warn',
        HOST: '127.0.0.1',
        PORT: String(this.port),
        NATS_URL: stream.natsUrl,
        STREAM_NAME: stream.name,
        SUBJECT_PREFIX: stream.prefix,
        CHAIN_ID: String(stream.chainId),
        DATABASE_URL: db.url,
        CONNECTIONS_BUCKET: `gw_${stream.name}`,
        LEASE_SECONDS: '3',
        ...JWT_ENV,
        ...this.env,
      },
    });
    const started = this.process;
    running.add(started);
    void started.exited.then(() => running.delete(started));
    await waitFor(
      `gateway on ${this.port}`,
      async () => {
        if (started.child.exitCode !== null) throw new Error(`gateway exited:\n${started.output()}`);
        return (await fetch(`http://127.0.0.1:${this.port}/health`)).ok;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  }
  async kill() {
    await this.process?.kill();
  }
  async stop() {
    await this.process?.stop();
  }
}

/**
 * The whole pipeline: the simulator plays on anvil, the ingester appends to the stream, the projector fills
 * Postgres, two gateway processes serve SDK clients (FULL_SYNC from the projector's tables, then the feed).
 */
beforeAll(async () => {
  const logger = createLogger({ name: 'pipeline', level: 'warn' });
  anvil = await startAnvil();
  [stream, db, deployment] = await Promise.all([
    createTestStream({ chainId: anvil.chainId }),
    createTestDatabase(),
    deployGhostnet({ rpcUrl: anvil.rpcUrl }),
  ]);
  await migrate(db.url);
  pool = await createDatabasePool(db.url, { maximumPoolSize: 4 });
  ingester = createIngester({
    rpcUrl: anvil.rpcUrl,
    wsUrl: anvil.wsUrl,
    chainId: anvil.chainId,
    addresses: { GhostCore: deployment.addresses.GhostCore, TraceScan: deployment.addresses.TraceScan },
    startBlock: deployment.deployBlock,
    nc: stream.nc,
    streamName: stream.name,
    subjectPrefix: stream.prefix,
    logger,
  });
  await ingester.start();
  projector = createProjectionRunner({
    pool,
    databaseUrl: db.url,
    nc: stream.nc,
    streamName: stream.name,
    chainId: stream.chainId,
    subjectPrefix: stream.prefix,
    projections: [...ALL_PROJECTIONS],
    logger,
    pollMs: 200,
  });
  await projector.start();
}, 120_000);
afterAll(async () => {
  await Promise.all([...running].map((p) => p.kill()));
  await ingester?.stop().catch(() => {});
  await projector?.stop().catch(() => {});
  await pool?.end();
  await anvil?.stop();
  await stream.jsm.streams.delete(`KV_gw_${stream.name}`).catch(() => {});
  await stream?.destroy();
  await db?.drop();
});

describe('gateway processes', () => {
  it('200 SDK clients keep exactly the stream during a simulator run while instances are killed, stopped and restarted', async () => {
    const a = new GatewayProcess(await freePort());
    const b = new GatewayProcess(await freePort());
    await Promise.all([a.start(), b.start()]);

    // The simulator plays for the whole test (~50 game events/s); clients join once the projector has state.
    // It stops once the kills are over and the stream has gone on past every client's start: on a loaded
    // machine the 200 clients may take many seconds to go live.
    const stopSim = new AbortController();
    const simulation = runSimulation({
      rpcUrl: anvil.rpcUrl,
      deployment,
      players: 30,
      seed: 'gateway-failover',
      durationMs: 120_000,
      signal: stopSim.signal,
      eventsPerSecond: 50,
      txsPerBlock: 20,
      culling: { level: 5, maxPositions: 3 },
      systemResetEveryBlocks: 40,
    });
    await waitFor(
      'projector state',
      async () => {
        const active = projector.stats().workers.find((w) => w.projection === 'game');
        return (active?.lastSequence ?? 0) > 0;
      },
      { timeoutMs: 30_000 },
    );

    // Half start fresh (FULL_SYNC from the projector), half from the stream's head at the time (REPLAY).
    const clients = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const who = addressOf(0x10000 + i);
        const head = (await stream.jsm.streams.info(stream.name)).state.last_seq;
        const cursor = i % 2 ? { sequenceId: head, epoch: stream.epoch } : null;
        const client = new GatewayClient({
          url: i % 4 < 2 ? [a.url, b.url] : [b.url, a.url],
          token: () => tokenFor(who),
          WebSocket: WS,
          cursor,
        });
        const c = {
          client,
          seen: [] as string[],
          codes: [] as number[],
          syncs: [] as number[],
          first: cursor?.sequenceId ?? -1,
        };
        client.on('feed', (event, m) => c.seen.push(`${m.sequenceId}:${m.index}:${event.id}`));
        client.on('reorg', (_ids, seq) => c.seen.push(`${seq}:0:reorg:${seq}`));
        client.on('disconnect', (d) => c.codes.push(d.code));
        client.on('sync', (snapshot) => {
          c.syncs.push(snapshot.sequence);
          if (c.first < 0) c.first = snapshot.sequence;
        });
        client.connect();
        return c;
      }),
    );
    await waitFor('all live', async () => clients.every((c) => c.client.status === 'live'), {
      timeoutMs: 30_000,
    });

    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    await pause(1_000);
    await a.kill(); // crash: sockets drop (1006), clients back off and land on b
    await pause(1_000);
    await a.start();
    await pause(500);
    await b.stop(); // graceful: SERVER_SHUTDOWN, clients move to a at once
    await b.start();
    await pause(500);
    await b.kill();
    await pause(500);
    await b.start();
    await pause(500);
    await a.kill();
    await a.start();

    const joined = Math.max(...clients.map((c) => c.first));
    await waitFor(
      'traffic past every client’s start',
      async () => (await stream.jsm.streams.info(stream.name)).state.last_seq - joined > 200,
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    stopSim.abort();
    const summary = await simulation;
    expect(summary.failed).toBe(0);
    await waitFor('ingested', async () => (ingester.stats().lastBlock ?? 0) >= summary.toBlock, {
      timeoutMs: 30_000,
    });
    const head = (await stream.jsm.streams.info(stream.name)).state.last_seq;
    await waitFor(
      'every client caught up',
      async () => clients.every((c) => (c.client.cursor?.sequenceId ?? 0) >= head),
      { timeoutMs: 40_000, intervalMs: 200 },
    );

    const expectedFrom = new Map<number, string[]>();
    for (const first of new Set(clients.map((c) => c.first))) {
      expectedFrom.set(
        first,
        (await expectedFrames(stream, first, head)).map((f) => `${f.sequenceId}:${f.index}:${f.id}`),
      );
    }
    let moved = 0;
    for (const [i, c] of clients.entries()) {
      expect(c.syncs.length, `client ${i}: FULL_SYNCs`).toBe(i % 2 ? 0 : 1);
      expect(c.seen, `client ${i}`).toEqual(expectedFrom.get(c.first));
      expect(c.client.duplicates, `client ${i}`).toBe(0);
      if (c.codes.length > 0) moved++;
      c.client.close();
    }
    // Events the stream got while the clients were connected, from the simulator through the ingester.
    expect(head - Math.max(...clients.map((c) => c.first))).toBeGreaterThan(150);
    const codes = new Set(clients.flatMap((c) => c.codes));
    expect(codes.has(1006)).toBe(true);
    expect(codes.has(CloseCode.SERVER_SHUTDOWN)).toBe(true);
    expect(moved).toBe(200);
    await Promise.all([a.stop(), b.stop()]);
  }, 180_000);

  it('limits a user to 5 connections across instances; a crashed instance’s leases lapse', async () => {
    const a = new GatewayProcess(await freePort());
    const b = new GatewayProcess(await freePort());
    await Promise.all([a.start(), b.start()]);
    const token = await tokenFor(addressOf(0x5555));
    const open = async (url: string) => {
      const c = new RawClient(url);
      await c.opened;
      c.send({ type: 'AUTH', token });
      await Promise.race([c.next('CONNECTION_STATE'), c.closed]);
      return c;
    };
    const onA = [await open(a.url), await open(a.url), await open(a.url)];
    const onB = [await open(b.url), await open(b.url)];
    for (const c of [...onA, ...onB]) expect(c.frames[0]).toMatchObject({ type: 'CONNECTION_STATE' });
    const sixth = await open(b.url);
    expect((await sixth.closed).code).toBe(CloseCode.TOO_MANY_CONNECTIONS);

    await a.kill();
    const tooSoon = await open(b.url);
    expect((await tooSoon.closed).code).toBe(CloseCode.TOO_MANY_CONNECTIONS);
    await new Promise((r) => setTimeout(r, 3_500)); // LEASE_SECONDS=3
    const after = [await open(b.url), await open(b.url), await open(b.url)];
    for (const c of after)
      expect(c.frames[0]).toMatchObject({ type: 'CONNECTION_STATE', status: 'connected' });
    const again = await open(b.url);
    expect((await again.closed).code).toBe(CloseCode.TOO_MANY_CONNECTIONS);
    for (const c of [...onB, ...after]) c.close();
    await b.stop();
  }, 60_000);
});
