import fastifyCors from '@fastify/cors';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { keyringFromEnv } from '@ghostnet/auth';
import type { DatabasePool } from '@ghostnet/db';
import { createSubjects } from '@ghostnet/events';
import type { Logger } from '@ghostnet/logger';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import Fastify, { type FastifyBaseLogger, type FastifyReply, LogController } from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { type Client, createPublicClient, http } from 'viem';
import { NonceStore } from './auth/nonceStore.ts';
import { authRoutes } from './auth/routes.ts';
import type { ApiEnv } from './config.ts';
import type { ApiContext, ZodApp } from './context.ts';
import { CrewStore } from './crews/crewStore.ts';
import { crewRoutes } from './crews/routes.ts';
import { gameRoutes } from './game/routes.ts';
import { healthRoutes } from './health/routes.ts';
import { SESSION_COOKIE } from './http/cookies.ts';
import { errorBody, installErrorHandling } from './http/errors.ts';
import { lazyChildLogger } from './http/requestLogger.ts';
import { helmetHeaders } from './http/securityHeaders.ts';
import { readSession } from './http/session.ts';
import { leaderboardRoutes } from './leaderboard/routes.ts';
import { pruneTypingChallenges } from './minigame/routes.ts';
import { OutboxPublisher } from './outbox/publisher.ts';
import { rateLimiter } from './rateLimit/hook.ts';
import { SharedQuota } from './rateLimit/sharedQuota.ts';
import { CheckpointCache } from './read/checkpointCache.ts';
import type { ReadModel } from './read/readModel.ts';
import { createEnsResolver, type EnsResolver } from './users/ens.ts';
import { userRoutes } from './users/routes.ts';

export type ApiSettings = Pick<
  ApiEnv,
  | 'CHAIN_ID'
  | 'STREAM_NAME'
  | 'SUBJECT_PREFIX'
  | 'JWT_KEYS'
  | 'JWT_ACTIVE_KID'
  | 'JWT_ISSUER'
  | 'JWT_AUDIENCE'
  | 'JWT_TTL_SECONDS'
  | 'SIWE_DOMAIN'
  | 'SIWE_ORIGIN'
  | 'SIWE_NONCE_TTL_SECONDS'
  | 'CORS_ORIGINS'
  | 'RPC_URL'
  | 'ENS_RPC_URL'
  | 'RATE_LIMIT_ANON_PER_MINUTE'
  | 'RATE_LIMIT_USER_PER_MINUTE'
  | 'TRUST_PROXY_HOPS'
  | 'BODY_LIMIT_BYTES'
  | 'OUTBOX_POLL_MS'
  | 'DOCS_ENABLED'
>;

export interface CreateApiOptions {
  settings: ApiSettings;
  pool: DatabasePool;
  nc: NatsConnection;
  logger: Logger;
  read: ReadModel;
  /** Overrides for tests; built from the settings otherwise. */
  siweClient?: Client;
  ens?: EnsResolver;
  /** Test hooks on the outbox path (the crash-between-commit-and-publish test). */
  hooks?: { afterCommit?: () => void; afterPublish?: () => void };
  rateLimitWindowMs?: number;
  /** More routes over the same context and hooks (the mini-game routes of `minigame/routes.ts` plug in here). */
  routes?: ((app: ZodApp, context: ApiContext) => void)[];
}

export interface Api {
  app: ZodApp;
  context: ApiContext;
  publisher: OutboxPublisher;
  /** Starts the background work (outbox publisher, checkpoint follower, pruning). */
  start(): Promise<void>;
  /** Stops accepting requests, finishes in-flight ones, stops background work. */
  close(): Promise<void>;
}

export async function createApi(options: CreateApiOptions): Promise<Api> {
  const { settings: s, pool, nc, logger, read } = options;
  const keyring = keyringFromEnv(s);
  const subjects = createSubjects(s.CHAIN_ID, s.SUBJECT_PREFIX);
  const jsm = await jetstreamManager(nc);
  // The publisher must know how long the stream deduplicates: older attempts are checked in the stream.
  const streamInfo = await jsm.streams.info(s.STREAM_NAME).catch(() => null);
  const duplicateWindowMs = streamInfo?.config.duplicate_window
    ? streamInfo.config.duplicate_window / 1e6
    : 120_000;
  const publisher = new OutboxPublisher({
    duplicateWindowMs,
    pool,
    js: jetstream(nc),
    streamName: s.STREAM_NAME,
    subjects,
    logger,
    pollMs: s.OUTBOX_POLL_MS,
    afterPublish: options.hooks?.afterPublish,
  });
  const outboxCommitted = () => {
    options.hooks?.afterCommit?.();
    publisher.wake();
  };
  const crews = new CrewStore({ pool, chainId: s.CHAIN_ID, afterCommit: outboxCommitted });
  const cache = new CheckpointCache(() => read.checkpoint(), { logger });
  const quota = new SharedQuota({
    pool,
    windowMs: options.rateLimitWindowMs ?? 60_000,
    onStoreError: (error) => logger.warn({ err: error }, 'rate-limit store unavailable; request let through'),
  });
  const siweOrigin = s.SIWE_ORIGIN ?? `https://${s.SIWE_DOMAIN}`;
  const context: ApiContext = {
    chainId: s.CHAIN_ID,
    pool,
    logger,
    keyring,
    siwe: {
      domain: s.SIWE_DOMAIN,
      origin: siweOrigin,
      chainId: s.CHAIN_ID,
      maxAgeMs: s.SIWE_NONCE_TTL_SECONDS * 1000,
      nonceTtlMs: s.SIWE_NONCE_TTL_SECONDS * 1000,
    },
    siweClient:
      options.siweClient ?? (s.RPC_URL ? createPublicClient({ transport: http(s.RPC_URL) }) : undefined),
    nonces: new NonceStore(pool, s.SIWE_NONCE_TTL_SECONDS * 1000),
    crews,
    read,
    cache,
    ens: options.ens ?? createEnsResolver({ rpcUrl: s.ENS_RPC_URL }),
    outboxCommitted,
    natsReady: async () => {
      await jsm.streams.info(s.STREAM_NAME);
      return true;
    },
  };

  const app = await buildApp(context, s, quota, options.routes);

  const timers: NodeJS.Timeout[] = [];
  return {
    app,
    context,
    publisher,
    async start() {
      publisher.start();
      await cache.start();
      const prune = () =>
        Promise.all([
          quota.prune(),
          context.nonces.prune(),
          pruneRevoked(pool),
          pruneTypingChallenges(pool),
        ]).catch((error) => logger.warn({ err: error }, 'pruning failed'));
      const timer = setInterval(prune, 60_000);
      timer.unref();
      timers.push(timer);
    },
    async close() {
      for (const timer of timers) clearInterval(timer);
      cache.stop();
      logger.debug('closing http');
      // Backstop for a client that keeps a connection open anyway.
      const force = setTimeout(() => app.server.closeAllConnections(), 5_000);
      force.unref();
      await app.close();
      clearTimeout(force);
      logger.debug('stopping the outbox publisher');
      await publisher.stop();
    },
  };
}

