import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createSubjects } from '@ghostnet/events';
import { STREAM_CONFIG_FILE, streamConfigFor } from '@ghostnet/stream';
import { startProcess } from '@ghostnet/test';
import { type JetStreamManager, jetstreamManager, type StreamConfig } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyStream } from './applyStream.ts';
import { type SecuredNats, startSecuredNats } from './securedServer.ts';

const SCRIPT = fileURLToPath(new URL('./applyStream.ts', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
const fileConfig = () =>
  streamConfigFor({ name: 'GHOSTNET', subjectRoot: createSubjects(6343).root }, STREAM_CONFIG_FILE);

describe('infra/nats/applyStream.ts (the stream Job)', () => {
  let server: SecuredNats;
  let admin: NatsConnection;
  let jsm: JetStreamManager;
  beforeAll(async () => {
    server = await startSecuredNats();
    admin = await server.connectAs('admin');
    jsm = await jetstreamManager(admin);
  });
  afterAll(async () => {
    await admin?.close();
    await server?.stop();
  });

  async function run(user: 'admin' | 'ingester') {
    const password = server.passwords[user === 'admin' ? 'NATS_ADMIN_PASSWORD' : 'NATS_INGESTER_PASSWORD'];
    const started = startProcess(TSX, [SCRIPT, STREAM_CONFIG_FILE], {
      env: {
        ...process.env,
        NATS_URL: server.url,
        NATS_USER: user,
        NATS_PASSWORD: password,
        CHAIN_ID: '6343',
      },
    });
    return { code: await started.exited, output: started.output() };
  }

  it('creates the stream from infra/nats/stream.json (as the Job runs it), then changes nothing', async () => {
    const first = await run('admin');
    expect(first.code, first.output).toBe(0);
    expect(JSON.parse(first.output)).toMatchObject({ stream: 'GHOSTNET', action: 'created', replicas: 1 });
    const info = await jsm.streams.info('GHOSTNET');
    expect(info.config.subjects).toEqual(['ghostnet.6343.>']);
    expect(info.config.deny_delete).toBe(JSON.parse(readFileSync(STREAM_CONFIG_FILE, 'utf8')).deny_delete);
    expect(await applyStream(jsm, fileConfig())).toEqual({ action: 'unchanged', drift: [], replicas: 1 });
  });

  it('converges a changed file and reports what it changed', async () => {
    const changed = { ...fileConfig(), duplicate_window: 300_000_000_000 } as StreamConfig;
    expect(await applyStream(jsm, changed)).toEqual({
      action: 'updated',
      drift: [{ field: 'duplicate_window', expected: 300_000_000_000, actual: 120_000_000_000 }],
      replicas: 1,
    });
    expect((await jsm.streams.info('GHOSTNET')).config.duplicate_window).toBe(300_000_000_000);
  });

  it('fails for a change JetStream refuses, and for a user without stream rights', async () => {
    await expect(applyStream(jsm, { ...fileConfig(), storage: 'memory' } as StreamConfig)).rejects.toThrow(
      /storage/i,
    );
    expect((await jsm.streams.info('GHOSTNET')).config.storage).toBe('file');
    // The live stream differs from the file now (duplicate window): the ingester may not update it.
    const ingester = await run('ingester');
    expect(ingester.code).toBe(1);
    expect(ingester.output).toMatch(/apply-stream failed: .*permission/i);
    expect((await jsm.streams.info('GHOSTNET')).config.duplicate_window).toBe(300_000_000_000);
  });
});
