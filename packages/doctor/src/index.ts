import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** What to run or install when it is not ok. */
  fix?: string;
}

export const PG_START = 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start';
export const NATS_START =
  'start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log';

export async function checkPostgres(
  url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
): Promise<Check> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ server_version: string }>('show server_version');
    return {
      name: 'PostgreSQL',
      ok: true,
      detail: `version ${rows[0]?.server_version} at ${redactUrl(url)}`,
    };
  } catch (error) {
    const installed = existsSync('/usr/lib/postgresql');
    return {
      name: 'PostgreSQL',
      ok: false,
      detail: `cannot connect to ${redactUrl(url)}: ${(error as Error).message}`,
      fix: installed
        ? `start it: ${PG_START}`
        : 'install PostgreSQL 15 (apt-get install postgresql), then start it: ' + PG_START,
    };
  } finally {
    await client.end().catch(() => {});
  }
}

export async function checkNats(url = process.env.NATS_URL ?? 'nats://127.0.0.1:4222'): Promise<Check> {
  let nc: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    nc = await connect({ servers: url.split(','), timeout: 3_000, maxReconnectAttempts: 0 });
  } catch (error) {
    const installed = existsSync('/usr/sbin/nats-server');
    return {
      name: 'NATS',
      ok: false,
      detail: `cannot connect to ${url}: ${(error as Error).message}`,
      fix: installed
        ? `start it: ${NATS_START}`
        : `install it (apt-get install nats-server), then start it: ${NATS_START}`,
    };
  }
  try {
    const jsm = await jetstreamManager(nc, { timeout: 3_000 });
    const info = await jsm.getAccountInfo();
    return {
      name: 'NATS JetStream',
      ok: true,
      detail: `${nc.info?.version} at ${url}, ${info.streams} streams`,
    };
  } catch (error) {
    return {
      name: 'NATS JetStream',
      ok: false,
      detail: `NATS at ${url} answers but JetStream does not: ${(error as Error).message}`,
      fix: 'restart nats-server with -js (JetStream) and a storage dir: ' + NATS_START,
    };
  } finally {
    await nc.close();
  }
}

export function checkNode(): Check {
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  const ok = major > 20 || (major === 20 && minor >= 19);
  return {
    name: 'Node.js',
    ok,
    detail: `v${process.versions.node}`,
    ...(ok ? {} : { fix: 'install Node.js 20.19 or newer (20 is what uWebSockets.js loads on here)' }),
  };
}

export function checkAnvil(): Check {
  try {
    const require = createRequire(import.meta.url);
    const bin = require.resolve('@foundry-rs/anvil-linux-amd64/bin/anvil');
    return { name: 'anvil', ok: true, detail: bin };
  } catch {
    return {
      name: 'anvil',
      ok: false,
      detail: 'the @foundry-rs/anvil binary is not installed',
      fix: 'npm ci',
    };
  }
}

export async function runChecks(): Promise<Check[]> {
  return [checkNode(), checkAnvil(), await checkPostgres(), await checkNats()];
}

export function formatChecks(checks: Check[]): string {
  return checks
    .map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}${c.fix ? `\n       → ${c.fix}` : ''}`)
    .join('\n');
}

function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
