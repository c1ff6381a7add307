import { fileURLToPath } from 'node:url';
import { sampleValue } from '@ghostnet/metrics';
import {
  type Anvil,
  createTestStream,
  deployLogEmitters,
  type EmitterChain,
  freePort,
  startAnvil,
  startProcess,
  type TestStream,
  waitFor,
} from '@ghostnet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
let anvil: Anvil;
let chain: EmitterChain;
let stream: TestStream;
beforeAll(async () => {
  anvil = await startAnvil();
  chain = await deployLogEmitters(anvil.rpcUrl);
  stream = await createTestStream({ chainId: anvil.chainId });
});
afterAll(async () => {
  await stream?.destroy();
  await anvil?.stop();
});

describe('ingester /metrics', () => {
  it('exposes lag, appended events, reorgs and NATS events, changing under load', async () => {
    const port = await freePort();
    const child = startProcess(process.execPath, ['--import', 'tsx', MAIN], {
      env: {
        ...process.env,
        LOG_LEVEL: 'warn',
        METRICS_PORT: String(port),
        NATS_URL: stream.natsUrl,
        STREAM_NAME: stream.name,
        SUBJECT_PREFIX: stream.prefix,
        CHAIN_ID: String(anvil.chainId),
        RPC_URL: anvil.rpcUrl,
        RPC_WS_URL: anvil.wsUrl,
        GHOST_CORE_ADDRESS: chain.ghostCore,
        TRACE_SCAN_ADDRESS: chain.traceScan,
        START_BLOCK: String(chain.deployBlock),
      },
    });
    try {
      const scrape = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      await waitFor('metrics endpoint', async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, {
        timeoutMs: 20_000,
      });
      const before = sampleValue(await scrape(), 'ghostnet_ingester_events_appended_total') ?? 0;
      for (let i = 0; i < 5; i++) await chain.burst(10, 7000 + i);
      // Lag is the newest head seen minus the last appended block: for a moment after an append it can be 1
      // (a head seen before its range was read). Caught up, it is 0 and the ingester is live.
      const text = await waitFor('appended events to show, caught up', async () => {
        const t = await scrape();
        return (sampleValue(t, 'ghostnet_ingester_events_appended_total') ?? 0) >= before + 50 &&
          sampleValue(t, 'ghostnet_ingester_lag_blocks') === 0
          ? t
          : undefined;
      });
      expect(sampleValue(text, 'ghostnet_ingester_live')).toBe(1);
      // anvil has no eth_getLogsWithCursor: the backfill's ranges went through eth_getLogs.
      expect(sampleValue(text, 'ghostnet_ingester_logs_with_cursor')).toBe(0);
      expect(sampleValue(text, 'ghostnet_ingester_reorgs_total')).toBe(0);
      expect(sampleValue(text, 'ghostnet_ingester_last_block')).toBeGreaterThan(chain.deployBlock);
      expect(sampleValue(text, 'ghostnet_nats_connection_events_total', { type: 'reconnect' })).toBe(0);
      expect(text).toContain('ghostnet_nodejs_eventloop_lag_seconds');
    } finally {
      await child.stop();
    }
  });
});
