import { parseStreamMessage } from '@ghostnet/events';
import { streamConfigFor } from '@ghostnet/stream';
import {
  createTestDatabase,
  createTestStream,
  type TestDatabase,
  type TestStream,
  waitFor,
} from '@ghostnet/test';
import pg from 'pg';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { call, startApi, testToken } from '../testing/apiProcess.ts';

// Each file starts API processes: slow to start on a loaded machine, never a reason to fail.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => {});
});

async function setup(duplicateWindowNs?: number) {
  const db = await createTestDatabase();
  const stream = await createTestStream();
  cleanup.push(
    () => db.drop(),
    () => stream.destroy(),
  );
  if (duplicateWindowNs) {
    const config = streamConfigFor({ name: stream.name, subjectRoot: stream.subjects.root });
    await stream.jsm.streams.update(stream.name, { ...config, duplicate_window: duplicateWindowNs } as never);
  }
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  cleanup.push(() => client.end());
  return { db, stream, client };
}

async function crewEventIds(stream: TestStream): Promise<{ id: string; seq: number }[]> {
  const info = await stream.jsm.streams.info(stream.name);
  if (info.state.messages === 0) return [];
  const out: { id: string; seq: number }[] = [];
  const consumer = await stream.js.consumers.get(stream.name, { filter_subjects: stream.subjects.appAll });
  for await (const msg of await consumer.fetch({ max_messages: 100, expires: 1000 })) {
    out.push({ id: parseStreamMessage(msg.data).id, seq: msg.seq });
    if (msg.info.pending === 0) break;
  }
  await consumer.delete().catch(() => {});
  return out;
}

async function outboxRows(client: pg.Client) {
  return (
    await client.query<{
      envelope_id: string;
      published_at: Date | null;
      stream_sequence: string | null;
      attempts: number;
    }>('SELECT envelope_id, published_at, stream_sequence, attempts FROM api_outbox ORDER BY id')
  ).rows;
}

async function foundCrew(db: TestDatabase, stream: TestStream, crashPoint: 'after-commit' | 'after-publish') {
  // No timed pass: only the commit's wake-up may run the publisher, and the crash hook runs before it. With the
  // test's 100 ms poll, a pass could land between the commit and the hook, count an attempt (seen in CI) or
  // even publish, which is not the crash this test is about.
  const api = await startApi({
    databaseUrl: db.url,
    stream,
    env: { API_TEST_CRASH_POINT: crashPoint, OUTBOX_POLL_MS: '60000' },
  });
  cleanup.push(() => api.stop());
  const address = privateKeyToAccount(generatePrivateKey()).address;
  // The process kills itself (SIGKILL) at the crash point: the request may or may not get an answer.
  await call(api.url, 'POST', '/crews', {
    token: await testToken(address, stream.chainId),
    body: { name: 'Phoenix', tag: 'PHX' },
  }).catch(() => null);
  const signal = await waitFor('the API to die', async () => api.process.child.signalCode ?? undefined, {
    timeoutMs: 60_000,
  });
  expect(signal).toBe('SIGKILL');
}

describe('outbox: the API killed between commit and publish', () => {
  it('after commit, before publish: the restarted API publishes the event exactly once', async () => {
    const { db, stream, client } = await setup();
    await foundCrew(db, stream, 'after-commit');
    expect(await crewEventIds(stream)).toEqual([]);
    const [row] = await outboxRows(client);
    expect(row).toMatchObject({ published_at: null, attempts: 0 });
    expect((await client.query('SELECT name FROM api_crews')).rows).toEqual([{ name: 'Phoenix' }]);

    const api = await startApi({ databaseUrl: db.url, stream });
    cleanup.push(() => api.stop());
    const published = await waitFor(
      'the event in the stream',
      async () => {
        const ids = await crewEventIds(stream);
        return ids.length > 0 ? ids : undefined;
      },
      { timeoutMs: 60_000 },
    );
    await waitFor('the row marked sent', async () => (await outboxRows(client))[0]!.published_at !== null, {
      timeoutMs: 60_000,
    });
    await new Promise((r) => setTimeout(r, 500)); // a few more publisher passes
    expect(await crewEventIds(stream)).toEqual(published);
    expect(published).toEqual([{ id: row!.envelope_id, seq: 1 }]);
    expect(Number((await outboxRows(client))[0]!.stream_sequence)).toBe(1);
  });

  it('after publish, before marking sent: the re-publish is dropped as a duplicate', async () => {
    const { db, stream, client } = await setup();
    await foundCrew(db, stream, 'after-publish');
    const before = await crewEventIds(stream);
    expect(before).toHaveLength(1);
    expect(await outboxRows(client)).toMatchObject([{ published_at: null, attempts: 1 }]);

    const api = await startApi({ databaseUrl: db.url, stream });
    cleanup.push(() => api.stop());
    await waitFor('the row marked sent', async () => (await outboxRows(client))[0]!.published_at !== null, {
      timeoutMs: 60_000,
    });
    expect(await crewEventIds(stream)).toEqual(before);
    expect((await outboxRows(client))[0]!.attempts).toBe(2);
  });

  it('after publish, restarted only after the duplicate window: found in the stream, not sent again', async () => {
    const { db, stream, client } = await setup(1_000_000_000);
    await foundCrew(db, stream, 'after-publish');
    const before = await crewEventIds(stream);
    expect(before).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 1500)); // JetStream no longer remembers the id

    const api = await startApi({ databaseUrl: db.url, stream });
    cleanup.push(() => api.stop());
    await waitFor('the row marked sent', async () => (await outboxRows(client))[0]!.published_at !== null, {
      timeoutMs: 60_000,
    });
    expect(await crewEventIds(stream)).toEqual(before);
    expect(Number((await outboxRows(client))[0]!.stream_sequence)).toBe(before[0]!.seq);
  });

  it('after publish, then an outage longer than the window with failed attempts: still not sent again', async () => {
    const { db, stream, client } = await setup(1_000_000_000);
    await foundCrew(db, stream, 'after-publish');
    const before = await crewEventIds(stream);
    expect(before).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 1500)); // JetStream no longer remembers the id
    // Passes failing through the outage keep the last attempt recent (every 100 ms here, so the one that
    // finally publishes sees a fresh one); the first attempt is the one JetStream saw, long ago.
    const outage = setInterval(() => {
      client.query('UPDATE api_outbox SET attempts = attempts + 1, last_attempt_at = now()').catch(() => {});
    }, 100);
    try {
      const api = await startApi({ databaseUrl: db.url, stream });
      cleanup.push(() => api.stop());
      await waitFor('the row marked sent', async () => (await outboxRows(client))[0]!.published_at !== null, {
        timeoutMs: 60_000,
      });
    } finally {
      clearInterval(outage);
    }
    expect(await crewEventIds(stream)).toEqual(before);
    expect(Number((await outboxRows(client))[0]!.stream_sequence)).toBe(before[0]!.seq);
  });
});
