/**
 * Converges the live stream to a stream config file (config as code), for operators and the Kubernetes
 * stream Job: creates the stream when missing, updates it when a guarded field differs (e.g. num_replicas 1 → 3
 * on a cluster), and leaves it alone otherwise. The server refuses what JetStream cannot change in place
 * (storage, retention, clearing deny_delete/deny_purge): that error ends the run with a non-zero exit.
 *
 *   NATS_URL=… NATS_USER=admin NATS_PASSWORD=… CHAIN_ID=6343 npx tsx infra/nats/applyStream.ts [stream.json]
 */
import { pathToFileURL } from 'node:url';
import { chainEnv, exitOnConfigError, natsEnv, parseEnv } from '@ghostnet/config';
import { createSubjects } from '@ghostnet/events';
import {
  configDrift,
  connectNats,
  type Drift,
  isNotFound,
  STREAM_CONFIG_FILE,
  streamConfigFor,
} from '@ghostnet/stream';
import type { JetStreamManager, StreamConfig } from '@nats-io/jetstream';
import { jetstreamManager } from '@nats-io/jetstream';
import { z } from 'zod';

export interface ApplyResult {
  action: 'created' | 'updated' | 'unchanged';
  drift: Drift[];
  replicas: number;
}

export async function applyStream(jsm: JetStreamManager, config: StreamConfig): Promise<ApplyResult> {
  let live: StreamConfig;
  try {
    live = (await jsm.streams.info(config.name)).config;
  } catch (error) {
    if (!isNotFound(error)) throw error;
    const info = await jsm.streams.add(config);
    return { action: 'created', drift: [], replicas: info.config.num_replicas };
  }
  const drift = configDrift(config, live);
  if (drift.length === 0) return { action: 'unchanged', drift, replicas: live.num_replicas };
  const info = await jsm.streams.update(config.name, { ...live, ...config });
  return { action: 'updated', drift, replicas: info.config.num_replicas };
}

export const ApplyEnv = z.object({ ...natsEnv, CHAIN_ID: chainEnv.CHAIN_ID });

async function main(file: string) {
  let env: z.infer<typeof ApplyEnv>;
  try {
    env = parseEnv('apply-stream', ApplyEnv);
  } catch (error) {
    exitOnConfigError(error);
  }
  const nc = await connectNats({
    url: env.NATS_URL,
    name: 'ghostnet-apply-stream',
    user: env.NATS_USER,
    password: env.NATS_PASSWORD,
  });
  try {
    const config = streamConfigFor(
      { name: env.STREAM_NAME, subjectRoot: createSubjects(env.CHAIN_ID, env.SUBJECT_PREFIX).root },
      file,
    );
    const result = await applyStream(await jetstreamManager(nc), config);
    console.log(JSON.stringify({ stream: config.name, file, ...result }));
  } finally {
    await nc.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv[2] ?? STREAM_CONFIG_FILE).catch((error: Error) => {
    console.error(`apply-stream failed: ${error.message}`);
    process.exit(1);
  });
}
