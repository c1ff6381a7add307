import { parseStreamMessage } from '@ghostnet/events';
import {
  createTestDatabase,
  createTestStream,
  type TestDatabase,
  type TestStream,
  waitFor,
} from '@ghostnet/test';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, type RunningApi, startApi, testToken } from '../testing/apiProcess.ts';

// Each file starts API processes: slow to start on a loaded machine, never a reason to fail.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

let db: TestDatabase;
let stream: TestStream;
let api: RunningApi;

beforeAll(async () => {
  [db, stream] = await Promise.all([createTestDatabase(), createTestStream()]);
  // Many players from one test IP, each signed in: the per-user limit applies, not this file's concern.
  api = await startApi({ databaseUrl: db.url, stream, env: { DATABASE_POOL_SIZE: '20' } });
});

afterAll(async () => {
  await api?.stop();
  await Promise.all([db?.drop(), stream?.destroy()]);
});

interface Player {
  address: string;
  token: string;
}

async function players(n: number): Promise<Player[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const address = privateKeyToAccount(generatePrivateKey()).address.toLowerCase();
      return { address, token: await testToken(address, stream.chainId) };
    }),
  );
}

const post = (path: string, player: Player, body?: unknown) =>
  call(api.url, 'POST', path, { token: player.token, body });

/** CrewEvents in the stream, in stream order. */
async function crewEvents(): Promise<
  { seq: number; eventType: string; crewName: string; address: string; id: string }[]
> {
  const out: { seq: number; eventType: string; crewName: string; address: string; id: string }[] = [];
  const info = await stream.jsm.streams.info(stream.name);
  if (info.state.messages === 0) return out;
  const consumer = await stream.js.consumers.get(stream.name, {
    filter_subjects: stream.subjects.app('CrewEvent'),
  });
  const batch = await consumer.fetch({ max_messages: 1000, expires: 1000 });
  for await (const msg of batch) {
    const envelope = parseStreamMessage(msg.data);
    if (envelope.kind === 'app' && envelope.name === 'CrewEvent') {
      out.push({ seq: msg.seq, id: envelope.id, ...envelope.args });
    }
    if (msg.info.pending === 0) break;
  }
  await consumer.delete().catch(() => {});
  return out;
}

