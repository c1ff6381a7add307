import {
  checkSiweMessage,
  issueSessionToken,
  MAX_SIWE_MESSAGE_LENGTH,
  revokeToken,
  SiweError,
  verifySiweSignature,
} from '@ghostnet/auth';
import type { Hex } from 'viem';
import { z } from 'zod';
import type { ApiContext, ZodApp } from '../context.ts';
import { clearedSessionCookie, sessionCookie } from '../http/cookies.ts';
import { ApiError } from '../http/errors.ts';
import { errors, Ok } from '../http/schemas.ts';
import { requireSession, sessionOf } from '../http/session.ts';

const VerifyBody = z.object({
  message: z.string().min(1).max(MAX_SIWE_MESSAGE_LENGTH).describe('The EIP-4361 message the wallet signed'),
  signature: z
    .string()
    .regex(/^0x[0-9a-fA-F]{2,4096}$/, 'hex signature')
    .describe('65-byte EOA signature, or a contract wallet signature (ERC-1271/6492)'),
});

const SessionToken = z.object({
  token: z.string().describe('JWT (HS256), also set as the httpOnly session cookie'),
  expiresAt: z.number().int().describe('Unix ms'),
  address: z.string(),
});

const NONCE_CODES: Record<string, [string, string]> = {
  unknown: ['SIWE_NONCE_UNKNOWN', 'nonce was not issued by us'],
  used: ['SIWE_NONCE_USED', 'nonce was already used'],
  expired: ['SIWE_NONCE_EXPIRED', 'nonce expired: ask for a new one'],
};

export function authRoutes(app: ZodApp, ctx: ApiContext): void {
  app.get(
    '/auth/nonce',
    {
      schema: {
        tags: ['auth'],
        summary: 'A single-use nonce for a Sign-In with Ethereum message',
        response: {
          200: z.object({
            nonce: z.string(),
            expiresAt: z.number().int(),
            domain: z.string(),
            uri: z.string(),
            chainId: z.number().int(),
          }),
          ...errors(429),
        },
      },
    },
    async (_request, reply) => {
      const { nonce, expiresAt } = await ctx.nonces.issue();
      reply.header('cache-control', 'no-store');
      return { nonce, expiresAt, domain: ctx.siwe.domain, uri: ctx.siwe.origin, chainId: ctx.chainId };
    },
  );

  app.post(
    '/auth/verify',
    {
      schema: {
        tags: ['auth'],
        summary: 'Verify a signed SIWE message and start a 24 h session',
        body: VerifyBody,
        response: { 200: SessionToken, ...errors(400, 401, 429) },
      },
    },
    async (request, reply) => {
      const { message, signature } = request.body;
      let checked: ReturnType<typeof checkSiweMessage>;
      try {
        checked = checkSiweMessage(message, ctx.siwe);
        await verifySiweSignature(message, checked.address, signature as Hex, { client: ctx.siweClient });
      } catch (error) {
        if (error instanceof SiweError) {
          throw new ApiError(error.reason === 'MALFORMED' ? 400 : 401, `SIWE_${error.reason}`, error.message);
        }
        throw error;
      }
      // Last, so that a message we would refuse anyway does not burn its nonce.
      const outcome = await ctx.nonces.consume(checked.nonce);
      if (outcome !== 'ok') {
        const [code, text] = NONCE_CODES[outcome]!;
        throw new ApiError(401, code, text);
      }
      const session = await issueSessionToken(ctx.keyring, {
        address: checked.address,
        chainId: ctx.chainId,
      });
      reply.header('set-cookie', sessionCookie(session.token, session.expiresAt));
      reply.header('cache-control', 'no-store');
      request.log.info({ address: checked.address }, 'signed in');
      return { token: session.token, expiresAt: session.expiresAt, address: checked.address };
    },
  );

  app.get(
    '/auth/session',
    {
      preHandler: requireSession(ctx.pool),
      schema: {
        tags: ['auth'],
        summary: 'The signed-in session',
        security: [{ bearer: [] as string[] }, { cookie: [] as string[] }],
        response: {
          200: z.object({ address: z.string(), chainId: z.number().int(), expiresAt: z.number().int() }),
          ...errors(401, 429),
        },
      },
    },
    async (request) => {
      const session = sessionOf(request);
      return { address: session.address, chainId: session.chainId, expiresAt: session.claims.exp * 1000 };
    },
  );

  app.post(
    '/auth/logout',
    {
      schema: {
        tags: ['auth'],
        summary: 'End the session: the token is refused from now on and the cookie cleared',
        response: { 200: Ok, ...errors(429) },
      },
    },
    async (request, reply) => {
      const session = request.session;
      if (session) {
        await revokeToken(ctx.pool, session.token, session.claims.exp);
      }
      reply.header('set-cookie', clearedSessionCookie());
      return { success: true as const };
    },
  );
}
