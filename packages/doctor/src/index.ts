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
    return {
      name: 'PostgreSQL',
      ok: false,
      detail: `cannot connect to ${redactUrl(url)}: ${(error as Error).message}`,
      fix: postgresFix(classifyPostgresError(error), { installed: existsSync('/usr/lib/postgresql') }),
    };
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Why a connection failed. Only a closed port (or socket) means the server is not running: one that answers
 * and refuses the login needs its authentication changed, and starting it again would change nothing.
 */
export type PostgresFailure = 'down' | 'auth' | 'no-role' | 'no-database' | 'other';

export function classifyPostgresError(error: unknown): PostgresFailure {
  const { code, message = '' } = (error ?? {}) as { code?: unknown; message?: string };
  if (code === 'ECONNREFUSED' || code === 'ENOENT') return 'down';
  if (code === '3D000') return 'no-database';
  if (code === '28000' && /role .* does not exist/.test(message)) return 'no-role';
  // 28P01: wrong or missing password; 28000: no pg_hba.conf line lets this host/user in. A server asking for
  // a password the URL does not have fails in the client, before any SQLSTATE (pg's SASL/SCRAM errors).
  if (code === '28P01' || code === '28000') return 'auth';
  if (/password|SASL|SCRAM|authentication/i.test(message)) return 'auth';
  return 'other';
}

/** Env vars that name the database URL: the doctor's and the apps' own, and the one the tests read. */
export const DATABASE_URL_ENVS = 'DATABASE_URL (npm run doctor, the apps) or TEST_DATABASE_URL (the tests)';

export function postgresFix(failure: PostgresFailure, { installed }: { installed: boolean }): string {
  switch (failure) {
    case 'auth':
      return (
        'PostgreSQL is running but authentication failed: enable trust for 127.0.0.1 in pg_hba.conf ' +
        '(`host all all 127.0.0.1/32 trust` above the other host lines in /etc/postgresql/*/main/pg_hba.conf, ' +
        'then `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main reload`), or set ' +
        `${DATABASE_URL_ENVS} to a URL with the password (postgres://postgres:PASSWORD@127.0.0.1:5432/postgres)`
      );
    case 'no-role':
      return `PostgreSQL is running but has no such role: connect as postgres, or set ${DATABASE_URL_ENVS} to an existing role`;
    case 'no-database':
      return `PostgreSQL is running but has no such database: use postgres, or set ${DATABASE_URL_ENVS} to an existing one`;
    case 'down':
      return installed
        ? `start it: ${PG_START}`
        : `install PostgreSQL 15 (apt-get install postgresql), then start it: ${PG_START}`;
    case 'other':
      return installed
        ? `see the error above; if it is not running, start it: ${PG_START}`
        : `install PostgreSQL 15 (apt-get install postgresql), then start it: ${PG_START}`;
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
