import { randomBytes } from 'node:crypto';
import { createSubjects, type Subjects } from '@ghostnet/events';
import { ensureStream, streamConfigFor } from '@ghostnet/stream';
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';

export const TEST_NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

export interface TestStream {
  name: string;
  prefix: string;
  chainId: number;
  subjects: Subjects;
  natsUrl: string;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  epoch: string;
  /** Deletes the stream (and with it its consumers) and closes the connection. */
  destroy(): Promise<void>;
}

/**
 * A stream of its own, from the checked-in config, on a subject prefix no other test uses (JetStream refuses
 * two streams with overlapping subjects).
 */
export async function createTestStream(
  options: { chainId?: number; natsUrl?: string } = {},
): Promise<TestStream> {
  const suffix = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const name = `TEST_${suffix}`;
  const prefix = `t${suffix}`;
  const chainId = options.chainId ?? 31337;
  const natsUrl = options.natsUrl ?? TEST_NATS_URL;
  const subjects = createSubjects(chainId, prefix);
  const nc = await connect({ servers: natsUrl, name: `test-${name}` });
  const jsm = await jetstreamManager(nc);
  const { epoch } = await ensureStream(jsm, streamConfigFor({ name, subjectRoot: subjects.root }));
  return {
    name,
    prefix,
    chainId,
    subjects,
    natsUrl,
    nc,
    js: jetstream(nc),
    jsm,
    epoch,
    async destroy() {
      await jsm.streams.delete(name).catch(() => {});
      await nc.close();
    },
  };
}
