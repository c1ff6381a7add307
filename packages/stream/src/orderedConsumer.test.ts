import { type NatsCluster, startNatsCluster, waitFor } from '@ghostnet/test';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderedConsumer } from './orderedConsumer.ts';

describe('orderedConsumer on a 3-node cluster with a dead peer', () => {
  let cluster: NatsCluster;
  let nc: NatsConnection;
  beforeAll(async () => {
    cluster = await startNatsCluster(3);
    nc = await connect({ servers: cluster.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  }, 60_000);
  afterAll(async () => {
    await nc?.close().catch(() => {});
    await cluster?.stop();
  }, 30_000);

  it('creates every consumer although the server places some on the dead peer', async () => {
    const jsm = await jetstreamManager(nc, { timeout: 2_000 });
    await jsm.streams.add({ name: 'ORDERED', subjects: ['ordered.>'], num_replicas: 3 });
    const js = jetstream(nc, { timeout: 1_000 });
    for (let i = 1; i <= 20; i++) await js.publish('ordered.x', `m${i}`);
    const leader = (await jsm.streams.info('ORDERED')).cluster!.leader!;
    await cluster.kill(leader);
    await waitFor(
      'a new stream leader',
      async () => {
        const info = await jsm.streams.info('ORDERED').catch(() => null);
        return info?.cluster?.leader !== undefined && info.cluster.leader !== leader;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );

    // Until one creation has needed a retry (a plain consumers.get would have thrown there), each one must
    // succeed and read from where it was asked to.
    let retries = 0;
    for (let created = 0; retries === 0 && created < 40; created++) {
      const consumer = await orderedConsumer(
        js,
        'ORDERED',
        { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: 15 },
        { onRetry: () => retries++ },
      );
      const first = await consumer.next({ expires: 2_000 });
      expect(first?.seq).toBe(15);
      await consumer.delete().catch(() => {});
    }
    expect(retries).toBeGreaterThan(0);
  }, 120_000);
});
