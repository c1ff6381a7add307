/**
 * npm run bench:api — requests/s and p99 of GET /leaderboard and GET /users/:address with BENCH_USERS (100k)
 * players in the projector's tables, beside a bare Fastify route (the ceiling), each server and the load
 * generator in processes of their own: autocannon for the maximum, an open-loop generator (openLoad.ts, evenly
 * spaced requests) for the fixed 2,000 requests/s. The tables are filled the honest way: chain envelopes
 * into a stream, applied by the real projector.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDatabasePool, migrate } from '@ghostnet/db';
import { createLogger } from '@ghostnet/logger';
import { createProjectionRunner, gameProjection, leaderboardsProjection } from '@ghostnet/projections';
import { createTestDatabase, createTestStream, freePort, startProcess, waitFor } from '@ghostnet/test';
import { startApi } from '../src/testing/apiProcess.ts';
import { envelopeFactory, publishAll, recentToday } from '../src/testing/envelopes.ts';

const USERS = Number(process.env.BENCH_USERS ?? 100_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const TARGET_RATE = 2_000;
/**
 * BENCH_NICE (e.g. -5): renice the measured processes (servers, load generator) so that other work sharing
 * the machine disturbs the figures less. Off by default.
 */
const NICE = process.env.BENCH_NICE === undefined ? null : Number(process.env.BENCH_NICE);
const renice = (pid: number) => {
  if (NICE !== null) execFileSync('renice', ['-n', String(NICE), '-p', String(pid)], { stdio: 'ignore' });
};
const LOAD = fileURLToPath(new URL('./load.ts', import.meta.url));
const OPEN_LOAD = fileURLToPath(new URL('./openLoad.ts', import.meta.url));
const TRIVIAL = fileURLToPath(new URL('./trivialServer.ts', import.meta.url));
const E18 = 10n ** 18n;

const log = (...args: unknown[]) => console.log('[bench:api]', ...args);
const address = (n: number) => `0x${(0xa000000 + n).toString(16).padStart(40, '0')}`;

