import { exitOnConfigError } from '@ghostnet/config';
import { createIngester } from '@ghostnet/ingest';
import { createLogger } from '@ghostnet/logger';
import { startMetricsServer, trackNatsStatus } from '@ghostnet/metrics';
import { connectNats } from '@ghostnet/stream';
import { loadConfig } from './env.ts';
import { ingesterMetrics } from './metrics.ts';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  exitOnConfigError(error);
}
const { env } = config;
const logger = createLogger({ name: 'ingester', level: env.LOG_LEVEL });

const nc = await connectNats({
  url: env.NATS_URL,
  name: 'ghostnet-ingester',
  user: env.NATS_USER,
  password: env.NATS_PASSWORD,
});
const ingester = createIngester({
  rpcUrl: config.rpcUrl,
  wsUrl: config.wsUrl,
  chainId: config.chainId,
  addresses: config.addresses,
  startBlock: config.startBlock,
  nc,
  streamName: env.STREAM_NAME,
  streamReplicas: env.STREAM_REPLICAS,
  subjectPrefix: env.SUBJECT_PREFIX,
  confirmations: env.CONFIRMATIONS,
  maxReorgDepth: env.MAX_REORG_DEPTH,
  pollIntervalMs: env.POLL_INTERVAL_MS,
  rpcTimeoutMs: env.RPC_TIMEOUT_MS,
  logsWithCursor: env.RPC_LOGS_WITH_CURSOR === 'auto',
  logger,
});

const registry = ingesterMetrics(ingester);
trackNatsStatus(registry, nc.status());
const metrics =
  env.METRICS_PORT === undefined
    ? null
    : await startMetricsServer(registry, {
        port: env.METRICS_PORT,
        health: {
          live: () => ingester.stats().state !== 'failed',
          ready: () => ingester.stats().state === 'live' || ingester.stats().state === 'backfill',
        },
      });
if (metrics) logger.info({ port: metrics.port }, 'metrics on /metrics, /healthz, /readyz');

let stopping = false;
// The client gives up only when the server refuses us for good (e.g. a rotated password): exit so that the
// orchestrator restarts us with fresh configuration instead of leaving a process that does nothing.
void nc.closed().then((error) => {
  if (stopping) return;
  logger.fatal({ err: error?.message }, 'NATS connection closed for good');
  process.exit(1);
});
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  await ingester.stop();
  await metrics?.close();
  await nc.drain().catch(() => {});
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

try {
  await ingester.start();
  logger.info(
    { chainId: config.chainId, stream: env.STREAM_NAME, startBlock: config.startBlock },
    'ingester started',
  );
  await ingester.done;
} catch (error) {
  logger.fatal({ err: (error as Error).message }, 'ingester failed');
  await nc.close().catch(() => {});
  process.exit(1);
}
