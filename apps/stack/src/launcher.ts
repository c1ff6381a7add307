import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { anvilAccount, readDeployment } from '@ghostnet/contracts';
import { checkAnvil, checkNats, checkNode, checkPostgres, formatChecks } from '@ghostnet/doctor';
import { appNodeArgs } from '@ghostnet/test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface StackOptions {
  adminDatabaseUrl: string;
  database: string;
  natsUrl: string;
  streamName: string;
  /** Subject prefix: two stacks on one NATS need different ones (a stream's subjects may not overlap). */
  subjectPrefix: string;
  apiPort: number;
  gatewayPort: number;
  metricsPorts: { ingester: number; projector: number; gateway: number };
  /** Simulator pace; 0 = no simulator. */
  eventsPerSecond: number;
  players: number;
  devnetPort: number;
  stateDir: string;
  log: (line: string) => void;
}

interface Child {
  name: string;
  process: ChildProcess;
  spec: { script: string; args: string[]; env: Record<string, string> };
}

/**
 * Brings the whole system up on this machine: devnet with our contracts, simulator traffic, ingester,
 * projector, gateway and API, on the local NATS and PostgreSQL. Every process is ours, started by PID and
 * stopped by PID.
 */
export class Stack {
  readonly children: Child[] = [];
  #stopping = false;

  constructor(readonly options: StackOptions) {}

  /** The gateway's connection-lease KV bucket, the stack's own like its stream (JetStream keeps it as KV_<name>). */
  get connectionsBucket(): string {
    return `${this.options.streamName}_connections`;
  }

  get databaseUrl(): string {
    const u = new URL(this.options.adminDatabaseUrl);
    u.pathname = `/${this.options.database}`;
    return u.toString();
  }

  /** Restarts one component (SIGKILL, then the same command again): what a crash and a reschedule look like. */
  async restart(name: string): Promise<ChildProcess> {
    const index = this.children.findIndex((c) => c.name === name);
    if (index < 0) throw new Error(`no component ${name}`);
    const { process: child, spec } = this.children[index]!;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    this.children.splice(index, 1);
    return this.spawn(name, spec.script, spec.args, spec.env);
  }

  /** Each missing prerequisite with the command that fixes it; empty when all is well. */
  async missing(): Promise<string | null> {
    const checks = [
      checkNode(),
      checkAnvil(),
      await checkPostgres(this.options.adminDatabaseUrl),
      await checkNats(this.options.natsUrl),
    ];
    return checks.every((c) => c.ok) ? null : formatChecks(checks);
  }

