import { randomInt } from 'node:crypto';
import { sql } from '@ghostnet/db';
import type { Address } from 'viem';
import { z } from 'zod';
import type { ApiContext, ZodApp } from '../context.ts';
import { ApiError } from '../http/errors.ts';
import { errors, StoredText } from '../http/schemas.ts';
import { requireSession, sessionOf } from '../http/session.ts';
import { enqueueAppEvent } from '../outbox/outbox.ts';
import { BoostSigner } from './boostSigner.ts';
import type { BoostContext } from './chainState.ts';
import { TYPING_COMMANDS } from './commands.ts';
import {
  boostExpiry,
  cappedBps,
  checkResult,
  LIMITS,
  RejectReason,
  rewardBps,
  suspicionsOf,
} from './rules.ts';

export interface MinigameDeps {
  signer: BoostSigner;
  /** The contracts' view of the player (authoritative for scans, boosts and the next scan time). */
  boostContext: (user: Address) => Promise<BoostContext>;
  challengeTtlMs: number;
}

const Challenge = z.object({
  challengeId: z.string(),
  command: z.string(),
  issuedAt: z.number().int(),
  expiresAt: z.number().int(),
});

const finite = z.number().refine(Number.isFinite, 'a finite number');
const ResultBody = z.object({
  challengeId: z.guid(),
  accuracy: finite.describe('0..1 (values outside are refused with ACCURACY_OUT_OF_RANGE)'),
  wpm: finite,
  command: StoredText(200),
  timestamp: z.number().int().nonnegative().describe('Unix ms when the game ended'),
  duration: finite.min(0).max(3_600_000).describe('ms spent typing'),
  keystrokes: z.array(finite.min(0).max(60_000)).max(1000).optional().describe('Inter-key intervals (ms)'),
});

const Boost = z.object({
  type: z.number().int().describe('0 = DEATH_REDUCTION'),
  valueBps: z.number().int(),
  expiry: z.number().int().describe('Unix seconds'),
  nonce: z.string(),
  signature: z.string(),
});

const ResultResponse = z.object({
  valid: z.boolean(),
  reason: RejectReason.optional(),
  boost: Boost.optional().describe(
    'Submit with GhostCore.applyBoost(type, valueBps, expiry, nonce, signature)',
  ),
});

const ChallengeRow = z.object({
  id: z.string(),
  address: z.string(),
  command: z.string(),
  issued_at: z.number(),
  expires_at: z.number(),
  answered_at: z.number().nullable(),
});

const CountRow = z.object({ n: z.number() });
const OneRow = z.object({ one: z.number() });

const auth: Record<string, string[]>[] = [{ bearer: [] }, { cookie: [] }];

