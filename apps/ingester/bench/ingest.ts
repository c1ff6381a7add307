/**
 * npm run bench:ingest — the ingester's backfill throughput (events/s from anvil into the stream, ≥ 100k
 * events) and its live latency (block mined → message appended, p50/p99), beside the RPC's own delivery
 * latency (block mined → newHeads notification) so that the ingester's share can be read off.
 *
 * Beside the backfill figure it prints the ceilings of the two things the ingester waits on, measured on the
 * same machine right after it, each alone: anvil's eth_getLogs over the same history (HTTP + JSON.parse, no
 * validation or decoding) and JetStream's publish rate for messages like ours (same size, Nats-Msg-Id and
 * expected-last-msg-id headers, 2,048 in flight, nothing else to do). Plus the CPU this process used during
 * the backfill: near 100% of a core means the ingester's own work (parse, decode, serialize, publish) is the
 * limit.
 */
import { availableParallelism } from 'node:os';
import { createIngester } from '@ghostnet/ingest';
import { createLogger } from '@ghostnet/logger';
import { createTestStream, deployLogEmitters, ingestTarget, startAnvil } from '@ghostnet/test';
import { createInbox, headers as natsHeaders } from '@nats-io/transport-node';
import WebSocket from 'ws';

const TARGET_EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const LIVE_BLOCKS = Number(process.env.BENCH_LIVE_BLOCKS ?? 300);

const anvil = await startAnvil({ args: ['--gas-limit', '100000000'] });
const stream = await createTestStream({ chainId: anvil.chainId });
try {
  const chain = await deployLogEmitters(anvil.rpcUrl);
  console.log(`building a history of ≥ ${TARGET_EVENTS.toLocaleString('en-US')} events on anvil…`);
  let salt = 0;
  // 10 transactions × 100 JackedIn (+33 StakeAdded) per block ≈ 1,330 events per block.
  while ((await chain.logs()).length < TARGET_EVENTS) await chain.burstBlock(10, 100, salt++);
  const total = (await chain.logs()).length;

  const logger = createLogger({ name: 'bench', level: 'warn' });
  // The same ingester twice: once for the backfill, then again (resuming from the stream) for live.
  const newIngester = () =>
    createIngester({
      rpcUrl: anvil.rpcUrl,
      wsUrl: anvil.wsUrl,
      ...ingestTarget(chain, stream),
      logger,
    });
  const ingester = newIngester();
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await ingester.start();
  while ((await stream.jsm.streams.info(stream.name)).state.messages < total) await sleep(20);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  console.log(
    `backfill: ${total.toLocaleString('en-US')} events in ${seconds.toFixed(2)} s = ${Math.round(total / seconds).toLocaleString('en-US')} events/s (goal ≥ 15,000)`,
  );
  console.log(
    `  ingester process CPU during the backfill: ${Math.round((cpu.user + cpu.system) / 10_000 / seconds)}% of one core (${availableParallelism()} cores)`,
  );
  const sample = (await stream.jsm.streams.getMessage(stream.name, { seq: 1 }))!;
  await ingester.stop();
  const getLogs = await getLogsCeiling(anvil.rpcUrl, chain, total);
  console.log(
    `  ceiling, anvil eth_getLogs alone (same history, 1-block ranges, HTTP + JSON.parse): ${getLogs.toLocaleString('en-US')} logs/s`,
  );
  const publish = await publishCeiling(sample.data.length, anvil.chainId);
  console.log(
    `  ceiling, JetStream publish alone on this machine (${sample.data.length} B, Nats-Msg-Id + expected-last-msg-id, 2,048 in flight): ${publish.toLocaleString('en-US')} msgs/s`,
  );
  const restarted = newIngester();
  await restarted.start();

  // Live: one small transaction per block; time from evm_mine's answer to the appended message and to
  // anvil's own newHeads notification.
  const appendedAt = new Map<number, number>();
  const sub = stream.nc.subscribe(`${stream.subjects.root}.chain.>`, {
    callback: (_err, msg) => {
      const envelope = JSON.parse(new TextDecoder().decode(msg.data)) as { block: { number: number } };
      if (!appendedAt.has(envelope.block.number)) appendedAt.set(envelope.block.number, performance.now());
    },
  });
  const headAt = new Map<number, number>();
  const ws = new WebSocket(anvil.wsUrl);
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_subscribe', params: ['newHeads'] }));
  ws.on('message', (data) => {
    const m = JSON.parse(String(data));
    if (m.method === 'eth_subscription')
      headAt.set(Number.parseInt(m.params.result.number, 16), performance.now());
  });
  await sleep(200);

  const minedAt = new Map<number, number>();
  await rpc(anvil.rpcUrl, 'evm_setAutomine', [false]);
  for (let i = 0; i < LIVE_BLOCKS; i++) {
    await chain.sendBurst(3, 1_000_000 + i);
    await rpc(anvil.rpcUrl, 'evm_mine', []);
    const mined = performance.now();
    const number = Number.parseInt((await rpc(anvil.rpcUrl, 'eth_blockNumber', [])) as string, 16);
    minedAt.set(number, mined);
    await sleep(20);
  }
  await sleep(1000);
  const total2 = [...minedAt.keys()].filter((n) => appendedAt.has(n));
  const appendLatency = total2.map((n) => appendedAt.get(n)! - minedAt.get(n)!);
  const headLatency = total2.filter((n) => headAt.has(n)).map((n) => headAt.get(n)! - minedAt.get(n)!);
  const ownShare = total2.filter((n) => headAt.has(n)).map((n) => appendedAt.get(n)! - headAt.get(n)!);
  console.log(`live: ${total2.length}/${LIVE_BLOCKS} blocks appended`);
  console.log(`  block mined → appended:      ${summary(appendLatency)}`);
  console.log(`  block mined → RPC newHeads:   ${summary(headLatency)}`);
  console.log(`  newHeads → appended (ours):   ${summary(ownShare)} (goal p99 < 20 ms)`);
  ws.close();
  sub.unsubscribe();
  await restarted.stop();
} finally {
  await stream.destroy();
  await anvil.stop();
}

