import { createTestDatabase, createTestStream, type TestDatabase, type TestStream } from '@ghostnet/test';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, type RunningApi, startApi, testToken } from '../testing/apiProcess.ts';

// Each file starts API processes: slow to start on a loaded machine, never a reason to fail.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

let db: TestDatabase;
let stream: TestStream;
let a: RunningApi;
let b: RunningApi;

beforeAll(async () => {
  [db, stream] = await Promise.all([createTestDatabase(), createTestStream()]);
  // Two processes, one database: no memory shared, the limits must still hold in total.
  a = await startApi({ databaseUrl: db.url, stream });
  // b sits behind one (simulated) proxy: the client IP is the last X-Forwarded-For entry. Without the header
  // it keys by the socket address, exactly like a.
  b = await startApi({ databaseUrl: db.url, stream, env: { TRUST_PROXY_HOPS: '1' } });
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await Promise.all([db?.drop(), stream?.destroy()]);
});

/**
 * Fixed one-minute windows: a burst must fall within one. Start early enough in a window; if a loaded machine
 * still made it straddle two, run it again in a window nobody has touched.
 */
async function inOneWindow<T>(seconds: number, run: () => Promise<T>): Promise<T> {
  const nextWindow = () => new Promise((r) => setTimeout(r, 60_000 - (Date.now() % 60_000) + 100));
  for (let attempt = 0; attempt < 3; attempt++) {
    if (60_000 - (Date.now() % 60_000) < seconds * 1000) await nextWindow();
    const window = Math.floor(Date.now() / 60_000);
    const result = await run();
    if (Math.floor(Date.now() / 60_000) === window) return result;
    await nextWindow();
  }
  throw new Error('the burst never fit in one window');
}

async function burst(n: number, token?: string) {
  const results = [];
  // 10 at a time, alternating instances.
  for (let i = 0; i < n; i += 10) {
    const wave = Array.from({ length: Math.min(10, n - i) }, (_, j) =>
      call((i + j) % 2 === 0 ? a.url : b.url, 'GET', '/crews?limit=1', { token }),
    );
    results.push(...(await Promise.all(wave)));
  }
  return results;
}

describe('rate limits across two API processes', () => {
  it('100 requests per minute per IP when signed out, in total over both instances', async () => {
    const results = await inOneWindow(20, () => burst(160));
    const ok = results.filter((r) => r.status === 200);
    const limited = results.filter((r) => r.status === 429);
    expect(ok).toHaveLength(100);
    expect(limited).toHaveLength(60);
    const last = limited.at(-1)!;
    expect(last.body.error.code).toBe('RATE_LIMITED');
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(last.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(last.headers.get('x-ratelimit-limit')).toBe('100');
    expect(last.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(ok[0]!.headers.get('x-ratelimit-limit')).toBe('100');
    expect(Number(ok[0]!.headers.get('x-ratelimit-remaining'))).toBeGreaterThan(80);
    // Probes are not limited.
    expect((await call(a.url, 'GET', '/health/live')).status).toBe(200);
  });

  it('1000 requests per minute per signed-in player, separate from the IP limit', async () => {
    const token = await testToken(`0x${'ab'.repeat(20)}`, stream.chainId);
    const results = await inOneWindow(35, () => burst(1100, token));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1000);
    expect(results.filter((r) => r.status === 429)).toHaveLength(100);
    expect(results.at(-1)!.headers.get('x-ratelimit-limit')).toBe('1000');
    // Another player has a quota of their own.
    const other = await testToken(`0x${'cd'.repeat(20)}`, stream.chainId);
    expect((await call(b.url, 'GET', '/crews', { token: other })).status).toBe(200);
  });

  it('behind a trusted proxy, clients are told apart by X-Forwarded-For', async () => {
    const from = (ip: string) => call(b.url, 'GET', '/crews?limit=1', { headers: { 'x-forwarded-for': ip } });
    const first = await inOneWindow(15, async () => {
      const out = [];
      for (let i = 0; i < 101; i += 10) {
        out.push(
          ...(await Promise.all(Array.from({ length: Math.min(10, 101 - i) }, () => from('203.0.113.7')))),
        );
      }
      // Another client has its own quota; and a client cannot pick its identity: what it puts before the
      // proxy's entry is not trusted.
      return { out, other: await from('203.0.113.8'), spoofed: await from('198.51.100.1, 203.0.113.7') };
    });
    expect(first.out.filter((r) => r.status === 200)).toHaveLength(100);
    expect(first.out.filter((r) => r.status === 429)).toHaveLength(1);
    expect(first.other.status).toBe(200);
    expect(first.spoofed.status).toBe(429);
  });
});
