import { type Secret, secret } from '@ghostnet/config';
import { errors, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';

/**
 * Session tokens shared by the API (which issues them) and the gateway (which verifies them). HS256 with a
 * key id: several keys verify, one signs, so a new key can be rolled out before the old one is retired and
 * nobody is logged out (runbook: add the new key to JWT_KEYS everywhere, then switch JWT_ACTIVE_KID, then drop
 * the old key after the token lifetime).
 */
export interface JwtKey {
  kid: string;
  secret: Secret;
}

export interface JwtKeyring {
  keys: ReadonlyMap<string, Uint8Array>;
  activeKid: string;
  issuer: string;
  audience: string;
  ttlSeconds: number;
  /**
   * The chain whose sessions this service accepts: a token from a login on another chain (deployments that
   * share keys, e.g. testnet and mainnet) is TOKEN_INVALID. Unset only for tools that issue tokens.
   */
  chainId?: number;
}

export const SessionClaims = z.object({
  sub: z.string().regex(/^0x[0-9a-f]{40}$/),
  iat: z.number().int(),
  exp: z.number().int(),
  /** Chain the SIWE login was for. */
  chainId: z.number().int().positive(),
});
export type SessionClaims = z.infer<typeof SessionClaims>;

/** Env fragment: `JWT_KEYS=kid1:secret1,kid2:secret2` (each secret ≥ 32 chars), `JWT_ACTIVE_KID=kid2`. */
export const jwtEnv = {
  JWT_KEYS: secret(
    z
      .string()
      .regex(
        /^([A-Za-z0-9_-]+:[^,:]{32,})(,[A-Za-z0-9_-]+:[^,:]{32,})*$/,
        'must be kid:secret[,kid:secret…], secrets ≥ 32 chars',
      ),
  ),
  JWT_ACTIVE_KID: z.string().regex(/^[A-Za-z0-9_-]+$/),
  JWT_ISSUER: z.string().default('ghostnet-api'),
  JWT_AUDIENCE: z.string().default('ghostnet'),
  JWT_TTL_SECONDS: z.coerce
    .number()
    .int()
    .positive()
    .default(24 * 3600),
};

export function keyringFromEnv(env: {
  JWT_KEYS: Secret;
  JWT_ACTIVE_KID: string;
  JWT_ISSUER: string;
  JWT_AUDIENCE: string;
  JWT_TTL_SECONDS: number;
  CHAIN_ID?: number;
}): JwtKeyring {
  const keys = new Map<string, Uint8Array>();
  for (const pair of env.JWT_KEYS.reveal().split(',')) {
    const [kid, value] = pair.split(':') as [string, string];
    keys.set(kid, new TextEncoder().encode(value));
  }
  if (!keys.has(env.JWT_ACTIVE_KID))
    throw new Error(`JWT_ACTIVE_KID ${env.JWT_ACTIVE_KID} is not one of JWT_KEYS' ids`);
  return {
    keys,
    activeKid: env.JWT_ACTIVE_KID,
    issuer: env.JWT_ISSUER,
    audience: env.JWT_AUDIENCE,
    ttlSeconds: env.JWT_TTL_SECONDS,
    chainId: env.CHAIN_ID,
  };
}

export async function issueSessionToken(
  keyring: JwtKeyring,
  claims: { address: string; chainId: number },
  now = Date.now(),
): Promise<{ token: string; expiresAt: number }> {
  const iat = Math.floor(now / 1000);
  const exp = iat + keyring.ttlSeconds;
  const token = await new SignJWT({ chainId: claims.chainId })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: keyring.activeKid })
    .setSubject(claims.address.toLowerCase())
    .setIssuer(keyring.issuer)
    .setAudience(keyring.audience)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(keyring.keys.get(keyring.activeKid)!);
  return { token, expiresAt: exp * 1000 };
}

export type TokenErrorCode = 'TOKEN_MALFORMED' | 'TOKEN_EXPIRED' | 'TOKEN_INVALID';

export class TokenError extends Error {
  override name = 'TokenError';
  constructor(
    readonly code: TokenErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Verifies a session token. Only HS256 with a known kid is accepted: `alg: none`, other algorithms and
 * unknown keys are refused before any signature math. The error says which, never the token.
 */
export async function verifySessionToken(
  keyring: JwtKeyring,
  token: string,
  now = Date.now(),
): Promise<SessionClaims> {
  if (typeof token !== 'string' || token.length > 4096 || token.split('.').length !== 3) {
    throw new TokenError('TOKEN_MALFORMED', 'token is not a JWT');
  }
  try {
    const { payload } = await jwtVerify(
      token,
      async (header) => {
        const key = header.kid ? keyring.keys.get(header.kid) : undefined;
        if (!key) throw new TokenError('TOKEN_INVALID', 'token signed with an unknown key');
        return key;
      },
      {
        algorithms: ['HS256'],
        issuer: keyring.issuer,
        audience: keyring.audience,
        currentDate: new Date(now),
        requiredClaims: ['sub', 'exp', 'iat'],
      },
    );
    const claims = SessionClaims.safeParse(payload);
    if (!claims.success) throw new TokenError('TOKEN_INVALID', 'token claims are not a GHOSTNET session');
    if (keyring.chainId !== undefined && claims.data.chainId !== keyring.chainId)
      throw new TokenError('TOKEN_INVALID', 'token is for another chain');
    return claims.data;
  } catch (error) {
    if (error instanceof TokenError) throw error;
    if (error instanceof errors.JWTExpired) throw new TokenError('TOKEN_EXPIRED', 'token expired');
    if (error instanceof errors.JOSEAlgNotAllowed)
      throw new TokenError('TOKEN_INVALID', 'token algorithm not allowed');
    if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) {
      throw new TokenError('TOKEN_MALFORMED', 'token is not a valid JWT');
    }
    throw new TokenError('TOKEN_INVALID', 'token verification failed');
  }
}
