import { Secret } from '@ghostnet/config';
import { describe, expect, it } from 'vitest';
import { issueSessionToken, type JwtKeyring, keyringFromEnv, verifySessionToken } from './jwt.ts';

const env = {
  JWT_KEYS: new Secret(`old:${'a'.repeat(32)},new:${'b'.repeat(32)}`),
  JWT_ACTIVE_KID: 'new',
  JWT_ISSUER: 'ghostnet-api',
  JWT_AUDIENCE: 'ghostnet',
  JWT_TTL_SECONDS: 86_400,
};
const keyring = keyringFromEnv(env);
const user = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8';

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('session tokens', () => {
  it('is refused by a service of another chain (CHAIN_ID in the keyring), as by the API and the gateway', async () => {
    const { token } = await issueSessionToken(keyring, { address: user, chainId: 1 }, 1_000_000);
    const mainnet = keyringFromEnv({ ...env, CHAIN_ID: 1 });
    const testnet = keyringFromEnv({ ...env, CHAIN_ID: 6343 });
    await expect(verifySessionToken(mainnet, token, 1_000_000)).resolves.toMatchObject({ chainId: 1 });
    await expect(verifySessionToken(testnet, token, 1_000_000)).rejects.toMatchObject({
      code: 'TOKEN_INVALID',
      message: 'token is for another chain',
    });
  });

  it('round-trips, lasts 24 h and is verified by any key in the ring', async () => {
    const { token, expiresAt } = await issueSessionToken(
      keyring,
      { address: user, chainId: 31337 },
      1_000_000,
    );
    expect(expiresAt).toBe(1_000_000 + 86_400_000);
    const claims = await verifySessionToken(keyring, token, 1_000_000 + 1000);
    expect(claims).toMatchObject({ sub: user, chainId: 31337 });

    // Rotation: a token from the old active key still verifies while the old key is in the ring.
    const oldRing: JwtKeyring = { ...keyring, activeKid: 'old' };
    const old = await issueSessionToken(oldRing, { address: user, chainId: 31337 }, 1_000_000);
    await expect(verifySessionToken(keyring, old.token, 1_000_000)).resolves.toMatchObject({ sub: user });
    const retired = keyringFromEnv({ ...env, JWT_KEYS: new Secret(`new:${'b'.repeat(32)}`) });
    await expect(verifySessionToken(retired, old.token, 1_000_000)).rejects.toMatchObject({
      code: 'TOKEN_INVALID',
    });
  });

  it('rejects expired, forged, alg:none and garbage tokens with a code', async () => {
    const { token } = await issueSessionToken(keyring, { address: user, chainId: 31337 }, 1_000_000);
    await expect(verifySessionToken(keyring, token, 1_000_000 + 86_401_000)).rejects.toMatchObject({
      code: 'TOKEN_EXPIRED',
    });

    const forgedRing = keyringFromEnv({ ...env, JWT_KEYS: new Secret(`new:${'c'.repeat(32)}`) });
    const forged = await issueSessionToken(forgedRing, { address: user, chainId: 31337 }, 1_000_000);
    await expect(verifySessionToken(keyring, forged.token, 1_000_000)).rejects.toMatchObject({
      code: 'TOKEN_INVALID',
    });

    const [, payload] = token.split('.');
    const none = `${b64({ alg: 'none', typ: 'JWT', kid: 'new' })}.${payload}.`;
    await expect(verifySessionToken(keyring, none, 1_000_000)).rejects.toMatchObject({
      code: 'TOKEN_INVALID',
    });

    await expect(verifySessionToken(keyring, 'not-a-token', 1_000_000)).rejects.toMatchObject({
      code: 'TOKEN_MALFORMED',
    });
  });

  it('refuses an active kid that is not in the ring', () => {
    expect(() => keyringFromEnv({ ...env, JWT_ACTIVE_KID: 'missing' })).toThrow(/not one of JWT_KEYS/);
  });
});
