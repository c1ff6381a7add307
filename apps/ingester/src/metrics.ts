import type { Ingester } from '@ghostnet/ingest';
import { createRegistry, Gauge, mirroredCounter, type Registry } from '@ghostnet/metrics';

/** The ingester's metrics, read from its stats at scrape time. */
export function ingesterMetrics(ingester: Ingester): Registry {
  const registry = createRegistry('ingester');
  const gauge = (name: string, help: string, read: () => number | null) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const value = read();
        if (value !== null) this.set(value);
      },
    });
  gauge(
    'ghostnet_ingester_lag_blocks',
    'Chain head minus the last block appended to the stream',
    () => ingester.stats().lagBlocks,
  );
  gauge(
    'ghostnet_ingester_lag_seconds',
    'Age of the last appended block while behind the head',
    () => ingester.stats().lagSeconds,
  );
  gauge(
    'ghostnet_ingester_chain_head_block',
    'Newest block the RPC reported',
    () => ingester.stats().chainHead,
  );
  gauge(
    'ghostnet_ingester_last_block',
    'Newest block appended to the stream',
    () => ingester.stats().lastBlock,
  );
  gauge(
    'ghostnet_ingester_events_per_second',
    'Appended events per second (smoothed)',
    () => ingester.stats().eventsPerSecond,
  );
  gauge(
    'ghostnet_ingester_stream_sequence',
    'Last stream sequence the ingester wrote or saw',
    () => ingester.stats().lastSequence,
  );
  gauge(
    'ghostnet_ingester_stream_config_drift',
    'Stream settings that differ from infra/nats/stream.json',
    () => ingester.stats().streamDrift.length,
  );
  gauge(
    'ghostnet_ingester_logs_with_cursor',
    "1 when log ranges go through MegaETH's eth_getLogsWithCursor, 0 through eth_getLogs (absent until known)",
    () => {
      const method = ingester.stats().logMethod;
      return method === null ? null : method === 'eth_getLogsWithCursor' ? 1 : 0;
    },
  );
  gauge(
    'ghostnet_ingester_live',
    '1 when following the head, 0 while backfilling, retrying a failing step, or stopped',
    () => (ingester.stats().state === 'live' ? 1 : 0),
  );
  mirroredCounter(
    registry,
    'ghostnet_ingester_events_appended_total',
    'Events appended to the stream',
    () => ingester.stats().eventsAppended,
  );
  mirroredCounter(
    registry,
    'ghostnet_ingester_reorgs_total',
    'Reorg notices appended',
    () => ingester.stats().reorgs,
  );
  mirroredCounter(
    registry,
    'ghostnet_ingester_errors_total',
    'Sync steps retried after an RPC or data error',
    () => ingester.stats().rpcErrors,
  );
  mirroredCounter(
    registry,
    'ghostnet_ingester_append_conflicts_total',
    'Appends refused because another writer appended chain events or reorg notices',
    () => ingester.stats().conflicts,
  );
  mirroredCounter(
    registry,
    'ghostnet_ingester_append_interleaved_total',
    'Appends refused because the API or the projector appended in between (resynced at once)',
    () => ingester.stats().interleaved,
  );
  return registry;
}