interface Figures {
  requestsPerSecond: number;
  total: number;
  /** Server CPU per request (µs). */
  cpuUs?: number;
  p50: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

/** CPU time (ms) a process has used: robust to the machine's other load, unlike throughput. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

async function load(url: string, paths: string[], rate?: number): Promise<Figures> {
  const spec = { url, paths, connections: CONNECTIONS, durationSeconds: SECONDS, rate };
  const file = join(tmpdir(), `bench-api-${process.pid}.json`);
  writeFileSync(file, JSON.stringify(spec));
  // Fixed rates go through the open-loop generator (evenly spaced requests); max throughput through autocannon.
  const child = startProcess(process.execPath, ['--import', 'tsx', rate ? OPEN_LOAD : LOAD, file]);
  renice(child.pid);
  const code = await child.exited;
  const line = child
    .output()
    .split('\n')
    .find((l) => l.startsWith('{'));
  if (code !== 0 || !line) throw new Error(`load generator failed:\n${child.output()}`);
  return JSON.parse(line) as Figures;
}

const db = await createTestDatabase();
const stream = await createTestStream();
const cleanup: (() => Promise<unknown>)[] = [() => db.drop(), () => stream.destroy()];
try {
  await migrate(db.url);
  const pool = await createDatabasePool(db.url, { maximumPoolSize: 10 });
  cleanup.unshift(() => pool.end());

  // Players jack in over the last hour; half of them extract with rewards (so the leaderboards have
  // 50k entries in every period), the others stay in (so profiles have a live position).
  const start = recentToday(3_600_000);
  const f = envelopeFactory(stream.chainId, start);
  const levels = ['VAULT', 'MAINFRAME', 'SUBNET', 'DARKNET', 'BLACK_ICE'] as const;
  const envelopes = [];
  for (let n = 0; n < USERS; n++) {
    envelopes.push(f.jackedIn(address(n), BigInt(10 + (n % 500)) * E18, levels[n % 5], start + n));
  }
  for (let n = 0; n < USERS; n += 2) {
    envelopes.push(
      f.extracted(
        address(n),
        BigInt(10 + (n % 500)) * E18,
        BigInt(1 + ((n * 7919) % 100_000)) * 10n ** 15n,
        start + USERS + n,
      ),
    );
  }
  let t = Date.now();
  const last = await publishAll(stream.js, stream.subjects, envelopes);
  log(`published ${envelopes.length} envelopes in ${((Date.now() - t) / 1000).toFixed(1)} s`);

  t = Date.now();
  const runner = createProjectionRunner({
    pool,
    databaseUrl: db.url,
    nc: stream.nc,
    streamName: stream.name,
    chainId: stream.chainId,
    subjectPrefix: stream.prefix,
    projections: [gameProjection, leaderboardsProjection],
    logger: createLogger({ name: 'projector', level: 'warn' }),
  });
  await runner.start();
  await runner.waitFor(last, 600_000);
  await runner.stop();
  log(`projected ${USERS} players (game, leaderboards) in ${((Date.now() - t) / 1000).toFixed(1)} s`);

  const api = await startApi({
    databaseUrl: db.url,
    stream,
    // e.g. BENCH_API_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/api-prof" to see where a request's time goes.
    nodeArgs: process.env.BENCH_API_NODE_ARGS?.split(' ').filter(Boolean) ?? [],
    env: {
      // The limiter stays in the path (its cost is measured) but never refuses the bench's one IP.
      RATE_LIMIT_ANON_PER_MINUTE: '1000000000',
      DATABASE_POOL_SIZE: process.env.BENCH_API_POOL ?? '16',
      LOG_LEVEL: 'error',
    },
  });
  cleanup.unshift(() => api.stop());
  const trivialPort = await freePort();
  const trivial = startProcess(process.execPath, ['--import', 'tsx', TRIVIAL], {
    env: { ...process.env, PORT: String(trivialPort) },
  });
  cleanup.unshift(() => trivial.stop());
  renice(api.process.pid);
  renice(trivial.pid);
  const trivialUrl = `http://127.0.0.1:${trivialPort}`;
  await waitFor(
    'the trivial server',
    async () => (await fetch(`${trivialUrl}/trivial`).catch(() => null))?.ok,
  );

  const boards = ['extracted', 'streak', 'pnl'].flatMap((type) =>
    ['daily', 'weekly', 'all'].map((period) => `/leaderboard?type=${type}&period=${period}&limit=100`),
  );
  const check = await (await fetch(`${api.url}/leaderboard?type=extracted&period=all&limit=100`)).json();
  if (check.entries?.length !== 100)
    throw new Error(`leaderboard not filled: ${JSON.stringify(check).slice(0, 200)}`);
  // Random players, both alive (odd) and extracted (even); a few thousand distinct paths.
  const users = Array.from({ length: 5000 }, () => `/users/${address(Math.floor(Math.random() * USERS))}`);
  const profile = await fetch(`${api.url}${users[0]}`);
  if (profile.status !== 200) throw new Error(`profile: ${profile.status} ${await profile.text()}`);

  const rows: [string, string, Figures][] = [];
  const run = async (name: string, url: string, paths: string[], rate?: number) => {
    const pid = url === trivialUrl ? trivial.pid : api.process.pid;
    const cpuBefore = cpuMs(pid);
    const figures = await load(url, paths, rate);
    figures.cpuUs = ((cpuMs(pid) - cpuBefore) * 1000) / Math.max(1, figures.total);
    rows.push([name, rate ? `${rate}/s, evenly spaced` : `max, ${CONNECTIONS} conns`, figures]);
    log(
      `${name} (${rate ? `${rate}/s` : 'max'}): ${figures.requestsPerSecond.toFixed(0)} req/s, p99 ${figures.p99} ms`,
    );
  };
  await run('trivial Fastify route', trivialUrl, ['/trivial']);
  await run('GET /health/live (API stack)', api.url, ['/health/live']);
  await run('GET /leaderboard', api.url, boards);
  await run('GET /users/:address', api.url, users);
  await run('GET /leaderboard', api.url, boards, TARGET_RATE);
  await run('GET /users/:address', api.url, users, TARGET_RATE);

  console.log(
    `\nGET /leaderboard and GET /users/:address with ${USERS} players; ${SECONDS} s per run, 2 cores shared by servers and load generator\n`,
  );
  console.log('| route | load | req/s | p50 ms | p99 ms | max ms | server CPU µs/req | non-2xx | errors |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [name, mode, x] of rows) {
    console.log(
      `| ${name} | ${mode} | ${x.requestsPerSecond.toFixed(0)} | ${x.p50} | ${x.p99} | ${x.max} | ${x.cpuUs!.toFixed(0)} | ${x.non2xx} | ${x.errors + x.timeouts} |`,
    );
  }
  const ceiling = rows[0]![2].requestsPerSecond;
  const board = rows[2]![2].requestsPerSecond;
  console.log(`\nleaderboard / trivial = ${((board / ceiling) * 100).toFixed(0)}% (goal ≥ 50%)`);
  const cpu = (row: number) => rows[row]![2].cpuUs!;
  console.log(
    `server CPU per request: trivial ${cpu(0).toFixed(0)} µs, leaderboard ${cpu(2).toFixed(0)} µs, users ${cpu(3).toFixed(0)} µs ` +
      "(a measure the machine's other load distorts less than throughput)",
  );
  console.log(
    `machine load average at the end: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} (2 cores)`,
  );
  console.log(
    `p99 at ${TARGET_RATE}/s: leaderboard ${rows[4]![2].p99} ms, users ${rows[5]![2].p99} ms (goal < 20 ms)`,
  );
} finally {
  for (const fn of cleanup) await fn().catch(() => {});
}
process.exit(0);
