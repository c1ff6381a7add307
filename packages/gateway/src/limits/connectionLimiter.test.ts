import { createLogger } from '@ghostnet/logger';
import { TEST_NATS_URL } from '@ghostnet/test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openConnectionsBucket } from './bucket.ts';
import { ConnectionLimiter } from './connectionLimiter.ts';

const logger = createLogger({ name: 'test', level: 'silent' });
const user = `0x${'ab'.repeat(20)}`;

describe('ConnectionLimiter (JetStream KV)', () => {
  let nc: NatsConnection;
  const bucket = `gwtest_${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;
  beforeAll(async () => {
    nc = await connect({ servers: TEST_NATS_URL });
  });
  afterAll(async () => {
    await (await jetstreamManager(nc)).streams.delete(`KV_${bucket}`).catch(() => {});
    await nc.close();
  });

  it('admits at most max concurrent connections, even when they race from several instances', async () => {
    const kv = await openConnectionsBucket(jetstream(nc), bucket, 60_000);
    const instances = [1, 2, 3].map(() => new ConnectionLimiter({ kv, max: 5, leaseMs: 60_000, logger }));
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => instances[i % 3]!.acquire(user, `c${i}`)),
    );
    expect(results.filter(Boolean)).toHaveLength(5);
    expect(await instances[0]!.count(user)).toBe(5);
    const admitted = results.flatMap((ok, i) => (ok ? [`c${i}`] : []));
    await instances[1]!.release(user, admitted[0]!);
    expect(await instances[2]!.acquire(user, 'late')).toBe(true);
    expect(await instances[2]!.acquire(user, 'later')).toBe(false);
  });

  it("lets a crashed instance's leases lapse, and renewal keeps live ones", async () => {
    const kv = await openConnectionsBucket(jetstream(nc), bucket, 60_000);
    let now = 1_000_000;
    const crashed = new ConnectionLimiter({ kv, max: 2, leaseMs: 1_000, logger, now: () => now });
    const alive = new ConnectionLimiter({ kv, max: 2, leaseMs: 1_000, logger, now: () => now });
    const other = `0x${'cd'.repeat(20)}`;
    expect(await crashed.acquire(other, 'x1')).toBe(true);
    expect(await alive.acquire(other, 'y1')).toBe(true);
    expect(await alive.acquire(other, 'y2')).toBe(false);
    now += 800;
    await alive.renew(other, ['y1']);
    now += 500; // x1 lapsed, y1 renewed
    expect(await alive.count(other)).toBe(1);
    expect(await alive.acquire(other, 'y2')).toBe(true);
  });

  it('a renewal listed before a socket closed does not bring back the lease it released', async () => {
    const kv = await openConnectionsBucket(jetstream(nc), bucket, 60_000);
    const limiter = new ConnectionLimiter({ kv, max: 1, leaseMs: 60_000, logger });
    const third = `0x${'ef'.repeat(20)}`;
    expect(await limiter.acquire(third, 'z1')).toBe(true);
    const listed = ['z1']; // the heartbeat's list, taken while z1 was open
    const open = new Set(listed);
    await limiter.release(third, 'z1'); // z1 closes first
    open.delete('z1');
    await limiter.renew(third, listed, (id) => open.has(id));
    expect(await limiter.count(third)).toBe(0);
    expect(await limiter.acquire(third, 'z2')).toBe(true); // the user's next socket gets the slot
  });
});
