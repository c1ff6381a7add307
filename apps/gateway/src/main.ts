import { keyringFromEnv, revokedAmong } from '@ghostnet/auth';
import { exitOnConfigError } from '@ghostnet/config';
import { createDatabasePool } from '@ghostnet/db';
import { createSubjects, DEFAULT_FEED_OPTIONS } from '@ghostnet/events';
import { Gateway, listenForCheckpoints, projectionSnapshots } from '@ghostnet/gateway';
import { createLogger } from '@ghostnet/logger';
import { startMetricsServer, trackNatsStatus } from '@ghostnet/metrics';
import { connectNats, isNotFound } from '@ghostnet/stream';
import { jetstreamManager } from '@nats-io/jetstream';
import { type GatewayEnv, loadEnv } from './env.ts';
import { gatewayMetrics } from './metrics.ts';

let env: GatewayEnv;
try {
  env = loadEnv();
} catch (error) {
  exitOnConfigError(error);
}
const logger = createLogger({ name: 'gateway', level: env.LOG_LEVEL });

const nc = await connectNats({
  url: env.NATS_URL,
  name: 'ghostnet-gateway',
  user: env.NATS_USER,
  password: env.NATS_PASSWORD,
});
const pool = await createDatabasePool(env.DATABASE_URL, { maximumPoolSize: env.DATABASE_POOL_SIZE });
const feedOptions = env.WHALE_THRESHOLD_WEI
  ? { whaleThreshold: BigInt(env.WHALE_THRESHOLD_WEI) }
  : DEFAULT_FEED_OPTIONS;

let gateway: Gateway | null = null;
let metrics: Awaited<ReturnType<typeof startMetricsServer>> | null = null;
let checkpoints: ReturnType<typeof listenForCheckpoints> | null = null;
let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  await checkpoints?.stop();
  await gateway?.stop();
  await metrics?.close();
  await nc.drain().catch(() => {});
  await pool.end().catch(() => {});
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

// Gateways only read the stream (the ingester creates it): wait for it rather than crash-looping.
const jsm = await jetstreamManager(nc);
for (;;) {
  try {
    await jsm.streams.info(env.STREAM_NAME);
    break;
  } catch (error) {
    if (!isNotFound(error)) throw error;
    logger.warn({ stream: env.STREAM_NAME }, 'stream not found yet; waiting');
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

gateway = new Gateway({
  nc,
  streamName: env.STREAM_NAME,
  subjectRoot: createSubjects(env.CHAIN_ID, env.SUBJECT_PREFIX).root,
  keyring: keyringFromEnv(env),
  snapshots: projectionSnapshots(pool, { feed: feedOptions }),
  revocations: { revokedAmong: (hashes) => revokedAmong(pool, hashes) },
  logger,
  host: env.HOST,
  port: env.PORT,
  allowedOrigins: env.ALLOWED_ORIGINS,
  sessionCookie: env.SESSION_COOKIE,
  allowAnonymousFeed: env.ALLOW_ANONYMOUS_FEED,
  connectionsBucket: env.CONNECTIONS_BUCKET,
  connectionsReplicas: env.CONNECTIONS_REPLICAS,
  feedOptions,
  instanceId: env.INSTANCE_ID,
  limits: {
    maxConnectionsPerUser: env.MAX_CONNECTIONS_PER_USER,
    leaseMs: env.LEASE_SECONDS * 1000,
    heartbeatSeconds: env.HEARTBEAT_SECONDS,
    authTimeoutMs: env.AUTH_TIMEOUT_MS,
    maxPayloadBytes: env.MAX_PAYLOAD_BYTES,
    maxBufferedBytes: env.MAX_BUFFERED_BYTES,
    replayWindow: env.REPLAY_WINDOW,
    replayLimit: env.REPLAY_LIMIT,
  },
});

try {
  await gateway.start();
  const g = gateway;
  // Wake POSITION_UPDATEs on the projector's commits instead of waiting for the next poll.
  checkpoints = listenForCheckpoints(env.DATABASE_URL, (n) => g.checkpointAdvanced(n.projection), logger);
  if (env.METRICS_PORT !== undefined) {
    const registry = gatewayMetrics(gateway, pool, env.DATABASE_POOL_SIZE, checkpoints);
    trackNatsStatus(registry, nc.status());
    metrics = await startMetricsServer(registry, {
      port: env.METRICS_PORT,
      health: { ready: () => g.stats().ready },
    });
  }
} catch (error) {
  logger.fatal({ err: (error as Error).message }, 'gateway failed to start');
  await nc.close().catch(() => {});
  process.exit(1);
}