export type HttpSettings = Pick<
  ApiSettings,
  | 'CHAIN_ID'
  | 'CORS_ORIGINS'
  | 'TRUST_PROXY_HOPS'
  | 'BODY_LIMIT_BYTES'
  | 'DOCS_ENABLED'
  | 'RATE_LIMIT_ANON_PER_MINUTE'
  | 'RATE_LIMIT_USER_PER_MINUTE'
>;

/**
 * The HTTP layer: plugins, hooks and routes over a context. Registering routes calls nothing in the
 * context, so the OpenAPI generator builds the same app over a stub one.
 */
export async function buildApp(
  context: ApiContext,
  s: HttpSettings,
  quota: SharedQuota,
  routes: ((app: ZodApp, context: ApiContext) => void)[] = [],
): Promise<ZodApp> {
  const { logger, keyring } = context;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Per-request log lines would cost more than many routes; errors are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: lazyChildLogger,
    // Trust exactly the configured number of proxy hops for the client IP (rate limits key on it).
    trustProxy: (_address: string, hop: number) => hop < s.TRUST_PROXY_HOPS,
    bodyLimit: s.BODY_LIMIT_BYTES,
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
    // Router-level refusals (undecodable URL, over-long parameter) in the same error shape.
    frameworkErrors: (error, _request, reply) => {
      const code = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'PARAM_TOO_LONG' : 'BAD_URL';
      (reply as unknown as FastifyReply)
        .code(error.statusCode ?? 400)
        .send(errorBody(code, code === 'BAD_URL' ? 'invalid url' : 'parameter too long'));
    },
  }).withTypeProvider<ZodTypeProvider>();
  // Graceful close: requests in flight when closing starts are answered, then their keep-alive connection ends
  // at once (otherwise server.close() waits out the 72 s keep-alive of a connection that was busy when the
  // idle ones were closed).
  app.addHook('preClose', (done) => {
    app.server.keepAliveTimeout = 1;
    done();
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandling(app);

  await app.register(fastifyCors, {
    origin: s.CORS_ORIGINS,
    credentials: true,
    methods: ['GET', 'POST'],
    allowedHeaders: ['content-type', 'authorization'],
    exposedHeaders: ['retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'],
    maxAge: 600,
  });
  if (s.DOCS_ENABLED) {
    await app.register(fastifySwagger, {
      openapi: openApiInfo(),
      transform: jsonSchemaTransform,
      transformObject: jsonSchemaTransformObject,
    });
    await app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true });
  }
  // One hook for every request, synchronous in the common case: helmet's headers, the session (if a token
  // came), then the rate limit keyed by it.
  const headers = helmetHeaders();
  const readRequestSession = readSession(keyring);
  const limit = rateLimiter(quota, {
    anonymousPerWindow: s.RATE_LIMIT_ANON_PER_MINUTE,
    userPerWindow: s.RATE_LIMIT_USER_PER_MINUTE,
  });
  app.decorateRequest('session', null);
  app.decorateRequest('sessionError', null);
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(headers);
    const session = readRequestSession(request);
    if (session) session.then(() => limit(request, reply, done));
    else limit(request, reply, done);
  });

  healthRoutes(app, context);
  authRoutes(app, context);
  userRoutes(app, context);
  crewRoutes(app, context);
  leaderboardRoutes(app, context);
  gameRoutes(app, context);
  for (const register of routes) register(app, context);
  await app.ready();
  return app;
}

async function pruneRevoked(pool: DatabasePool): Promise<void> {
  const { sql } = await import('@ghostnet/db');
  await pool.query(sql.unsafe`DELETE FROM api_revoked_tokens WHERE expires_at < now()`);
}

export function openApiInfo() {
  return {
    openapi: '3.1.0',
    info: {
      title: 'GHOSTNET API',
      version: '1.0.0',
      description:
        'Sign-In with Ethereum, profiles, crews, leaderboards and game state. Errors always have the shape ' +
        '{error:{code,message,details}}. Limits: 100 requests/min per IP, 1000/min per signed-in player ' +
        '(x-ratelimit-* headers; 429 with Retry-After).',
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http' as const, scheme: 'bearer', bearerFormat: 'JWT' },
        cookie: { type: 'apiKey' as const, in: 'cookie' as const, name: SESSION_COOKIE },
      },
    },
  };
}