describe('crews, against the API process', () => {
  it('100 parallel joins to a crew with 49 members: exactly one succeeds', async () => {
    const [leader, ...rest] = await players(149);
    const created = await post('/crews', leader!, { name: 'Full House', tag: 'fh' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.tag).toBe('FH');
    const crewId = created.body.id;
    const early = rest.slice(0, 48);
    for (const p of early) expect((await post(`/crews/${crewId}/join`, p)).status).toBe(200);
    expect((await call(api.url, 'GET', `/crews/${crewId}`)).body.stats.memberCount).toBe(49);

    const racers = rest.slice(48, 148);
    const results = await Promise.all(racers.map((p) => post(`/crews/${crewId}/join`, p)));
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    expect(results.filter((r) => r.status === 409 && r.body.error.code === 'CREW_FULL')).toHaveLength(99);
    const detail = await call(api.url, 'GET', `/crews/${crewId}`);
    expect(detail.body.stats.memberCount).toBe(50);
    expect(detail.body.members).toHaveLength(50);
  });

  it('two crews whose names differ only in case: one wins', async () => {
    const [a, b] = await players(2);
    const [x, y] = await Promise.all([
      post('/crews', a!, { name: 'Neon Ghosts', tag: 'NG' }),
      post('/crews', b!, { name: 'NEON ghosts', tag: 'NG2' }),
    ]);
    expect([x.status, y.status].sort()).toEqual([201, 409]);
    expect([x, y].find((r) => r.status === 409)!.body.error.code).toBe('CREW_NAME_TAKEN');
    // The loser is in no crew (the whole transaction rolled back) and may found another.
    const loser = x.status === 409 ? a! : b!;
    expect((await post('/crews', loser, { name: 'Neon Ghosts II', tag: 'NG3' })).status).toBe(201);
  });

  it('one crew per player, also when joining two crews at once', async () => {
    const [l1, l2, p] = await players(3);
    const c1 = (await post('/crews', l1!, { name: 'Alpha Crew', tag: 'AC' })).body.id;
    const c2 = (await post('/crews', l2!, { name: 'Beta Crew', tag: 'BC' })).body.id;
    const both = await Promise.all([post(`/crews/${c1}/join`, p!), post(`/crews/${c2}/join`, p!)]);
    expect(both.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(both.find((r) => r.status === 409)!.body.error.code).toBe('ALREADY_IN_CREW');
    expect((await post('/crews', p!, { name: 'Gamma Crew', tag: 'GC' })).body.error.code).toBe(
      'ALREADY_IN_CREW',
    );
    const profile = await call(api.url, 'GET', `/users/${p!.address}`);
    expect(profile.status).toBe(200);
    expect([c1, c2]).toContain(profile.body.crew.id);
  });

  it('hands the lead to the longest-standing officer, else member, and dissolves an empty crew', async () => {
    const [leader, m1, m2, o1, o2] = await players(5);
    const crewId = (await post('/crews', leader!, { name: 'Handover', tag: 'HO', description: 'test' })).body
      .id;
    for (const p of [m1, m2, o1, o2]) expect((await post(`/crews/${crewId}/join`, p!)).status).toBe(200);
    // o1 and o2 joined after m1 and m2; officers still come first, the earlier officer before the later one.
    for (const o of [o2, o1]) {
      expect(
        (await post(`/crews/${crewId}/members/${o!.address}/role`, leader!, { role: 'officer' })).status,
      ).toBe(200);
    }
    expect(
      (await post(`/crews/${crewId}/members/${m2!.address}/role`, m1!, { role: 'officer' })).body.error.code,
    ).toBe('NOT_LEADER');

    const leave = async (p: Player) => (await post(`/crews/${crewId}/leave`, p)).body;
    expect(await leave(leader!)).toMatchObject({ success: true, dissolved: false, newLeader: o1!.address });
    expect(await leave(o1!)).toMatchObject({ newLeader: o2!.address });
    expect(await leave(o2!)).toMatchObject({ newLeader: m1!.address });
    expect(await leave(m2!)).toMatchObject({ newLeader: null, dissolved: false });
    expect((await post(`/crews/${crewId}/leave`, m2!)).body.error.code).toBe('NOT_A_MEMBER');
    expect(await leave(m1!)).toMatchObject({ dissolved: true });
    expect((await call(api.url, 'GET', `/crews/${crewId}`)).status).toBe(404);

    // Every change reached the stream as one CrewEvent, in order, through the outbox.
    const events = await waitFor(
      'the crew events',
      async () => {
        const all = (await crewEvents()).filter((e) => e.crewName === 'Handover');
        return all.length >= 14 ? all : undefined;
      },
      { timeoutMs: 60_000 },
    );
    expect(events.map((e) => e.eventType)).toEqual(
      [
        'CREATED',
        'JOINED',
        'JOINED',
        'JOINED',
        'JOINED',
        'LEFT',
        'LEADER_CHANGED',
        'LEFT',
        'LEADER_CHANGED',
        'LEFT',
        'LEADER_CHANGED',
        'LEFT',
        'LEFT',
        'DISSOLVED',
      ].slice(0, events.length),
    );
    expect(events).toHaveLength(14);
    expect(new Set(events.map((e) => e.id)).size).toBe(14);
  });

  it('lists and searches crews', async () => {
    const list = await call(api.url, 'GET', '/crews?search=neon&sort=name');
    expect(list.status).toBe(200);
    expect(list.body.crews.map((c: { name: string }) => c.name.toLowerCase())).toEqual([
      'neon ghosts',
      'neon ghosts ii',
    ]);
    const all = await call(api.url, 'GET', '/crews?sort=members&limit=1');
    expect(all.body.crews[0].name).toBe('Full House');
    expect(all.body.total).toBeGreaterThanOrEqual(5);
    // LIKE wildcards are searched for literally.
    expect((await call(api.url, 'GET', '/crews?search=%25')).body.total).toBe(0);
  });
});
