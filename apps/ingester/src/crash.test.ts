import { fileURLToPath } from 'node:url';
import {
  type Anvil,
  appNodeArgs,
  canonicalChainEvents,
  createTestStream,
  deployLogEmitters,
  type EmitterChain,
  readStream,
  type Started,
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
const running = new Set<Started>();

beforeAll(async () => {
  anvil = await startAnvil();
  chain = await deployLogEmitters(anvil.rpcUrl);
  stream = await createTestStream({ chainId: anvil.chainId });
});
afterAll(async () => {
  for (const p of running) await p.kill();
  await stream?.destroy();
  await anvil?.stop();
});

function startIngester(): Started {
  const child = startProcess(process.execPath, appNodeArgs(MAIN), {
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
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
  running.add(child);
  void child.exited.then(() => running.delete(child));
  return child;
}

const chainIds = async () => (await chain.logs()).map((l) => `${anvil.chainId}:${l.blockHash}:${l.logIndex}`);
const streamIds = async () =>
  canonicalChainEvents(await readStream(stream.js, stream.jsm, stream.name)).map((s) => s.message.id);
const streamLength = async () => (await stream.jsm.streams.info(stream.name)).state.messages;

// 24 process starts (tsx) take 1 to 2.5 minutes here; 7 minutes leaves room for a machine busy with other suites.
describe('ingester process under SIGKILL', () => {
  it('leaves the stream equal to the chain after 24 kills during backfill and live', async () => {
    // A history large enough that early kills land mid-backfill.
    for (let i = 0; i < 20; i++) await chain.burstBlock(10, 100, i);
    const total = (await chainIds()).length;

    // Live traffic for the whole test.
    let producing = true;
    const producer = (async () => {
      let salt = 10_000;
      while (producing) {
        await chain.burst(5 + (salt % 20), salt++);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    let duringBackfill = 0;
    let duringLive = 0;
    for (let kill = 0; kill < 24; kill++) {
      if (kill === 12) {
        // Second half: let one run catch up with the history, so that the remaining kills land while live.
        const child = startIngester();
        await waitFor('backfill to finish', async () => (await streamLength()) >= total, {
          timeoutMs: 60_000,
        });
        await child.kill();
      }
      const child = startIngester();
      // Wait until it has appended something new (so the kill lands in real work), then a random moment.
      const before = await streamLength();
      await waitFor('ingester to append', async () => (await streamLength()) > before, { timeoutMs: 20_000 });
      await new Promise((r) => setTimeout(r, Math.random() * 250));
      const length = await streamLength();
      if (length < total) duringBackfill++;
      else duringLive++;
      await child.kill();
    }
    producing = false;
    await producer;

    const final = startIngester();
    const expected = await chainIds();
    const ids = await waitFor(
      'stream to catch up',
      async () => {
        const ids = await streamIds();
        return ids.length >= expected.length ? ids : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    await final.stop();
    console.log(`kills: ${duringBackfill} during backfill, ${duringLive} during live; ${ids.length} events`);
    expect(duringBackfill).toBeGreaterThanOrEqual(3);
    expect(duringLive).toBeGreaterThanOrEqual(3);
    expect(ids).toEqual(expected);
    // No reorg happened, so nothing may have been orphaned: the raw stream is the chain, exactly.
    const raw = await readStream(stream.js, stream.jsm, stream.name);
    expect(raw.every((s) => s.message.kind === 'chain')).toBe(true);
    expect(new Set(raw.map((s) => s.message.id)).size).toBe(raw.length);
  }, 420_000);
});
