import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { migrate } from '@ghostnet/db';
import { createIngester } from '@ghostnet/ingest';
import { createLogger } from '@ghostnet/logger';
import { ALL_PROJECTIONS } from '@ghostnet/projections';
import {
  type Anvil,
  createTestDatabase,
  createTestStream,
  deployLogEmitters,
  type EmitterChain,
  ingestTarget,
  startAnvil,
  type TestDatabase,
  type TestStream,
  waitFor,
} from '@ghostnet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../bin/ghostnet', import.meta.url));
const run = promisify(execFile);

let anvil: Anvil;
let chain: EmitterChain;
let stream: TestStream;
let stopIngester: () => Promise<void>;
let db: TestDatabase;

beforeAll(async () => {
  anvil = await startAnvil();
  chain = await deployLogEmitters(anvil.rpcUrl);
  stream = await createTestStream({ chainId: anvil.chainId });
  db = await createTestDatabase();
  await migrate(db.url);
  await chain.burst(4, 1);
  await chain.burst(4, 2);
  const ingester = createIngester({
    rpcUrl: anvil.rpcUrl,
    ...ingestTarget(chain, stream),
    logger: createLogger({ name: 'cli-test', level: 'silent' }),
  });
  await ingester.start();
  stopIngester = () => ingester.stop();
  await waitFor(
    'events in the stream',
    async () => (await stream.jsm.streams.info(stream.name)).state.messages >= 10,
  );
  await stopIngester();
});
afterAll(async () => {
  await db?.drop();
  await stream?.destroy();
  await anvil?.stop();
});

async function ghostnet(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    ...process.env,
    NATS_URL: stream.natsUrl,
    STREAM_NAME: stream.name,
    SUBJECT_PREFIX: stream.prefix,
    CHAIN_ID: String(anvil.chainId),
    RPC_URL: anvil.rpcUrl,
    START_BLOCK: String(chain.deployBlock),
    DATABASE_URL: db.url,
  };
  try {
    const { stdout, stderr } = await run(BIN, args, { env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('ghostnet CLI', () => {
  it('shows the stream and its per-subject counts', async () => {
    const { code, stdout } = await ghostnet('stream', 'info');
    expect(code).toBe(0);
    expect(stdout).toContain(`stream      ${stream.name}`);
    expect(stdout).toMatch(/messages\s+10 \(seq 1\.\.10\)/);
    expect(stdout).toMatch(
      new RegExp(`8\\s+${stream.prefix}\\.${anvil.chainId}\\.chain\\.GhostCore\\.JackedIn`),
    );
  });

  it('replays a range of envelopes as JSON lines', async () => {
    const { code, stdout } = await ghostnet('replay', '--from', '2', '--to', '4');
    expect(code).toBe(0);
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.seq)).toEqual([2, 3, 4]);
    expect(lines[0].message).toMatchObject({ kind: 'chain', chainId: anvil.chainId });
  });

  it('checks the stream against the chain, and reports a reorg with exit code 1', async () => {
    const ok = await ghostnet('ingester', 'reset-check');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('stream and chain agree');
    await fetch(anvil.rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'anvil_reorg', params: [1, []] }),
    });
    const reorged = await ghostnet('ingester', 'reset-check');
    expect(reorged.code).toBe(1);
    expect(reorged.stdout).toMatch(/REORG: 5 published events are no longer on the chain/);
  });

  it('lists the projections and refuses to rebuild an unknown one', async () => {
    const list = await ghostnet('projections', 'list');
    expect(list.code).toBe(0);
    for (const p of ALL_PROJECTIONS) expect(list.stdout).toContain(p.name);
    const unknown = await ghostnet('projections', 'rebuild', 'nope');
    expect(unknown.code).toBe(64);
    expect(unknown.stdout).toContain('unknown projection "nope"');
  });

  it('rejects bad arguments and unknown commands clearly', async () => {
    const bad = await ghostnet('replay', '--from', 'abc');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('invalid arguments');
    const unknown = await ghostnet('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command: frobnicate');
  });
});
