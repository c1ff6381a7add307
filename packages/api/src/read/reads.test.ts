import { createDatabasePool, type DatabasePool, migrate, sql } from '@ghostnet/db';
import { createLogger } from '@ghostnet/logger';
import {
  ALL_PROJECTIONS,
  createProjectionRunner,
  type ProjectionRunner,
  readPosition,
  readUser,
} from '@ghostnet/projections';
import {
  createTestDatabase,
  createTestStream,
  type TestDatabase,
  type TestStream,
  waitFor,
} from '@ghostnet/test';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { call, type RunningApi, startApi, testToken } from '../testing/apiProcess.ts';
import { envelopeFactory, publishAll, recentToday } from '../testing/envelopes.ts';
import { ConnectionLanes } from './connectionLanes.ts';
import { createProjectionsReadModel } from './projectionsReadModel.ts';

// Each file starts API processes: slow to start on a loaded machine, never a reason to fail.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

let db: TestDatabase;
let stream: TestStream;
let pool: DatabasePool;
let runner: ProjectionRunner;
let api: RunningApi;
const E18 = 10n ** 18n;
const [alice, bob, carol] = ['a1', 'b0', 'ca'].map((b) => `0x${b.repeat(20)}`) as [string, string, string];

beforeAll(async () => {
  [db, stream] = await Promise.all([createTestDatabase(), createTestStream()]);
  await migrate(db.url);
  pool = await createDatabasePool(db.url);
  runner = createProjectionRunner({
    pool,
    databaseUrl: db.url,
    nc: stream.nc,
    streamName: stream.name,
    chainId: stream.chainId,
    subjectPrefix: stream.prefix,
    projections: [...ALL_PROJECTIONS],
    logger: createLogger({ name: 'projector', level: 'warn' }),
    pollMs: 200,
  });
  await runner.start();
  api = await startApi({ databaseUrl: db.url, stream });
});

afterAll(async () => {
  await api?.stop();
  await runner?.stop();
  await pool?.end();
  await Promise.all([db?.drop(), stream?.destroy()]);
});

