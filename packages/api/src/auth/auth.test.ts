import { createTestDatabase, createTestStream, type TestDatabase, type TestStream } from '@ghostnet/test';
import { SignJWT } from 'jose';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { createSiweMessage } from 'viem/siwe';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, type RunningApi, startApi, TEST_JWT, TEST_SIWE } from '../testing/apiProcess.ts';

// Each file starts API processes: slow to start on a loaded machine, never a reason to fail.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

let db: TestDatabase;
let stream: TestStream;
let api: RunningApi;

beforeAll(async () => {
  [db, stream] = await Promise.all([createTestDatabase(), createTestStream()]);
  // Logins are anonymous requests: lift the per-IP limit so this file can make many.
  api = await startApi({ databaseUrl: db.url, stream, env: { RATE_LIMIT_ANON_PER_MINUTE: '100000' } });
});

afterAll(async () => {
  await api?.stop();
  await Promise.all([db?.drop(), stream?.destroy()]);
});

const wallet = privateKeyToAccount(generatePrivateKey());

async function nonce(): Promise<string> {
  const res = await call(api.url, 'GET', '/auth/nonce');
  expect(res.status).toBe(200);
  return res.body.nonce;
}

function siwe(n: string, overrides: Partial<Parameters<typeof createSiweMessage>[0]> = {}) {
  return createSiweMessage({
    address: wallet.address,
    domain: TEST_SIWE.domain,
    uri: `${TEST_SIWE.origin}/login`,
    version: '1',
    chainId: stream.chainId,
    nonce: n,
    issuedAt: new Date(),
    statement: 'Jack in to GHOSTNET',
    ...overrides,
  });
}

async function verify(message: string, signature?: string) {
  return call(api.url, 'POST', '/auth/verify', {
    body: { message, signature: signature ?? (await wallet.signMessage({ message })) },
  });
}

