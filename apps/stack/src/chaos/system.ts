import { issueSessionToken, type JwtKeyring } from '@ghostnet/auth';
import { deployGhostnet, type GhostnetDeployment } from '@ghostnet/contracts';
import { createDatabasePool, type DatabasePool } from '@ghostnet/db';
import { createSubjects } from '@ghostnet/events';
import { ALL_PROJECTIONS } from '@ghostnet/projections';
import { checkpoints } from '@ghostnet/projections/testing';
import { connectNats } from '@ghostnet/stream';
import {
  type Anvil,
  createTestDatabase,
  freePort,
  type PrivateNats,
  type PrivatePostgres,
  startAnvil,
  startPrivateNats,
  startPrivatePostgres,
  type TestDatabase,
  waitFor,
} from '@ghostnet/test';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { randomJwt } from '../jwt.ts';
import {
  AppProcess,
  type Component,
  type ComponentKind,
  type Crash,
  NatsComponent,
  PostgresComponent,
} from './components.ts';

export const STREAM_NAME = 'GHOSTNET_CHAOS';
export const SUBJECT_PREFIX = 'chaos';
const JWT_KID = 'chaos';
const PROJECTIONS = ALL_PROJECTIONS.map((p) => p.name);

/**
 * A GHOSTNET of the run's own on loopback: private nats-server and PostgreSQL on free ports (never the shared
 * ones), anvil with our contracts, and the apps as processes (ingester, projector, two gateways, API).
 */
export class ChaosSystem {
  readonly components: Component[] = [];
  readonly crashes: Crash[] = [];
  readonly apps: AppProcess[] = [];
  nc!: NatsConnection;
  jsm!: JetStreamManager;
  pool!: DatabasePool;
  keyring!: JwtKeyring;
  gatewayUrls: string[] = [];
  gatewayPorts: number[] = [];
  apiPort = 0;
  #t0 = Date.now();

  private constructor(
    readonly nats: PrivateNats,
    readonly postgres: PrivatePostgres,
    readonly anvil: Anvil,
    readonly database: TestDatabase,
    readonly deployment: GhostnetDeployment,
  ) {}

  /** Brings up the servers and the chain; `cleanup` collects what to stop even if a later step fails. */
  static async start(
    cleanup: { add(stop: () => Promise<void>, pids?: () => number[]): void },
    log: (line: string) => void,
  ): Promise<ChaosSystem> {
    // Each server joins the cleanup as soon as it is up, so a failure of another one still stops it.
    const [nats, postgres, anvil] = await Promise.all([
      startPrivateNats().then((nats) => {
        cleanup.add(
          () => nats.stop(),
          () => [nats.process.pid],
        );
        return nats;
      }),
      startPrivatePostgres().then((postgres) => {
        cleanup.add(() => postgres.stop());
        return postgres;
      }),
      startAnvil().then((anvil) => {
        cleanup.add(
          () => anvil.stop(),
          () => [anvil.process.pid],
        );
        return anvil;
      }),
    ]);
    log(`nats-server ${nats.url}, postgres :${postgres.port}, anvil ${anvil.rpcUrl}`);
    const database = await createTestDatabase(postgres.url);
    const deployment = await deployGhostnet({ rpcUrl: anvil.rpcUrl });
    log(
      `contracts deployed at block ${deployment.deployBlock} (GhostCore ${deployment.addresses.GhostCore})`,
    );
    const system = new ChaosSystem(nats, postgres, anvil, database, deployment);
    system.nc = await connectNats({ url: nats.url, name: 'chaos' });
    cleanup.add(() => system.nc.close().catch(() => {}));
    system.jsm = await jetstreamManager(system.nc);
    system.pool = await createDatabasePool(database.url, { maximumPoolSize: 2, statementTimeoutMs: 5_000 });
    cleanup.add(() => system.pool.end().catch(() => {}));
    await system.#startApps(cleanup);
    return system;
  }

  get chainId(): number {
    return this.anvil.chainId;
  }

  /** Milliseconds since the system came up (the report's clock). */
  now(): number {
    return Date.now() - this.#t0;
  }