/** POST /minigame/typing/challenge and /result (issue 8): registered through createApi's `routes`. */
export function minigameRoutes(deps: MinigameDeps) {
  return (app: ZodApp, ctx: ApiContext): void => {
    const signedIn = requireSession(ctx.pool);

    app.post(
      '/minigame/typing/challenge',
      {
        preHandler: signedIn,
        schema: {
          tags: ['minigame'],
          summary: 'A server-issued typing challenge: the result must answer it, once, before it expires',
          security: auth,
          response: { 200: Challenge, ...errors(401, 429) },
        },
      },
      async (request) => {
        const address = sessionOf(request).address;
        const command = TYPING_COMMANDS[randomInt(TYPING_COMMANDS.length)]!;
        const now = Date.now();
        const row = await ctx.pool.one(sql.type(ChallengeRow)`
          INSERT INTO api_typing_challenges (address, command, issued_at, expires_at)
          VALUES (${address}, ${command}, to_timestamp(${now / 1000}), to_timestamp(${(now + deps.challengeTtlMs) / 1000}))
          RETURNING id, address, command, issued_at, expires_at, answered_at`);
        return {
          challengeId: row.id,
          command: row.command,
          issuedAt: row.issued_at,
          expiresAt: row.expires_at,
        };
      },
    );

    app.post(
      '/minigame/typing/result',
      {
        preHandler: signedIn,
        schema: {
          tags: ['minigame'],
          summary: 'Submit a typing result; a valid one earns an EIP-712 boost GhostCore accepts',
          security: auth,
          body: ResultBody,
          response: { 200: ResultResponse, ...errors(400, 401, 429) },
        },
      },
      async (request) => {
        const address = sessionOf(request).address as Address;
        const body = request.body;
        const now = Date.now();
        const reject = (reason: RejectReason) => ({ valid: false, reason });

        // The chain is read before the transaction (no row lock or pooled connection held across an RPC call),
        // and only when the result could earn a boost.
        const context =
          rewardBps(body.accuracy, body.wpm) > 0 && body.accuracy <= 1
            ? await playerContext(ctx, deps, address).catch((error) => {
                request.log.warn({ err: error }, 'chain read failed');
                throw new ApiError(503, 'CHAIN_UNAVAILABLE', 'cannot read the chain right now; try again');
              })
            : null;

        const outcome = await ctx.pool.transaction(async (tx) => {
          // One player's results one at a time: the hourly count and the timestamp replay check below read
          // what concurrent submissions of other challenges would insert (and a shared timestamp would
          // otherwise hit the unique index: a 500). Other players are not held up.
          await tx.query(
            sql.unsafe`SELECT pg_advisory_xact_lock(hashtextextended(${`typing:${address}`}, 0))`,
          );
          // The row lock makes "answered once" hold against concurrent submissions.
          const challenge = await tx.maybeOne(sql.type(ChallengeRow)`
            SELECT id, address, command, issued_at, expires_at, answered_at FROM api_typing_challenges
            WHERE id = ${body.challengeId} FOR UPDATE`);
          if (!challenge) return { response: reject('CHALLENGE_UNKNOWN') };
          if (challenge.address !== address) return { response: reject('CHALLENGE_NOT_YOURS') };
          if (challenge.answered_at !== null) return { response: reject('CHALLENGE_REPLAYED') };
          if (challenge.expires_at <= now) return { response: reject('CHALLENGE_EXPIRED') };

          const recent = await tx.oneFirst(sql.type(CountRow)`
            SELECT count(*)::int AS n FROM api_typing_results
            WHERE address = ${address} AND created_at > to_timestamp(${(now - 3_600_000) / 1000})`);
          const replay = await tx.maybeOneFirst(sql.type(OneRow)`
            SELECT 1 AS one FROM api_typing_results WHERE address = ${address} AND client_timestamp = ${body.timestamp}`);

          let reason: RejectReason | null =
            recent >= LIMITS.gamesPerHour
              ? 'TOO_MANY_GAMES'
              : replay
                ? 'RESULT_REPLAYED'
                : checkResult(body, { command: challenge.command, issuedAt: challenge.issued_at }, now);
          if (reason === 'TOO_MANY_GAMES' || reason === 'RESULT_REPLAYED')
            return { response: reject(reason) };

          let valid = reason === null;
          const suspicious = valid ? suspicionsOf(body) : [];
          if (suspicious.length > 0)
            request.log.info({ address, flags: suspicious, wpm: body.wpm }, 'suspicious typing result');
          let boost: z.infer<typeof Boost> | undefined;
          if (valid) {
            const reward = rewardBps(body.accuracy, body.wpm);
            if (reward === 0 || !context) reason = 'NO_REWARD';
            else {
              if (!context.alive) [valid, reason] = [false, 'NO_POSITION'];
              else if (context.scanPending) [valid, reason] = [false, 'SCAN_PENDING'];
              else {
                const valueBps = cappedBps(reward, context.activeDeathReductionBps);
                if (valueBps === 0) reason = 'BOOST_CAP_REACHED';
                else {
                  const nowSeconds = Math.floor(now / 1000);
                  const expiry = boostExpiry(context.nextScanTime ?? nowSeconds, nowSeconds);
                  const nonce = BoostSigner.nonce();
                  const signature = await deps.signer.sign({
                    user: address,
                    boostType: 0,
                    valueBps,
                    expiry: BigInt(expiry),
                    nonce,
                  });
                  boost = { type: 0, valueBps, expiry, nonce, signature };
                }
              }
            }
          }

          await tx.query(
            sql.unsafe`UPDATE api_typing_challenges SET answered_at = now() WHERE id = ${challenge.id}`,
          );
          await tx.query(sql.unsafe`
            INSERT INTO api_typing_results
              (challenge_id, address, accuracy, wpm, duration_ms, client_timestamp, valid, reason,
               boost_type, value_bps, expiry, nonce, signature, suspicious)
            VALUES (${challenge.id}, ${address}, ${body.accuracy}, ${body.wpm}, ${body.duration}, ${body.timestamp},
                    ${valid}, ${reason}, ${boost ? boost.type : null}, ${boost ? boost.valueBps : null},
                    ${boost ? boost.expiry : null}, ${boost ? boost.nonce : null}, ${boost ? boost.signature : null},
                    ${sql.array(suspicious, 'text')})`);
          if (valid) {
            await enqueueAppEvent(tx, {
              chainId: ctx.chainId,
              name: 'MinigameResult',
              args: {
                address,
                game: 'typing',
                result: { valid, wpm: body.wpm, accuracy: body.accuracy, boostBps: boost?.valueBps ?? null },
              },
            });
          }
          return {
            response: { valid, ...(reason ? { reason } : {}), ...(boost ? { boost } : {}) },
            wroteOutbox: valid,
          };
        });
        if (outcome.wroteOutbox) ctx.outboxCommitted();
        return outcome.response;
      },
    );
  };
}

/** Alive per the projections first (as the feed shows it), the chain when they do not know the position yet. */
async function playerContext(ctx: ApiContext, deps: MinigameDeps, address: Address): Promise<BoostContext> {
  const chain = await deps.boostContext(address);
  if (chain.alive) return chain;
  const projected = await ctx.read.position(address).catch(() => null);
  return projected ? { ...chain, alive: true, level: projected.level } : chain;
}