describe('Sign-In with Ethereum, against the API process', () => {
  it('logs in with a viem wallet: token in the body and an httpOnly Secure SameSite cookie', async () => {
    const res = await verify(siwe(await nonce()));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.address).toBe(wallet.address.toLowerCase());
    expect(res.body.expiresAt - Date.now()).toBeGreaterThan(23.9 * 3600_000);
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toContain(`ghostnet_session=${res.body.token}`);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/Secure/i);
    expect(cookie).toMatch(/SameSite=Strict/i);

    const viaBearer = await call(api.url, 'GET', '/auth/session', { token: res.body.token });
    expect(viaBearer.status).toBe(200);
    expect(viaBearer.body.address).toBe(wallet.address.toLowerCase());
    const viaCookie = await call(api.url, 'GET', '/auth/session', {
      headers: { cookie: `ghostnet_session=${res.body.token}` },
    });
    expect(viaCookie.status).toBe(200);

    // Logout: the same token is refused afterwards, and the cookie is cleared.
    const out = await call(api.url, 'POST', '/auth/logout', { token: res.body.token });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(/ghostnet_session=;/);
    const after = await call(api.url, 'GET', '/auth/session', { token: res.body.token });
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('TOKEN_REVOKED');
  });

  it('refuses a reused nonce, and of two concurrent logins with one nonce exactly one wins', async () => {
    const message = siwe(await nonce());
    expect((await verify(message)).status).toBe(200);
    const again = await verify(message);
    expect(again.status).toBe(401);
    expect(again.body.error.code).toBe('SIWE_NONCE_USED');

    const shared = siwe(await nonce());
    const signature = await wallet.signMessage({ message: shared });
    const results = await Promise.all(Array.from({ length: 8 }, () => verify(shared, signature)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
  });

  it('refuses every message that is not exactly ours', async () => {
    const other = privateKeyToAccount(generatePrivateKey());
    const hour = 3600_000;
    const cases: [string, () => Promise<{ message: string; signature?: string }>, number, string][] = [
      ['unknown nonce', async () => ({ message: siwe('NeverIssuedByUs123') }), 401, 'SIWE_NONCE_UNKNOWN'],
      [
        'wrong domain',
        async () => ({ message: siwe(await nonce(), { domain: 'evil.example' }) }),
        401,
        'SIWE_WRONG_DOMAIN',
      ],
      [
        'wrong uri',
        async () => ({ message: siwe(await nonce(), { uri: 'https://evil.example/login' }) }),
        401,
        'SIWE_WRONG_URI',
      ],
      [
        'wrong chain',
        async () => ({ message: siwe(await nonce(), { chainId: 1 }) }),
        401,
        'SIWE_WRONG_CHAIN',
      ],
      [
        'expired',
        async () => ({ message: siwe(await nonce(), { expirationTime: new Date(Date.now() - 1000) }) }),
        401,
        'SIWE_EXPIRED',
      ],
      [
        'issued long ago',
        async () => ({ message: siwe(await nonce(), { issuedAt: new Date(Date.now() - hour) }) }),
        401,
        'SIWE_EXPIRED',
      ],
      [
        'not yet valid',
        async () => ({ message: siwe(await nonce(), { notBefore: new Date(Date.now() + hour) }) }),
        401,
        'SIWE_NOT_YET_VALID',
      ],
      [
        'tampered message',
        async () => {
          const message = siwe(await nonce());
          const signature = await wallet.signMessage({ message });
          return { message: message.replace('Jack in to GHOSTNET', 'Jack in to GHOSTNET!'), signature };
        },
        401,
        'SIWE_BAD_SIGNATURE',
      ],
      [
        'signature of another address',
        async () => {
          const message = siwe(await nonce());
          return { message, signature: await other.signMessage({ message }) };
        },
        401,
        'SIWE_BAD_SIGNATURE',
      ],
      ['not a SIWE message', async () => ({ message: 'hello world' }), 400, 'SIWE_MALFORMED'],
    ];
    for (const [name, make, status, code] of cases) {
      const { message, signature } = await make();
      const res = await verify(message, signature);
      expect({ name, status: res.status, code: res.body.error?.code }).toEqual({ name, status, code });
      expect(res.headers.get('set-cookie')).toBeNull();
    }
  });

  it('refuses forged, expired, alg:none and foreign-chain tokens', async () => {
    const address = wallet.address.toLowerCase();
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      sub: address,
      chainId: stream.chainId,
      iss: TEST_JWT.JWT_ISSUER,
      aud: TEST_JWT.JWT_AUDIENCE,
    };
    const sign = (key: string, payload: object, kid = 'k1') =>
      new SignJWT(payload as never)
        .setProtectedHeader({ alg: 'HS256', kid })
        .sign(new TextEncoder().encode(key));
    const goodKey = TEST_JWT.JWT_KEYS.split(':')[1]!;
    const tokens: [string, string, string][] = [
      [
        'forged (other key)',
        await sign('x'.repeat(40), { ...claims, iat: now, exp: now + 3600 }),
        'TOKEN_INVALID',
      ],
      ['expired', await sign(goodKey, { ...claims, iat: now - 7200, exp: now - 3600 }), 'TOKEN_EXPIRED'],
      [
        'alg:none',
        `${b64({ alg: 'none', typ: 'JWT', kid: 'k1' })}.${b64({ ...claims, iat: now, exp: now + 3600 })}.`,
        'TOKEN_INVALID',
      ],
      [
        'other chain',
        await sign(goodKey, { ...claims, chainId: 1, iat: now, exp: now + 3600 }),
        'TOKEN_INVALID',
      ],
      ['garbage', 'not-a-jwt', 'TOKEN_MALFORMED'],
    ];
    for (const [name, token, code] of tokens) {
      const res = await call(api.url, 'GET', '/auth/session', { token });
      expect({ name, status: res.status, code: res.body.error?.code }).toEqual({ name, status: 401, code });
      const crew = await call(api.url, 'POST', '/crews', { token, body: { name: 'Forgers', tag: 'FG' } });
      expect(crew.status).toBe(401);
    }
    // Control: the same construction with the right key is accepted.
    const ok = await call(api.url, 'GET', '/auth/session', {
      token: await sign(goodKey, { ...claims, iat: now, exp: now + 3600 }),
    });
    expect(ok.status).toBe(200);
  });
});
