import { randomInt } from 'node:crypto';
import { sql } from '@ghostnet/db';
import type { CommonQueryMethods } from 'slonik';
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
  committedReductionBps,
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
const SignedRow = z.object({ value_bps: z.number(), expiry: z.number() });
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
        // Every challenge is a row: a player may hold a few open at once (tabs, retries), not an unbounded number.
        const open = await ctx.pool.oneFirst(sql.type(CountRow)`
          SELECT count(*)::int AS n FROM api_typing_challenges
          WHERE address = ${address} AND answered_at IS NULL AND expires_at > now()`);
        if (open >= LIMITS.openChallenges) {
          throw new ApiError(
            429,
            'TOO_MANY_CHALLENGES',
            `${open} challenges are open: answer one or let them expire`,
          );
        }
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
        const nowSeconds = Math.floor(now / 1000);
        const reject = (reason: RejectReason) => ({ valid: false, reason });
        const readChain = () =>
          deps.boostContext(address).catch((error) => {
            request.log.warn({ err: error }, 'chain read failed');
            throw new ApiError(503, 'CHAIN_UNAVAILABLE', 'cannot read the chain right now; try again');
          });

        // The chain is read before the transaction (no row lock or pooled connection held across an RPC call),
        // and only for a result that passes the checks that cost nothing but a read here and could earn a
        // boost: a cheat, a replay or a game over the hourly limit never costs an RPC call (or an answer of
        // 503 while the chain is down). If the transaction finds otherwise, it asks for the chain and runs again.
        const pre = await gameCheck(ctx.pool, address, body, now);
        let context = pre === null && rewardBps(body.accuracy, body.wpm) > 0 ? await readChain() : null;

        const attempt = () =>
          ctx.pool.transaction(async (tx) => {
            // One player's results one at a time: the hourly count, the timestamp replay check and the boosts
            // signed so far read what concurrent submissions would insert (and a shared timestamp would
            // otherwise hit the unique index: a 500). Other players are not held up.
            await tx.query(
              sql.unsafe`SELECT pg_advisory_xact_lock(hashtextextended(${`typing:${address}`}, 0))`,
            );
            // The row lock makes "answered once" hold against concurrent submissions.
            const challenge = await tx.maybeOne(sql.type(ChallengeRow)`
              SELECT id, address, command, issued_at, expires_at, answered_at FROM api_typing_challenges
              WHERE id = ${body.challengeId} FOR UPDATE`);
            const refused = challengeCheck(challenge, address, now);
            if (refused || !challenge) return { response: reject(refused ?? 'CHALLENGE_UNKNOWN') };

            let reason = await gameCheck(tx, address, body, now, challenge);
            if (reason === 'TOO_MANY_GAMES' || reason === 'RESULT_REPLAYED')
              return { response: reject(reason) };

            let valid = reason === null;
            const suspicious = valid ? suspicionsOf(body) : [];
            if (suspicious.length > 0)
              request.log.info({ address, flags: suspicious, wpm: body.wpm }, 'suspicious typing result');
            let boost: z.infer<typeof Boost> | undefined;
            const reward = valid ? rewardBps(body.accuracy, body.wpm) : 0;
            if (valid && reward === 0) reason = 'NO_REWARD';
            else if (valid) {
              if (!context) throw new ChainNeeded();
              if (!context.alive) [valid, reason] = [false, 'NO_POSITION'];
              // The seed is public until the scan is finalized. Nothing is used up: the same result can be
              // sent again once the scan is over (the player cannot see this state; the server can).
              else if (context.scanPending) return { response: reject('SCAN_PENDING') };
              else {
                const signed = await tx.any(sql.type(SignedRow)`
                  SELECT value_bps, expiry FROM api_typing_results
                  WHERE address = ${address} AND boost_type = 0 AND expiry > ${nowSeconds}`);
                const committed = committedReductionBps(
                  context.activeDeathReductions,
                  signed.map((r) => ({ valueBps: r.value_bps, expiry: r.expiry })),
                  nowSeconds,
                );
                const valueBps = cappedBps(reward, committed);
                if (valueBps === 0) reason = 'BOOST_CAP_REACHED';
                else {
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
                  result: {
                    valid,
                    wpm: body.wpm,
                    accuracy: body.accuracy,
                    boostBps: boost?.valueBps ?? null,
                  },
                },
              });
            }
            return {
              response: { valid, ...(reason ? { reason } : {}), ...(boost ? { boost } : {}) },
              wroteOutbox: valid,
            };
          });
        const outcome = await attempt().catch(async (error) => {
          if (!(error instanceof ChainNeeded)) throw error;
          context = await readChain();
          return attempt();
        });
        if (outcome.wroteOutbox) ctx.outboxCommitted();
        return outcome.response;
      },
    );
  };
}

/** The transaction found a result worth a boost that the checks before it did not: it needs the chain. */
class ChainNeeded extends Error {}

function challengeCheck(
  challenge: z.infer<typeof ChallengeRow> | null,
  address: string,
  now: number,
): RejectReason | null {
  if (!challenge) return 'CHALLENGE_UNKNOWN';
  if (challenge.address !== address) return 'CHALLENGE_NOT_YOURS';
  if (challenge.answered_at !== null) return 'CHALLENGE_REPLAYED';
  if (challenge.expires_at <= now) return 'CHALLENGE_EXPIRED';
  return null;
}

/**
 * Every check that needs only the database: the challenge (read here unless the caller holds it locked), the
 * hourly limit, the timestamp replay and the result's own plausibility.
 */
async function gameCheck(
  db: CommonQueryMethods,
  address: string,
  body: z.infer<typeof ResultBody>,
  now: number,
  locked?: z.infer<typeof ChallengeRow>,
): Promise<RejectReason | null> {
  const challenge =
    locked ??
    (await db.maybeOne(sql.type(ChallengeRow)`
      SELECT id, address, command, issued_at, expires_at, answered_at FROM api_typing_challenges
      WHERE id = ${body.challengeId}`));
  const refused = challengeCheck(challenge, address, now);
  if (refused || !challenge) return refused;
  const recent = await db.oneFirst(sql.type(CountRow)`
    SELECT count(*)::int AS n FROM api_typing_results
    WHERE address = ${address} AND created_at > to_timestamp(${(now - 3_600_000) / 1000})`);
  if (recent >= LIMITS.gamesPerHour) return 'TOO_MANY_GAMES';
  const replay = await db.maybeOneFirst(sql.type(OneRow)`
    SELECT 1 AS one FROM api_typing_results WHERE address = ${address} AND client_timestamp = ${body.timestamp}`);
  if (replay) return 'RESULT_REPLAYED';
  return checkResult(body, { command: challenge.command, issuedAt: challenge.issued_at }, now);
}

/**
 * Unanswered challenges an hour past their expiry (an answer that late is still told CHALLENGE_EXPIRED until
 * then). Answered ones stay with their results, which the hourly limit and the replay checks read.
 */
export async function pruneTypingChallenges(pool: CommonQueryMethods): Promise<number> {
  const result = await pool.query(sql.unsafe`
    DELETE FROM api_typing_challenges WHERE answered_at IS NULL AND expires_at < now() - interval '1 hour'`);
  return result.rowCount;
}
