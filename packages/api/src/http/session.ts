import {
  isTokenRevoked,
  type JwtKeyring,
  type SessionClaims,
  TokenError,
  verifySessionToken,
} from '@ghostnet/auth';
import type { DatabasePool } from '@ghostnet/db';
import type { FastifyRequest } from 'fastify';
import { readCookie, SESSION_COOKIE } from './cookies.ts';
import { ApiError } from './errors.ts';

export { SESSION_COOKIE };

export interface Session {
  address: string;
  chainId: number;
  token: string;
  claims: SessionClaims;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when the request carries a valid session token (bearer header or cookie). */
    session: Session | null;
    /** Why the token it carried was refused, for routes that require one. */
    sessionError: TokenError | null;
  }
}

function tokenOf(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header === 'string' && header.length > 0) {
    const match = /^Bearer ([^\s]+)$/i.exec(header);
    return match ? match[1]! : '';
  }
  return readCookie(request.headers.cookie, SESSION_COOKIE);
}

/**
 * Reads the session of a request (the rate limit keys signed-in players by address): undefined when there was
 * no token (known at once, no promise made), else a promise settled when it is known. Only routes that need a
 * session refuse a missing or bad token, through `requireSession`.
 */
export function readSession(keyring: JwtKeyring) {
  return (request: FastifyRequest): Promise<void> | undefined => {
    const token = tokenOf(request);
    if (token === null) return undefined;
    return verifySessionToken(keyring, token).then(
      (claims) => {
        request.session = { address: claims.sub, chainId: claims.chainId, token, claims };
      },
      (error) => {
        request.sessionError =
          error instanceof TokenError ? error : new TokenError('TOKEN_INVALID', 'token verification failed');
      },
    );
  };
}

/** preHandler for routes that need a signed-in player: a valid, unexpired, not logged-out token. */
export function requireSession(pool: DatabasePool) {
  return async (request: FastifyRequest): Promise<void> => {
    if (!request.session) {
      const error = request.sessionError;
      throw new ApiError(
        401,
        error?.code ?? 'UNAUTHENTICATED',
        error ? error.message : 'sign in first (Authorization: Bearer <token> or the session cookie)',
      );
    }
    if (await isTokenRevoked(pool, request.session.token))
      throw new ApiError(401, 'TOKEN_REVOKED', 'this session was logged out');
  };
}

/** The signed-in player of a route guarded by `requireSession`. */
export function sessionOf(request: FastifyRequest): Session {
  if (!request.session) throw new ApiError(401, 'UNAUTHENTICATED', 'sign in first');
  return request.session;
}
