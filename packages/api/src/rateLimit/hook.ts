import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from '../http/errors.ts';
import type { QuotaDecision, SharedQuota } from './sharedQuota.ts';

export interface RateLimits {
  /** Per client IP, for requests without a valid session. */
  anonymousPerWindow: number;
  /** Per signed-in address. */
  userPerWindow: number;
}

/**
 * Limits every request after its session is known (signed-in players are keyed by address and get the higher
 * limit) and answers 429 with Retry-After. Headers follow @fastify/rate-limit's names. Probes and the docs are
 * not the public's traffic; everything else is limited.
 */
const EXEMPT = /^\/(health\/|docs(\/|$))/;

/** Decides one request against its quota; `done` when allowed, a 429 sent otherwise. */
export function rateLimiter(quota: SharedQuota, limits: RateLimits) {
  const perWindow = `${Math.round(quota.windowMs / 1000)} s`;
  // A plain function, not a closure per request: under tsx every closure made costs a __name call too.
  const apply = (reply: FastifyReply, done: () => void, decision: QuotaDecision, now: number) => {
    const resetSeconds = Math.max(1, Math.ceil((decision.resetAt - now) / 1000));
    reply.header('x-ratelimit-limit', decision.limit);
    reply.header('x-ratelimit-remaining', decision.remaining);
    reply.header('x-ratelimit-reset', resetSeconds);
    if (decision.allowed) {
      done();
      return;
    }
    reply.header('retry-after', resetSeconds);
    reply.code(429).send(
      errorBody('RATE_LIMITED', `too many requests: ${decision.limit} per ${perWindow}`, {
        limit: decision.limit,
        retryAfterSeconds: resetSeconds,
      }),
    );
  };
  return (request: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    if (EXEMPT.test(request.url)) {
      done();
      return;
    }
    const key = request.session ? `user:${request.session.address}` : `ip:${request.ip}`;
    const limit = request.session ? limits.userPerWindow : limits.anonymousPerWindow;
    const now = Date.now();
    // Synchronous when this instance already holds quota for the key (most requests).
    const decision = quota.take(key, limit, now);
    if (decision instanceof Promise)
      decision.then(
        (d) => apply(reply, done, d, now),
        () => done(),
      );
    else apply(reply, done, decision, now);
  };
}
