import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, waitFor } from './ports.ts';

const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface PrivatePostgres {
  url: string;
  port: number;
  dataDir: string;
  /** Immediate shutdown: what a crash looks like to clients. */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function asPostgres(args: string[]): void {
  // PostgreSQL refuses to run as root.
  const isRoot = process.getuid?.() === 0;
  const [cmd, ...rest] = args as [string, ...string[]];
  if (isRoot) execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...rest], { stdio: 'pipe' });
  else execFileSync(cmd, rest, { stdio: 'pipe' });
}

/** A PostgreSQL of the test's own on a free port, for tests that kill it; never the shared one. */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const port = await freePort();
  const base = mkdtempSync(join(tmpdir(), 'ghostnet-pg-'));
  const dataDir = join(base, 'data');
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    chownSync(base, uid, gid);
  }
  asPostgres([`${PG_BIN}/initdb`, '-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const handle: PrivatePostgres = {
    url,
    port,
    dataDir,
    async start() {
      asPostgres([
        `${PG_BIN}/pg_ctl`,
        '-D',
        dataDir,
        '-o',
        `-p ${port} -k ${base} -c listen_addresses=127.0.0.1 -c fsync=off`,
        '-l',
        join(base, 'log'),
        '-w',
        'start',
      ]);
      await waitFor('private postgres', async () => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        await client.end();
        return true;
      });
    },
    async kill() {
      asPostgres([`${PG_BIN}/pg_ctl`, '-D', dataDir, '-m', 'immediate', 'stop']);
    },
    async stop() {
      try {
        asPostgres([`${PG_BIN}/pg_ctl`, '-D', dataDir, '-m', 'fast', 'stop']);
      } catch {
        // already stopped
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
  await handle.start();
  return handle;
}