/** Logs/s anvil serves for this history when nothing else is done with them. */
async function getLogsCeiling(
  url: string,
  chain: { ghostCore: string; traceScan: string; deployBlock: number },
  total: number,
) {
  const head = Number.parseInt((await rpc(url, 'eth_blockNumber', [])) as string, 16);
  const started = performance.now();
  let logs = 0;
  for (let block = chain.deployBlock; block <= head; block++) {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'eth_getLogs',
        params: [
          {
            address: [chain.ghostCore, chain.traceScan],
            fromBlock: `0x${block.toString(16)}`,
            toBlock: `0x${block.toString(16)}`,
          },
        ],
      }),
    });
    logs += ((await response.json()) as { result: unknown[] }).result.length;
  }
  if (logs !== total) throw new Error(`eth_getLogs answered ${logs} logs, expected ${total}`);
  return Math.round(logs / ((performance.now() - started) / 1000));
}

/**
 * Messages/s a scratch stream (same config) accepts from one connection, each with a Nats-Msg-Id and the
 * previous id as expected-last-msg-id, 2,048 unacknowledged at most: what the appender does, without anything
 * else running in this process.
 */
async function publishCeiling(size: number, chainId: number, count = 60_000) {
  const scratch = await createTestStream({ chainId });
  try {
    const payload = new Uint8Array(size).fill(120);
    const subject = `${scratch.subjects.root}.chain.Ceiling`;
    const inbox = createInbox();
    const window = 2048;
    let acked = 0;
    let failed: string | null = null;
    let wake: (() => void) | null = null;
    const sub = scratch.nc.subscribe(`${inbox}.*`, {
      callback: (_err, msg) => {
        const ack = JSON.parse(new TextDecoder().decode(msg.data)) as { error?: { description: string } };
        if (ack.error) failed ??= ack.error.description;
        acked++;
        if (wake && (count - acked === 0 || acked % (window / 2) === 0)) {
          const w = wake;
          wake = null;
          w();
        }
      },
    });
    const started = performance.now();
    let previous: string | null = null;
    for (let i = 0; i < count; i++) {
      while (i - acked >= window) await new Promise<void>((r) => (wake = r));
      const h = natsHeaders();
      h.set('Nats-Msg-Id', `ceiling-${i}`);
      if (previous === null) h.set('Nats-Expected-Last-Sequence', '0');
      else h.set('Nats-Expected-Last-Msg-Id', previous);
      previous = `ceiling-${i}`;
      scratch.nc.publish(subject, payload, { headers: h, reply: `${inbox}.${i}` });
    }
    while (acked < count) await new Promise<void>((r) => (wake = r));
    const seconds = (performance.now() - started) / 1000;
    sub.unsubscribe();
    if (failed) throw new Error(`publish ceiling run failed: ${failed}`);
    return Math.round(count / seconds);
  } finally {
    await scratch.destroy();
  }
}

function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
  return `p50 ${q(0.5).toFixed(1)} ms, p99 ${q(0.99).toFixed(1)} ms, max ${sorted[sorted.length - 1]?.toFixed(1)} ms`;
}

async function rpc(url: string, method: string, params: unknown[]) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  return ((await response.json()) as { result: unknown }).result;
}

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}