  async #startApps(cleanup: { add(stop: () => Promise<void>, pids?: () => number[]): void }): Promise<void> {
    const { keyring, env: jwt } = randomJwt(JWT_KID);
    this.keyring = keyring;
    const common = {
      NATS_URL: this.nats.url,
      STREAM_NAME,
      SUBJECT_PREFIX,
      CHAIN_ID: String(this.chainId),
      LOG_LEVEL: 'warn',
    };
    const [gwA, gwB, api] = await Promise.all([freePort(), freePort(), freePort()]);
    this.gatewayPorts = [gwA, gwB];
    this.gatewayUrls = this.gatewayPorts.map((p) => `ws://127.0.0.1:${p}`);
    this.apiPort = api;
    const supervise = {
      restartDelayMs: 1_000,
      onCrash: (crash: Omit<Crash, 'atMs'>) => this.crashes.push({ ...crash, atMs: this.now() }),
    };
    const app = (name: string, kind: ComponentKind, script: string, env: Record<string, string>) => {
      const p = new AppProcess(name, kind, script, { ...common, ...env }, supervise);
      this.apps.push(p);
      this.components.push(p);
      cleanup.add(
        () => p.stop(),
        () => p.pids(),
      );
      return p;
    };
    const ingester = app('ingester', 'ingester', 'apps/ingester/src/main.ts', {
      RPC_URL: this.anvil.rpcUrl,
      RPC_WS_URL: this.anvil.wsUrl,
      GHOST_CORE_ADDRESS: this.deployment.addresses.GhostCore,
      TRACE_SCAN_ADDRESS: this.deployment.addresses.TraceScan,
      START_BLOCK: String(this.deployment.deployBlock),
    });
    const projector = app('projector', 'projector', 'apps/projector/src/main.ts', {
      DATABASE_URL: this.database.url,
      PROJECTOR_POLL_MS: '500',
    });
    const gateways = this.gatewayPorts.map((port, i) =>
      app(`gateway-${'ab'[i]}`, 'gateway', 'apps/gateway/src/main.ts', {
        DATABASE_URL: this.database.url,
        HOST: '127.0.0.1',
        PORT: String(port),
        ...jwt,
        CONNECTIONS_BUCKET: 'chaos_gateway_connections',
        LEASE_SECONDS: '10',
      }),
    );
    const apiProcess = app('api', 'api', 'apps/api/src/main.ts', {
      DATABASE_URL: this.database.url,
      HOST: '127.0.0.1',
      PORT: String(api),
      ...jwt,
      SIWE_DOMAIN: `127.0.0.1:${api}`,
      SIWE_ORIGIN: `http://127.0.0.1:${api}`,
      RPC_URL: this.anvil.rpcUrl,
    });
    this.components.push(new NatsComponent(this.nats), new PostgresComponent(this.postgres));

    await ingester.start();
    await waitFor('the stream (created by the ingester)', () => this.streamHead().then(() => true), {
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    await Promise.all([projector.start(), ...gateways.map((g) => g.start()), apiProcess.start()]);
    const gatewayUp = gateways.map((g) => this.healthProbe(g, 0)[g.name]!);
    const apiUp = this.healthProbe(apiProcess, 0).api!;
    await waitFor(
      'every app up',
      async () => {
        const c = await checkpoints(this.pool).catch(() => ({}) as Record<string, number>);
        const ups = await Promise.all([apiUp(), ...gatewayUp.map((g) => g())]);
        return ups.every(Boolean) && PROJECTIONS.every((p) => p in c);
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    ).catch((error) => {
      const tails = this.apps.map((a) => `--- ${a.name}\n${a.output().slice(-2_000)}`).join('\n');
      throw new Error(`${(error as Error).message}\n${tails}`);
    });
  }

  async streamHead(): Promise<number> {
    return (await this.jsm.streams.info(STREAM_NAME)).state.last_seq;
  }

  async streamEpoch(): Promise<string> {
    return (await this.jsm.streams.info(STREAM_NAME)).created;
  }

  get subjects() {
    return createSubjects(this.chainId, SUBJECT_PREFIX);
  }

  /** The lowest checkpoint over the active generations of every projection (0 before they exist). */
  async projectorCheckpoint(): Promise<number> {
    const c = await checkpoints(this.pool);
    return Math.min(...PROJECTIONS.map((p) => c[p] ?? 0));
  }

  async token(address: string): Promise<string> {
    return (await issueSessionToken(this.keyring, { address, chainId: this.chainId })).token;
  }

  /**
   * What "healthy again" means for a component, judged against the stream head `since` at its restart: the
   * ingester has appended past it, the projector has applied up to it, a gateway answers /health (its follower
   * caught up), the API /health/ready. For nats-server and PostgreSQL: the whole pipeline is back (all of
   * those).
   */
  healthProbe(component: Component, since: number): Record<string, () => Promise<boolean>> {
    const ok = async (url: string) => {
      try {
        return (await fetch(url, { signal: AbortSignal.timeout(2_000) })).ok;
      } catch {
        return false;
      }
    };
    const safe = (probe: () => Promise<boolean>) => () => probe().catch(() => false);
    const ingester = safe(async () => (await this.streamHead()) > since);
    const projector = safe(async () => (await this.projectorCheckpoint()) >= since);
    const gateway = (port: number) => () => ok(`http://127.0.0.1:${port}/health`);
    const api = () => ok(`http://127.0.0.1:${this.apiPort}/health/ready`);
    switch (component.kind) {
      case 'ingester':
        return { ingester };
      case 'projector':
        return { projector };
      case 'gateway':
        return { [component.name]: gateway(Number((component as AppProcess).env.PORT)) };
      case 'api':
        return { api };
      case 'nats-server':
      case 'postgres':
        return {
          ingester,
          projector,
          api,
          ...Object.fromEntries(this.gatewayPorts.map((port, i) => [`gateway-${'ab'[i]}`, gateway(port)])),
        };
    }
  }
}
