import { createTestDatabase, createTestStream, type TestDatabase, type TestStream } from '@ghostnet/test';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, type RunningApi, startApi, testToken } from '../testing/apiProcess.ts';

// Each file starts API processes: slow to start on a loaded machine, never a reason to fail.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

let db: TestDatabase;
let stream: TestStream;
let api: RunningApi;
let token: string;

beforeAll(async () => {
  [db, stream] = await Promise.all([createTestDatabase(), createTestStream()]);
  api = await startApi({
    databaseUrl: db.url,
    stream,
    env: { RATE_LIMIT_ANON_PER_MINUTE: '1000000', RATE_LIMIT_USER_PER_MINUTE: '1000000' },
  });
  token = await testToken(`0x${'11'.repeat(20)}`, stream.chainId);
});

afterAll(async () => {
  await api?.stop();
  await Promise.all([db?.drop(), stream?.destroy()]);
});

function expectErrorShape(body: unknown, context: string) {
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } }).error;
  expect(typeof error?.code, context).toBe('string');
  expect(typeof error?.message, context).toBe('string');
  expect(error && 'details' in error, context).toBe(true);
  expect(JSON.stringify(body), context).not.toMatch(/\bat .*\.ts:\d+|node_modules|stack/);
}

const CREW = '3f2b8c1e-9d4a-4b6e-8f00-123456789abc';
const ADDR = `0x${'22'.repeat(20)}`;

/** Every endpoint that takes input, with inputs it must refuse. [method, path, body, auth] */
const MALFORMED: [string, string, unknown, boolean][] = [
  ['POST', '/auth/verify', undefined, false],
  ['POST', '/auth/verify', {}, false],
  ['POST', '/auth/verify', { message: 42, signature: '0x00' }, false],
  ['POST', '/auth/verify', { message: 'x', signature: 'zz' }, false],
  ['POST', '/auth/verify', { message: 'x'.repeat(5000), signature: '0x00' }, false],
  ['POST', '/auth/verify', [], false],
  ['GET', '/users/0x123', undefined, false],
  ['GET', '/users/not-an-address', undefined, false],
  ['GET', `/users/${ADDR}zz`, undefined, false],
  ['GET', '/users/0x123/history', undefined, false],
  ['GET', `/users/${ADDR}/history?limit=0`, undefined, false],
  ['GET', `/users/${ADDR}/history?limit=abc`, undefined, false],
  ['GET', `/users/${ADDR}/history?offset=-1`, undefined, false],
  ['GET', '/crews?sort=bogus', undefined, false],
  ['GET', '/crews?limit=1000', undefined, false],
  ['GET', `/crews?search=${'x'.repeat(30)}`, undefined, false],
  // Postgres cannot store NUL in text: refused at the boundary, not a 500 from the database.
  ['GET', '/crews?search=%00', undefined, false],
  ['GET', '/crews?search=a%00b', undefined, false],
  ['GET', '/crews/not-a-uuid', undefined, false],
  ['GET', "/crews/1' OR '1'='1", undefined, false],
  ['POST', '/crews', { name: 'ab', tag: 'AB' }, true],
  ['POST', '/crews', { name: 'Bad_Name!', tag: 'AB' }, true],
  ['POST', '/crews', { name: 'Two  Spaces', tag: 'AB' }, true],
  ['POST', '/crews', { name: 'Good Name', tag: 'TOOLONG' }, true],
  ['POST', '/crews', { name: 'Good Name', tag: 'A' }, true],
  ['POST', '/crews', { name: 'Good Name', tag: 'AB', description: 'x'.repeat(141) }, true],
  ['POST', '/crews', { name: 'Good Name', tag: 'AB', description: 'nul\u0000inside' }, true],
  ['POST', '/crews', { name: 'x'.repeat(25), tag: 'AB' }, true],
  ['POST', '/crews', undefined, true],
  ['POST', '/crews/not-a-uuid/join', undefined, true],
  ['POST', '/crews/not-a-uuid/leave', undefined, true],
  ['POST', `/crews/${CREW}/members/${ADDR}/role`, { role: 'leader' }, true],
  ['POST', `/crews/${CREW}/members/0xnope/role`, { role: 'officer' }, true],
  ['POST', `/crews/${CREW}/members/${ADDR}/role`, {}, true],
  ['GET', '/leaderboard?type=bogus', undefined, false],
  ['GET', '/leaderboard?period=yearly', undefined, false],
  ['GET', '/leaderboard?limit=0', undefined, false],
  ['GET', '/leaderboard?limit=101', undefined, false],
  ['GET', '/leaderboard/crews?limit=x', undefined, false],
  ['GET', '/game/feed?limit=0', undefined, false],
  ['GET', '/game/feed?before=-1', undefined, false],
];

