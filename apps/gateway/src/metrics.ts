import type { DatabasePool } from '@ghostnet/db';
import type { Gateway } from '@ghostnet/gateway';
import { createRegistry, Gauge, mirroredCounter, type Registry, trackDbPool } from '@ghostnet/metrics';

/** Connections, resume paths, slow-consumer closes and frames, read from the gateway at scrape time. */
export function gatewayMetrics(
  gateway: Gateway,
  pool: DatabasePool,
  poolSize: number,
  checkpoints?: { readonly listening: boolean },
): Registry {
  const registry = createRegistry('gateway');
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  const stats = () => gateway.stats();
  gauge('ghostnet_gateway_connections', 'Open WebSocket connections', () => stats().connections);
  gauge('ghostnet_gateway_live_connections', 'Connections receiving the live feed', () => stats().live);
  gauge('ghostnet_gateway_users', 'Distinct signed-in users connected', () => stats().users);
  gauge('ghostnet_gateway_stream_head', 'Last stream sequence the gateway follows', () => stats().head);
  gauge('ghostnet_gateway_ready', '1 when the stream follower has caught up', () => (stats().ready ? 1 : 0));
  gauge(
    'ghostnet_gateway_checkpoint_listener_up',
    "1 while the projector's commit notices are heard (0: POSITION_UPDATE falls back to polling)",
    () => (checkpoints?.listening ? 1 : 0),
  );
  mirroredCounter(
    registry,
    'ghostnet_gateway_replays_total',
    'Resumes answered with REPLAY',
    () => stats().replays,
  );
  mirroredCounter(
    registry,
    'ghostnet_gateway_full_syncs_total',
    'Resumes answered with FULL_SYNC',
    () => stats().fullSyncs,
  );
  mirroredCounter(
    registry,
    'ghostnet_gateway_slow_consumer_closes_total',
    'Sockets closed because their send buffer passed the limit',
    () => stats().slowConsumers,
  );
  mirroredCounter(
    registry,
    'ghostnet_gateway_frames_published_total',
    'Frames serialized once and published to the uWS topics',
    () => stats().published,
  );
  mirroredCounter(
    registry,
    'ghostnet_gateway_stream_parse_errors_total',
    'Stream messages the gateway could not read (skipped, no frame)',
    () => stats().parseErrors,
  );
  mirroredCounter(
    registry,
    'ghostnet_gateway_consumer_notices_total',
    'Consumer resets/deletions that paused the follower until the stream epoch was checked',
    () => stats().consumerNotices,
  );
  mirroredCounter(
    registry,
    'ghostnet_gateway_follower_stalls_total',
    'Times the stream consumer stood still behind the stream (e.g. its NATS node died) and was replaced',
    () => stats().followerStalls,
  );
  trackDbPool(registry, () => pool.state(), poolSize);
  return registry;
}
