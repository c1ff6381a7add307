import { issueSessionToken } from '@ghostnet/auth';
import { deployGhostnet } from '@ghostnet/contracts';
import { createDatabasePool, type DatabasePool } from '@ghostnet/db';
import { RawClient } from '@ghostnet/gateway/testing';
import { ALL_PROJECTIONS } from '@ghostnet/projections';
import { checkpoints, derivedMessages } from '@ghostnet/projections/testing';
import { runSimulation } from '@ghostnet/sim';
import {
  type Anvil,
  createTestDatabase,
  freePort,
  startAnvil,
  type TestDatabase,
  type TestStream,
  waitFor,
} from '@ghostnet/test';
import { type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SecuredNats, startSecuredNats } from '../../../infra/nats/securedServer.ts';
import { AppProcess, type Crash } from './chaos/components.ts';
import { randomJwt } from './jwt.ts';

/**
 * Every app as a process, each as its own least-privilege NATS user of infra/nats/accounts.conf (the names the
 * config is written for: stream GHOSTNET, prefix ghostnet). A permission an app needs and its user lacks
 * shows up here as an app that cannot do its work, and as a "Permissions Violation" in its output.
 */

const STREAM = 'GHOSTNET';
const PROJECTIONS = ALL_PROJECTIONS.map((p) => p.name);

let nats: SecuredNats;
let anvil: Anvil;
let database: TestDatabase;
let admin: NatsConnection;
let jsm: JetStreamManager;
let pool: DatabasePool;
const apps: AppProcess[] = [];
const crashes: Omit<Crash, 'atMs'>[] = [];
const { keyring, env: jwt } = randomJwt();
let apiPort: number;
let gatewayPort: number;

beforeAll(async () => {
  [nats, anvil, database] = await Promise.all([startSecuredNats(), startAnvil(), createTestDatabase()]);
  admin = await nats.connectAs('admin');
  jsm = await jetstreamManager(admin);
  pool = await createDatabasePool(database.url, { maximumPoolSize: 2 });
  [apiPort, gatewayPort] = [await freePort(), await freePort()];
}, 90_000);

afterAll(async () => {
  for (const app of apps) await app.stop();
  await pool?.end();
  await admin?.close().catch(() => {});
  await Promise.all([nats?.stop(), anvil?.stop(), database?.drop()]);
}, 60_000);

function app(kind: 'ingester' | 'projector' | 'gateway' | 'api', env: Record<string, string>): AppProcess {
  const p = new AppProcess(
    kind,
    kind,
    `apps/${kind}/src/main.ts`,
    {
      LOG_LEVEL: 'warn',
      NATS_URL: nats.url,
      NATS_USER: kind,
      NATS_PASSWORD: nats.passwords[`NATS_${kind.toUpperCase()}_PASSWORD` as keyof SecuredNats['passwords']],
      STREAM_NAME: STREAM,
      SUBJECT_PREFIX: 'ghostnet',
      CHAIN_ID: String(anvil.chainId),
      ...env,
    },
    { restartDelayMs: 1_000, onCrash: (crash) => crashes.push(crash) },
  );
  apps.push(p);
  return p;
}

const head = async () => (await jsm.streams.info(STREAM)).state.last_seq;

describe('the apps under their least-privilege NATS users', () => {
  it('ingest, project, derive survivors, publish crew events and serve the feed, with no permission refused', async () => {
    const deployment = await deployGhostnet({ rpcUrl: anvil.rpcUrl });
    const summary = await runSimulation({
      rpcUrl: anvil.rpcUrl,
      deployment,
      players: 12,
      seed: 'least-privilege',
      maxBlocks: 60,
      txsPerBlock: 20,
    });
    expect(summary.scans).toBeGreaterThan(0);

    const ingester = app('ingester', {
      RPC_URL: anvil.rpcUrl,
      GHOST_CORE_ADDRESS: deployment.addresses.GhostCore,
      TRACE_SCAN_ADDRESS: deployment.addresses.TraceScan,
      START_BLOCK: String(deployment.deployBlock),
    });
    await ingester.start();
    // The ingester creates the stream; the others only look it up.
    await waitFor('the stream', async () => (await jsm.streams.info(STREAM).catch(() => null)) !== null, {
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    const api = app('api', {
      DATABASE_URL: database.url,
      HOST: '127.0.0.1',
      PORT: String(apiPort),
      ...jwt,
      SIWE_DOMAIN: `localhost:${apiPort}`,
      SIWE_ORIGIN: `http://localhost:${apiPort}`,
      CORS_ORIGINS: `http://localhost:${apiPort}`,
      OUTBOX_POLL_MS: '100',
    });
    const others = [
      app('projector', { DATABASE_URL: database.url, PROJECTOR_POLL_MS: '300' }),
      app('gateway', { DATABASE_URL: database.url, HOST: '127.0.0.1', PORT: String(gatewayPort), ...jwt }),
      api,
    ];
    await Promise.all(others.map((o) => o.start()));

    // Projector: every projection reaches the chain events, and the survivors of the simulated scans are
    // published (a derived subject, and direct gets).
    const stream = { js: jetstream(admin), name: STREAM, prefix: 'ghostnet', chainId: anvil.chainId };
    await waitFor(
      'survivors published',
      async () => (await derivedMessages(stream as TestStream)).length > 0,
      { timeoutMs: 90_000, intervalMs: 250 },
    );

    // API: a crew created goes through the outbox into the stream (app subject), then into the projections.
    const address = `0x${'5e'.repeat(20)}`;
    const token = (await issueSessionToken(keyring, { address, chainId: anvil.chainId })).token;
    await waitFor(
      'the API ready',
      async () => (await fetch(`http://127.0.0.1:${apiPort}/health/ready`).catch(() => null))?.ok ?? false,
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const created = await fetch(`http://127.0.0.1:${apiPort}/crews`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Least Privilege', tag: 'LP' }),
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const subject = `ghostnet.${anvil.chainId}.app.CrewEvent`;
    await waitFor(
      'the crew event in the stream',
      async () => (await jsm.direct.getMessage(STREAM, { last_by_subj: subject })) !== null,
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const last = await head();
    await waitFor(
      'every projection at the head',
      async () => {
        const c = await checkpoints(pool).catch(() => ({}) as Record<string, number>);
        return PROJECTIONS.every((p) => (c[p] ?? 0) >= last);
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );

    // Gateway: a client resuming from before the first derived message gets its SURVIVED events, replayed
    // straight from the stream.
    const [first] = await derivedMessages(stream as TestStream);
    const client = new RawClient(`ws://127.0.0.1:${gatewayPort}`);
    await client.opened;
    const epoch = (await jsm.streams.info(STREAM)).created;
    client.send({ type: 'AUTH', token });
    client.send({ type: 'RECONNECT', lastSequenceId: first!.seq - 1, epoch });
    const replay = await client.next('REPLAY', 30_000);
    const survived = replay.events.filter(
      (f) => f.type === 'FEED_EVENT' && f.sequenceId === first!.seq && f.event.type === 'SURVIVED',
    );
    expect(survived).toHaveLength(first!.message.args.survivors.length);
    client.close();

    for (const a of apps) {
      expect(a.running(), `${a.name} running`).toBe(true);
      expect(a.output(), a.name).not.toMatch(/permissions? violation/i);
    }
    expect(crashes).toEqual([]);
  }, 240_000);
});
