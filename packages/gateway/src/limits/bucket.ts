import type { JetStreamClient } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';

/**
 * The connection-lease bucket. Its TTL (max age of a key's last write) outlives a lease by a margin, so a key
 * vanishes only when nobody has renewed it for a while.
 */
export async function openConnectionsBucket(
  js: JetStreamClient,
  name: string,
  leaseMs: number,
  replicas = 1,
): Promise<KV> {
  // On a JetStream cluster the bucket needs replicas like the stream: at R1, losing its node would refuse
  // every AUTH until the node came back.
  return new Kvm(js).create(name, { history: 1, ttl: Math.max(leaseMs * 2, 10_000), replicas });
}
