import {
  ApiEnv,
  BoostSigner,
  ConnectionLanes,
  checkSignerSetup,
  contractAddresses,
  createApi,
  createChainState,
  createProjectionsReadModel,
  minigameRoutes,
  signerCheckedBoostContext,
  type ZodApp,
} from '@ghostnet/api';
import { exitOnConfigError, parseEnv } from '@ghostnet/config';
import { createDatabasePool, migrate } from '@ghostnet/db';
import { createLogger } from '@ghostnet/logger';
import { startMetricsServer, trackNatsStatus } from '@ghostnet/metrics';
import { connectNats } from '@ghostnet/stream';
import { jetstreamManager } from '@nats-io/jetstream';
import { type Address, createPublicClient, http } from 'viem';
import { consoleFromEnv } from './console.ts';
import { apiMetrics } from './metrics.ts';

let env: ApiEnv;
try {
  env = parseEnv('api', ApiEnv);
} catch (error) {
  exitOnConfigError(error);
}
const logger = createLogger({ name: 'api', level: env.LOG_LEVEL });
if (env.API_TEST_CRASH_POINT && process.env.NODE_ENV === 'production') {
  logger.fatal('API_TEST_CRASH_POINT is a test hook and is refused in production');
  process.exit(78);
}
// The crash the outbox test injects: no cleanup, no flush, exactly like a killed pod.
const crash = () => process.kill(process.pid, 'SIGKILL');

try {
  const { applied } = await migrate(env.DATABASE_URL.reveal());
  if (applied.length > 0) logger.info({ applied }, 'migrations applied');
} catch (error) {
  logger.fatal({ err: (error as Error).message }, 'migrations failed');
  process.exit(1);
}

const pool = await createDatabasePool(env.DATABASE_URL, { maximumPoolSize: env.DATABASE_POOL_SIZE });
const nc = await connectNats({
  url: env.NATS_URL,
  name: 'ghostnet-api',
  user: env.NATS_USER,
  password: env.NATS_PASSWORD,
});
// The profile read (the busiest) runs on a few held connections; the rest of the pool serves everything else.
const lanes = new ConnectionLanes(pool, Math.max(1, Math.floor(env.DATABASE_POOL_SIZE / 2)));
lanes.start();
const metrics = apiMetrics(pool, env.DATABASE_POOL_SIZE, env.METRICS_PORT === undefined);
trackNatsStatus(metrics.registry, nc.status());
// Prometheus scrapes METRICS_PORT (infra/k8s: 9464, open to the monitoring namespace only).
const metricsServer =
  env.METRICS_PORT === undefined
    ? null
    : await startMetricsServer(metrics.registry, { port: env.METRICS_PORT, host: env.HOST });
const consoleRoute = await consoleFromEnv({
  jsm: await jetstreamManager(nc),
  pool,
  streamName: env.STREAM_NAME,
});
// The typing mini-game signs boosts: it needs the signer key and the chain (GhostCore, TraceScan, RPC).
let contracts: ReturnType<typeof contractAddresses> = null;
try {
  // Only when the mini-game could run: without a signer key a bad deployment file must not stop the API.
  if (env.BOOST_SIGNER_PRIVATE_KEY && env.RPC_URL) contracts = contractAddresses(env);
} catch (error) {
  // A DEPLOYMENT_FILE that is missing or invalid, or one address without the other: say so, then stop.
  logger.fatal((error as Error).message);
  process.exit(78);
}
async function startMinigame() {
  if (!env.BOOST_SIGNER_PRIVATE_KEY || !contracts || !env.RPC_URL) return null;
  const signer = new BoostSigner(env.BOOST_SIGNER_PRIVATE_KEY, env.CHAIN_ID, contracts.GhostCore as Address);
  const client = createPublicClient({ transport: http(env.RPC_URL, { timeout: 5_000 }) });
  const expected = {
    chainId: env.CHAIN_ID,
    ghostCore: contracts.GhostCore as Address,
    signer: signer.address,
  };
  const setup = await checkSignerSetup(client, expected);
  if (setup.ok === false) {
    // Every boost would revert on chain while the API calls it valid: refuse to start instead.
    logger.fatal(`the mini-game's signer does not match the chain: ${setup.problem}`);
    process.exit(78);
  }
  if (setup.ok === 'unreachable')
    logger.warn(
      { err: setup.error },
      'cannot check the boost signer against the chain yet (RPC unreachable): no boost is signed until it is',
    );
  return minigameRoutes({
    signer,
    boostContext: signerCheckedBoostContext(
      createChainState(client, contracts).boostContext,
      () => checkSignerSetup(client, expected),
      setup,
      (problem) =>
        logger.fatal(`the mini-game's signer does not match the chain: ${problem}; no boost is signed`),
    ),
    challengeTtlMs: env.TYPING_CHALLENGE_TTL_SECONDS * 1000,
  });
}
const minigame = await startMinigame();
if (!minigame)
  logger.info(
    'mini-game disabled (needs BOOST_SIGNER_PRIVATE_KEY, RPC_URL, and GHOST_CORE_ADDRESS + TRACE_SCAN_ADDRESS or DEPLOYMENT_FILE)',
  );
const api = await createApi({
  settings: env,
  pool,
  nc,
  logger,
  read: createProjectionsReadModel(pool, { tvlCapacity: env.TVL_CAPACITY, lanes }),
  routes: [
    (app: ZodApp) => metrics.routes(app),
    ...(minigame ? [minigame] : []),
    ...(consoleRoute ? [(app: ZodApp) => consoleRoute(app)] : []),
  ],
  hooks: {
    afterCommit: env.API_TEST_CRASH_POINT === 'after-commit' ? crash : undefined,
    afterPublish: env.API_TEST_CRASH_POINT === 'after-publish' ? crash : undefined,
  },
});

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  const force = setTimeout(() => {
    logger.error({ step }, 'shutdown timed out');
    process.exit(1);
  }, 10_000);
  force.unref();
  let step = 'http and background work';
  await api.close().catch((error) => logger.error({ err: error }, 'close failed'));
  await metricsServer?.close().catch(() => {});
  lanes.close();
  step = 'nats drain';
  await nc.drain().catch(() => {});
  step = 'database pool';
  await pool.end().catch(() => {});
  logger.info('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

await api.start();
const address = await api.app.listen({ host: env.HOST, port: env.PORT });
logger.info({ address, chainId: env.CHAIN_ID, stream: env.STREAM_NAME }, 'api listening');
