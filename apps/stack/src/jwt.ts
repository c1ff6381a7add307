import { randomBytes } from 'node:crypto';
import type { JwtKeyring } from '@ghostnet/auth';

/**
 * A session key made up for one run (launcher tests, chaos, cluster, benches): the keyring this process signs
 * tokens with, and the env that makes the gateway and the API accept them.
 */
export function randomJwt(kid = 'k1'): {
  keyring: JwtKeyring;
  env: { JWT_KEYS: string; JWT_ACTIVE_KID: string };
} {
  const secret = randomBytes(32).toString('hex');
  return {
    keyring: {
      keys: new Map([[kid, new TextEncoder().encode(secret)]]),
      activeKid: kid,
      issuer: 'ghostnet-api',
      audience: 'ghostnet',
      ttlSeconds: 3600,
    },
    env: { JWT_KEYS: `${kid}:${secret}`, JWT_ACTIVE_KID: kid },
  };
}