describe('game reads served from the projections', () => {
  it('profiles, history, leaderboards, level stats, network state and the feed, each with its sequence', async () => {
    const f = envelopeFactory(stream.chainId);
    const last = await publishAll(stream.js, stream.subjects, [
      f.jackedIn(alice, 100n * E18, 'DARKNET'),
      f.jackedIn(bob, 50n * E18, 'VAULT'),
      f.jackedIn(carol, 30n * E18, 'VAULT'),
      f.extracted(bob, 50n * E18, 7n * E18),
      f.extracted(carol, 30n * E18, 9n * E18),
      // Alice alone at DARKNET earns all of it; one boost counts, the other expired before the last block.
      f.emissionsAdded('DARKNET', 4n * E18),
      f.boostApplied(alice, 1500, Date.now() + 3_600_000),
      f.boostApplied(alice, 500, Date.now() - 7_200_000),
    ]);
    await runner.waitFor(last, 120_000);

    const profile = await call(api.url, 'GET', `/users/${alice.toUpperCase().replace('0X', '0x')}`);
    expect(profile.status, JSON.stringify(profile.body)).toBe(200);
    expect(profile.body).toMatchObject({
      address: alice,
      ensName: null,
      totalExtracted: '0',
      crew: null,
      position: {
        address: alice,
        level: 'DARKNET',
        stakedAmount: String(100n * E18),
        ghostStreak: 0,
        earnedYield: String(4n * E18),
        boosts: [{ type: 'DEATH_REDUCTION', valueBps: 1500 }],
      },
      totals: { positionsCount: 1, totalStaked: String(100n * E18) },
    });
    expect((await call(api.url, 'GET', `/users/0x${'99'.repeat(20)}`)).status).toBe(404);

    const history = await call(api.url, 'GET', `/users/${bob}/history?limit=10`);
    expect(history.body).toMatchObject({
      total: 1,
      positions: [{ status: 'extracted', exitType: 'extracted', rewards: String(7n * E18), level: 'VAULT' }],
    });

    const board = await waitFor(
      'the leaderboard at the last sequence',
      async () => {
        const res = await call(api.url, 'GET', '/leaderboard?type=extracted&period=all&limit=10');
        return res.body.asOfSequenceId >= last ? res : undefined;
      },
      { timeoutMs: 60_000 },
    );
    expect(board.body.entries).toEqual([
      { rank: 1, address: carol, value: String(9n * E18) },
      { rank: 2, address: bob, value: String(7n * E18) },
    ]);
    expect(
      (await call(api.url, 'GET', '/leaderboard?type=extracted&period=daily&limit=1')).body.entries,
    ).toHaveLength(1);

    const levels = await call(api.url, 'GET', '/game/levels');
    expect(levels.status).toBe(200);
    expect(levels.body.levels.find((l: { level: string }) => l.level === 'DARKNET')).toMatchObject({
      operatorCount: 1,
      totalStaked: String(100n * E18),
      baseDeathRate: 3500,
      effectiveDeathRate: 2000,
    });
    const network = await call(api.url, 'GET', '/game/network');
    expect(network.body.networkState.tvl).toBe(String(100n * E18));

    const feed = await call(api.url, 'GET', '/game/feed?limit=3');
    expect(feed.body.asOfSequenceId).toBe(last);
    // With its epoch: the cursor a WebSocket resumes from is the pair (a cursor alone gets a FULL_SYNC).
    expect(feed.body.epoch).toBe((await stream.jsm.streams.info(stream.name)).created);
    expect(feed.body.cut).toBeNull();
    // Emissions and boosts have no feed event: the newest page starts at the last extract.
    expect(feed.body.events.map((e: { type: string; sequenceId: number }) => [e.type, e.sequenceId])).toEqual(
      [
        ['EXTRACT', last - 3],
        ['EXTRACT', last - 4],
        ['JACK_IN', last - 5],
      ],
    );
    const older = await call(api.url, 'GET', `/game/feed?limit=10&before=${last - 5}`);
    expect(older.body.events.map((e: { sequenceId: number }) => e.sequenceId)).toEqual([last - 6, last - 7]);
  });

  it('the one-statement profile read equals readUser + readPosition (parity with the projections)', async () => {
    const model = createProjectionsReadModel(pool);
    for (const address of [alice, bob, carol, `0x${'99'.repeat(20)}`]) {
      const [profile, user, position] = await Promise.all([
        model.profile(address),
        readUser(pool, address),
        readPosition(pool, address),
      ]);
      expect(profile.user, address).toEqual(user.user);
      expect(profile.position, address).toEqual(position.position);
    }
    expect((await model.profile(alice)).position).not.toBeNull();
    expect((await model.profile(bob)).user?.totalExtracted).toBe(String(7n * E18));
    // Reads that arrive together go out as one batched call (all but the first wait for it), and each gets
    // its own player's answer.
    const batched = createProjectionsReadModel(pool, { profilePatienceMs: 10_000 });
    const players = [alice, bob, carol, `0x${'99'.repeat(20)}`, alice];
    const together = await Promise.all(players.map((p) => batched.profile(p)));
    expect(together).toEqual(await Promise.all(players.map((p) => model.profile(p))));
  });

  it('on a held lane the profile is a prepared statement, and one dropped under it still answers', async () => {
    const lanes = new ConnectionLanes(pool, 1);
    lanes.start();
    try {
      const model = createProjectionsReadModel(pool, { lanes });
      const prepared = sql.type(z.object({ name: z.string() }))`SELECT name FROM pg_prepared_statements`;
      const onLane = await waitFor('the lane', async () => {
        const profile = await model.profile(alice);
        // Once the lane is open (the pool answers meanwhile), the read leaves its statement there.
        const names = await lanes.run(async (db) => (db === pool ? [] : db.anyFirst(prepared)));
        return names.some((n) => n.startsWith('api_profiles_')) ? profile : undefined;
      });
      expect(onLane).toEqual(await createProjectionsReadModel(pool).profile(alice));

      // What slonik's DISCARD ALL does to a connection it takes back: the next read must still answer.
      await lanes.run((db) => db.query(sql.unsafe`DEALLOCATE ALL`));
      expect(await model.profile(alice)).toEqual(onLane);
      expect(await model.profile(bob)).toEqual(await createProjectionsReadModel(pool).profile(bob));
      const again = await lanes.run((db) => db.anyFirst(prepared));
      expect(again.some((n) => n.startsWith('api_profiles_'))).toBe(true);
    } finally {
      lanes.close();
    }
  });

  it('a cached leaderboard is replaced as soon as the projection moves', async () => {
    const f = envelopeFactory(stream.chainId, recentToday(600_000));
    const before = await call(api.url, 'GET', '/leaderboard?type=extracted&period=all&limit=10');
    const seq = await publishAll(stream.js, stream.subjects, [
      f.jackedIn(`0x${'dd'.repeat(20)}`, 10n * E18),
      f.extracted(`0x${'dd'.repeat(20)}`, 10n * E18, 20n * E18),
    ]);
    await runner.waitFor(seq, 120_000);
    const after = await waitFor(
      'the new leaderboard',
      async () => {
        const res = await call(api.url, 'GET', '/leaderboard?type=extracted&period=all&limit=10');
        return res.body.asOfSequenceId >= seq ? res : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(before.body.entries[0].address).toBe(carol);
    expect(after.body.entries[0]).toEqual({
      rank: 1,
      address: `0x${'dd'.repeat(20)}`,
      value: String(20n * E18),
    });
  });

  it('crew stats and ranks come from the crews projection fed by the outbox', async () => {
    const create = await call(api.url, 'POST', '/crews', {
      token: await testToken(alice, stream.chainId),
      body: { name: 'Darknet Divers', tag: 'DD' },
    });
    expect(create.status).toBe(201);
    const crew = await waitFor(
      'the crew in the projection',
      async () => {
        const res = await call(api.url, 'GET', `/crews/${create.body.id}`);
        return res.body.rank === 1 ? res : undefined;
      },
      { timeoutMs: 60_000 },
    );
    expect(crew.body.stats).toMatchObject({ memberCount: 1, totalStaked: String(100n * E18) });
    const ranking = await call(api.url, 'GET', '/leaderboard/crews');
    expect(ranking.body.entries[0]).toMatchObject({
      rank: 1,
      name: 'Darknet Divers',
      tag: 'DD',
      value: String(100n * E18),
    });
    const profile = await call(api.url, 'GET', `/users/${alice}`);
    expect(profile.body.crew).toMatchObject({ id: create.body.id, role: 'leader', name: 'Darknet Divers' });
  });
});