describe('malformed input, against the API process', () => {
  it('every endpoint refuses it with 400 and the error shape, changing nothing', async () => {
    for (const [method, path, body, auth] of MALFORMED) {
      const res = await call(api.url, method, path, { body, token: auth ? token : undefined });
      expect(res.status, `${method} ${path} ${JSON.stringify(body)?.slice(0, 80)}`).toBe(400);
      expectErrorShape(res.body, `${method} ${path}`);
    }
    expect((await call(api.url, 'GET', '/crews')).body.total).toBe(0);
  });

  it('refuses bodies that are not JSON, too large, or of another media type', async () => {
    const raw = async (body: string, type: string) => {
      const res = await fetch(`${api.url}/auth/verify`, {
        method: 'POST',
        headers: { 'content-type': type },
        body,
      });
      return { status: res.status, body: await res.json() };
    };
    const cases: [string, string, number][] = [
      ['{"message":', 'application/json', 400],
      ['message=x', 'application/x-www-form-urlencoded', 415],
      [JSON.stringify({ message: 'x'.repeat(20_000), signature: '0x00' }), 'application/json', 413],
    ];
    for (const [body, type, status] of cases) {
      const res = await raw(body, type);
      expect(res.status, `${type} ${body.slice(0, 20)}`).toBe(status);
      expectErrorShape(res.body, type);
    }
  });

  it('serves the OpenAPI document and its UI', async () => {
    const doc = await (await fetch(`${api.url}/docs/json`)).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toContain('/leaderboard');
    const ui = await fetch(`${api.url}/docs`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toMatch(/swagger/i);
  });

  it('answers unknown routes with 404 in the error shape', async () => {
    const res = await call(api.url, 'GET', '/nope');
    expect(res.status).toBe(404);
    expectErrorShape(res.body, '/nope');
  });

  it('sends security headers and honours the CORS allow-list', async () => {
    const allowed = await fetch(`${api.url}/leaderboard/crews`, {
      headers: { origin: 'http://localhost:5173' },
    });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
    expect(allowed.headers.get('x-content-type-options')).toBe('nosniff');
    expect(allowed.headers.get('strict-transport-security')).toMatch(/max-age/);
    expect(allowed.headers.get('content-security-policy')).toBeTruthy();
    const foreign = await fetch(`${api.url}/leaderboard/crews`, {
      headers: { origin: 'https://evil.example' },
    });
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
  });
});

/** Deterministic PRNG (mulberry32) so that a failure can be replayed. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('fuzz', () => {
  it('thousands of generated bad inputs never get a 5xx, and every refusal has the error shape', async () => {
    const random = rng(0x5eed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const int = (n: number) => Math.floor(random() * n);
    const weird = [
      '',
      ' ',
      '0',
      '-1',
      '1e309',
      'NaN',
      'null',
      'true',
      '%00',
      '%',
      '%E0%A4%A',
      '..%2F..%2Fetc%2Fpasswd',
      "' OR 1=1 --",
      '<script>',
      '😀',
      '\u0000',
      'x'.repeat(300),
      ADDR,
      ADDR.toUpperCase(),
      CREW,
      '00000000-0000-0000-0000-000000000000',
      '9'.repeat(40),
      '0x',
      '__proto__',
      'constructor',
    ];
    // Raw or percent-encoded; raw values keep only what a URL can carry (fetch refuses the rest client-side).
    const str = () =>
      random() < 0.6 ? encodeURIComponent(pick(weird)) : pick(weird).replace(/[^\x21-\x7e]|[#?]/g, '');
    const value = (depth = 0): unknown => {
      switch (int(depth > 3 ? 6 : 9)) {
        case 0:
          return null;
        case 1:
          return random() < 0.5;
        case 2:
          return pick([0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, Number.MAX_SAFE_INTEGER]);
        case 3:
          return pick(weird);
        case 4:
          return 'x'.repeat(int(200));
        case 5:
          return pick(['officer', 'member', 'leader', 'Neon Ghosts', 'AB', '0x00']);
        case 6:
          return Array.from({ length: int(4) }, () => value(depth + 1));
        default: {
          const keys = [
            'message',
            'signature',
            'name',
            'tag',
            'description',
            'role',
            '__proto__',
            'constructor',
            str(),
          ];
          return Object.fromEntries(Array.from({ length: int(5) }, () => [pick(keys), value(depth + 1)]));
        }
      }
    };
    const paths = [
      () => `/auth/nonce?${str()}=${str()}`,
      () => '/auth/verify',
      () => '/auth/logout',
      () => '/auth/session',
      () => `/users/${str()}`,
      () => `/users/${str()}/history?limit=${str()}&offset=${str()}`,
      () => `/crews?search=${str()}&sort=${str()}&limit=${str()}&offset=${str()}`,
      () => `/crews/${str()}`,
      () => '/crews',
      () => `/crews/${str()}/join`,
      () => `/crews/${str()}/leave`,
      () => `/crews/${pick([CREW, str()])}/members/${pick([ADDR, str()])}/role`,
      () => `/leaderboard?type=${str()}&period=${str()}&limit=${str()}`,
      () => `/leaderboard/crews?limit=${str()}`,
      () => `/game/feed?limit=${str()}&before=${str()}`,
      () => `/${str()}`,
    ];
    const contentTypes = [
      'application/json',
      'text/plain',
      'application/json; charset=latin1',
      'multipart/form-data',
      '',
    ];
    const auths = [
      undefined,
      undefined,
      `Bearer ${token}`,
      'Bearer x.y.z',
      'Basic Zm9vOmJhcg==',
      `Bearer ${'a'.repeat(5000)}`,
    ];
    const total = 3000;
    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < total) {
        next++;
        const method = pick(['GET', 'POST', 'POST', 'PUT', 'DELETE', 'OPTIONS']);
        const path = pick(paths)();
        const headers: Record<string, string> = {};
        const auth = pick(auths);
        if (auth) headers.authorization = auth;
        if (random() < 0.1) headers.cookie = `ghostnet_session=${encodeURIComponent(pick(weird))}`;
        let body: string | undefined;
        if (method !== 'GET' && method !== 'OPTIONS' && random() < 0.8) {
          const type = pick(contentTypes);
          if (type) headers['content-type'] = type;
          body =
            random() < 0.15
              ? '{"a":'.repeat(int(3000))
              : random() < 0.1
                ? '[]'.repeat(int(100))
                : JSON.stringify(value());
        }
        let status = 0;
        let text = '';
        try {
          const res = await fetch(`${api.url}${path}`, { method, headers, body });
          status = res.status;
          text = await res.text();
        } catch (error) {
          failures.push(`${method} ${path}: ${(error as Error).message}`);
          continue;
        }
        if (status >= 500)
          failures.push(`${status} ${method} ${path} ${body?.slice(0, 100)} → ${text.slice(0, 200)}`);
        else if (status >= 400 && method !== 'OPTIONS') {
          try {
            expectErrorShape(JSON.parse(text), path);
          } catch {
            failures.push(`shape ${status} ${method} ${path} → ${text.slice(0, 200)}`);
          }
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect(failures.slice(0, 20)).toEqual([]);
    // The process survived it all.
    expect((await call(api.url, 'GET', '/health/ready')).status).toBe(200);
  });
});