  /**
   * The devnet chain is new on every start, so the dev stream and database would describe another chain:
   * start them fresh too.
   */
  async resetState(): Promise<void> {
    const admin = new pg.Client({ connectionString: this.options.adminDatabaseUrl });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${pgIdent(this.options.database)} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${pgIdent(this.options.database)}`);
    } finally {
      await admin.end();
    }
    const nc = await connect({ servers: this.options.natsUrl });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(this.options.streamName).catch(() => false);
      await jsm.streams.delete(`KV_${this.connectionsBucket}`).catch(() => false);
    } finally {
      await nc.close();
    }
    rmSync(this.options.stateDir, { recursive: true, force: true });
    mkdirSync(this.options.stateDir, { recursive: true });
  }

  /** Removes the stack's database and stream (tests). */
  async dropState(): Promise<void> {
    const admin = new pg.Client({ connectionString: this.options.adminDatabaseUrl });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${pgIdent(this.options.database)} WITH (FORCE)`);
    } finally {
      await admin.end();
    }
    const nc = await connect({ servers: this.options.natsUrl });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(this.options.streamName).catch(() => false);
      await jsm.streams.delete(`KV_${this.connectionsBucket}`).catch(() => false);
    } finally {
      await nc.close();
    }
    rmSync(this.options.stateDir, { recursive: true, force: true });
  }

  spawn(name: string, script: string, args: string[], env: Record<string, string>): ChildProcess {
    const child = spawn(process.execPath, [...appNodeArgs(join(ROOT, script)), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const prefix = `${name.padEnd(9)} | `;
    const forward = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.trim()) this.options.log(prefix + line);
    };
    child.stdout?.on('data', forward);
    child.stderr?.on('data', forward);
    child.on('exit', (code, signal) => {
      if (!this.#stopping) this.options.log(`${prefix}exited (${signal ?? code})`);
    });
    this.children.push({ name, process: child, spec: { script, args, env } });
    return child;
  }

  async start(): Promise<void> {
    const o = this.options;
    const deploymentFile = join(o.stateDir, 'deployment.json');
    this.spawn(
      'devnet',
      'apps/devnet/src/cli.ts',
      ['--port', String(o.devnetPort), '--out', deploymentFile],
      {},
    );
    await waitUntil(
      'the devnet deployment',
      () => existsSync(deploymentFile) && statSync(deploymentFile).size > 0,
      60_000,
    );

    const jwtKeys = `dev:${randomBytes(32).toString('hex')}`;
    const common = {
      NATS_URL: o.natsUrl,
      STREAM_NAME: o.streamName,
      SUBJECT_PREFIX: o.subjectPrefix,
      CHAIN_ID: '31337',
      LOG_LEVEL: 'warn',
    };
    this.spawn('ingester', 'apps/ingester/src/main.ts', [], {
      ...common,
      DEPLOYMENT_FILE: deploymentFile,
      METRICS_PORT: String(o.metricsPorts.ingester),
    });
    this.spawn('projector', 'apps/projector/src/main.ts', [], {
      ...common,
      DATABASE_URL: this.databaseUrl,
      METRICS_PORT: String(o.metricsPorts.projector),
    });
    const origin = `http://localhost:${o.apiPort}`;
    this.spawn('gateway', 'apps/gateway/src/main.ts', [], {
      ...common,
      DATABASE_URL: this.databaseUrl,
      PORT: String(o.gatewayPort),
      CONNECTIONS_BUCKET: this.connectionsBucket,
      JWT_KEYS: jwtKeys,
      JWT_ACTIVE_KID: 'dev',
      ALLOWED_ORIGINS: `${origin},http://127.0.0.1:${o.apiPort}`,
      ALLOW_ANONYMOUS_FEED: 'true',
      METRICS_PORT: String(o.metricsPorts.gateway),
    });
    // The typing mini-game signs boosts with the devnet's boost signer (an anvil dev account: its key follows
    // from anvil's public mnemonic) for the devnet's contracts, as a deployment would with its own.
    const deployment = readDeployment(deploymentFile);
    const signer = deployment.accounts?.boostSigner;
    const signerKey = signer ? anvilAccount(signer.index).getHdKey().privateKey : undefined;
    this.spawn('api', 'apps/api/src/main.ts', [], {
      ...common,
      GHOST_CORE_ADDRESS: deployment.addresses.GhostCore,
      TRACE_SCAN_ADDRESS: deployment.addresses.TraceScan,
      ...(signerKey ? { BOOST_SIGNER_PRIVATE_KEY: `0x${Buffer.from(signerKey).toString('hex')}` } : {}),
      DATABASE_URL: this.databaseUrl,
      PORT: String(o.apiPort),
      JWT_KEYS: jwtKeys,
      JWT_ACTIVE_KID: 'dev',
      SIWE_DOMAIN: `localhost:${o.apiPort}`,
      SIWE_ORIGIN: origin,
      CORS_ORIGINS: origin,
      RPC_URL: `http://127.0.0.1:${o.devnetPort}`,
      CONSOLE_GATEWAY_URL: `ws://localhost:${o.gatewayPort}`,
      CONSOLE_GATEWAY_METRICS_URL: `http://127.0.0.1:${o.metricsPorts.gateway}/metrics`,
    });
    await waitUntil(
      'the API',
      async () => (await fetch(`http://127.0.0.1:${o.apiPort}/health/live`).catch(() => null))?.ok ?? false,
      60_000,
    );
    if (o.eventsPerSecond > 0) {
      this.spawn(
        'sim',
        'apps/sim/src/cli.ts',
        [
          '--deployment',
          deploymentFile,
          '--players',
          String(o.players),
          '--events-per-second',
          String(o.eventsPerSecond),
          '--duration',
          '86400',
          '--quiet',
        ],
        {},
      );
    }
  }

  urls(): Record<string, string> {
    const o = this.options;
    return {
      'live console': `http://localhost:${o.apiPort}/console`,
      'API docs': `http://localhost:${o.apiPort}/docs`,
      API: `http://localhost:${o.apiPort}`,
      'WebSocket feed': `ws://localhost:${o.gatewayPort}`,
      'metrics (api)': `http://localhost:${o.apiPort}/metrics`,
      'metrics (gateway)': `http://localhost:${o.metricsPorts.gateway}/metrics`,
      'metrics (ingester)': `http://localhost:${o.metricsPorts.ingester}/metrics`,
      'metrics (projector)': `http://localhost:${o.metricsPorts.projector}/metrics`,
      'chain RPC': `http://127.0.0.1:${o.devnetPort}`,
      deployment: join(o.stateDir, 'deployment.json'),
    };
  }

  /** SIGTERM to every child (simulator first, devnet last), SIGKILL to what is still running after 10 s. */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const { process: child } of [...this.children].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await new Promise((r) => child.once('exit', r));
      clearTimeout(timer);
    }
  }
}

function pgIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name))
    throw new Error(`database name ${name} must be a plain lowercase identifier`);
  return name;
}

async function waitUntil(
  what: string,
  probe: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}
