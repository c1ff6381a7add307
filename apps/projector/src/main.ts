import { exitOnConfigError } from '@ghostnet/config';
import { createDatabasePool, migrate } from '@ghostnet/db';
import { createSubjects } from '@ghostnet/events';
import { createLogger } from '@ghostnet/logger';
import { startMetricsServer, trackNatsStatus } from '@ghostnet/metrics';
import {
  ALL_PROJECTIONS,
  ProjectionRunner,
  RUNNER_POOL_OPTIONS,
  runProjectionsCommand,
  SurvivorsPublisher,
} from '@ghostnet/projections';
import { connectNats, ensureStream, streamConfigFor } from '@ghostnet/stream';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { projectorEnv } from './env.ts';
import { projectorMetrics } from './metrics.ts';

/**
 * `projector`: runs every projection, or those PROJECTOR_PROJECTIONS names (migrations first), until
 * SIGTERM/SIGINT: each batch in flight commits and is acknowledged, then the leases are released.
 * `projector projections list|status|rebuild NAME|resume NAME`: the operator's commands, then exit.
 */
async function main(argv: string[]): Promise<void> {
  const env = projectorEnv();
  const logger = createLogger({ name: 'projector', level: env.LOG_LEVEL });
  const databaseUrl = env.DATABASE_URL.reveal();
  const cli = argv[0] === 'projections';
  const pool = await createDatabasePool(env.DATABASE_URL, {
    ...RUNNER_POOL_OPTIONS,
    prepareStatements: env.PROJECTOR_PREPARE_STATEMENTS,
    maximumPoolSize: env.DATABASE_POOL_SIZE,
  });
  const nc = await connectNats({
    url: env.NATS_URL,
    name: cli ? 'projector-cli' : 'projector',
    user: env.NATS_USER,
    password: env.NATS_PASSWORD,
  });
  const jsm = await jetstreamManager(nc);

  if (cli) {
    await migrate(databaseUrl);
    const code = await runProjectionsCommand(argv.slice(1), {
      pool,
      jsm,
      streamName: env.STREAM_NAME,
      out: (line) => process.stdout.write(`${line}\n`),
    });
    await pool.end();
    await nc.close();
    process.exit(code);
  }

  const migrated = await migrate(databaseUrl);
  if (migrated.applied.length) logger.info({ applied: migrated.applied }, 'migrations applied');
  const subjects = createSubjects(env.CHAIN_ID, env.SUBJECT_PREFIX);
  const { epoch, drift } = await ensureStream(
    jsm,
    streamConfigFor({ name: env.STREAM_NAME, subjectRoot: subjects.root }),
  );
  if (drift.length) logger.warn({ drift }, 'the stream differs from infra/nats/stream.json');

  const projections = ALL_PROJECTIONS.filter((p) => env.PROJECTOR_PROJECTIONS.includes(p.name));
  const runner = new ProjectionRunner({
    pool,
    databaseUrl,
    nc,
    streamName: env.STREAM_NAME,
    chainId: env.CHAIN_ID,
    subjectPrefix: env.SUBJECT_PREFIX,
    projections,
    logger,
    batchSize: env.PROJECTOR_BATCH_SIZE,
    batchWaitMs: env.PROJECTOR_BATCH_WAIT_MS,
    pollMs: env.PROJECTOR_POLL_MS,
    undoWindow: env.PROJECTOR_UNDO_WINDOW,
  });
  await runner.start();
  const survivors = env.DERIVE_SURVIVORS
    ? new SurvivorsPublisher({
        pool,
        databaseUrl,
        js: jetstream(nc),
        jsm,
        streamName: env.STREAM_NAME,
        chainId: env.CHAIN_ID,
        subjectPrefix: env.SUBJECT_PREFIX,
        logger,
        from:
          env.DERIVED_FROM_SEQUENCE > 0 && env.DERIVED_FROM_EPOCH
            ? { sequence: env.DERIVED_FROM_SEQUENCE, epoch: env.DERIVED_FROM_EPOCH }
            : undefined,
      })
    : null;
  survivors?.start();
  const registry = projectorMetrics(runner, pool, env.DATABASE_POOL_SIZE, survivors);
  trackNatsStatus(registry, nc.status());
  const metrics =
    env.METRICS_PORT === undefined
      ? null
      : await startMetricsServer(registry, {
          port: env.METRICS_PORT,
          health: { ready: () => runner.stats().workers.length + runner.stats().standby.length > 0 },
        });
  logger.info(
    { stream: env.STREAM_NAME, epoch, projections: projections.map((p) => p.name) },
    'projector started',
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: finishing the batches in flight');
    const timer = setTimeout(() => {
      logger.error('graceful stop took over 20 s; exiting');
      process.exit(1);
    }, 20_000);
    await survivors?.stop();
    await runner.stop();
    await metrics?.close();
    await pool.end();
    await nc.drain().catch(() => {});
    clearTimeout(timer);
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main(process.argv.slice(2)).catch((error) => {
  try {
    exitOnConfigError(error);
  } catch {
    // not a configuration error: reported below
  }
  process.stderr.write(`projector failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
