import { createDatabasePool, type DatabasePool, migrate } from '@ghostnet/db';
import { createLogger } from '@ghostnet/logger';
import { ALL_PROJECTIONS, createProjectionRunner, type ProjectionRunner } from '@ghostnet/projections';
import {
  createTestDatabase,
  createTestStream,
  type TestDatabase,
  type TestStream,
  waitFor,
} from '@ghostnet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressOf, append, appendMany, crewEvent, extracted, jackedIn } from '../test/envelopes.ts';
import { expectedFrames, RawClient, silentLogger, startTestGateway, tokenFor } from '../test/harness.ts';
import { listenForCheckpoints, projectionSnapshots } from './projections.ts';

const STAKE = '50000000000000000000';
const player = (i: number) => addressOf(0xf000 + i);

/** FULL_SYNC and POSITION_UPDATE from the real projector's tables, the projector running beside the gateway. */
describe('snapshots from the projector', () => {
  let stream: TestStream;
  let db: TestDatabase;
  let pool: DatabasePool;
  let runner: ProjectionRunner;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;
  const PLAYERS = 1200;

  beforeAll(async () => {
    [stream, db] = await Promise.all([createTestStream(), createTestDatabase()]);
    await migrate(db.url);
    pool = await createDatabasePool(db.url, { maximumPoolSize: 6 });
    await appendMany(stream.js, stream.subjects, PLAYERS, (i) =>
      i % 10 === 9
        ? crewEvent(stream.chainId, i)
        : jackedIn(stream.chainId, player(i), { amount: STAKE, level: 'VAULT' }),
    );
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
    const source = projectionSnapshots(pool);
    // Every projection (a snapshot reflects the lowest of game and feed), not only the positions.
    await runner.waitFor(PLAYERS, 30_000);
    await waitFor(
      'projector caught up',
      async () => (await source.positionsCheckpoint()).sequence === PLAYERS,
      {
        timeoutMs: 30_000,
      },
    );
    gw = await startTestGateway(stream, { snapshots: source, positionTickMs: 20 });
  }, 60_000);
  afterAll(async () => {
    await gw?.stop();
    await runner?.stop();
    await pool?.end();
    await stream?.destroy();
    await db?.drop();
  });

  async function sync(who: string, cursor: number | null, url = gw.url) {
    const client = new RawClient(url);
    await client.opened;
    client.send({ type: 'AUTH', token: await tokenFor(who) });
    client.send({ type: 'RECONNECT', lastSequenceId: cursor, epoch: stream.epoch });
    const replay = await client.next('REPLAY');
    return { client, replay, full: client.frames.find((f) => f.type === 'FULL_SYNC') };
  }

  it('a fresh client and a gap of 1000 both get the projector snapshot, then the stream from its sequence', async () => {
    const me = player(3);
    for (const cursor of [null, PLAYERS - 1000]) {
      const { client, replay, full } = await sync(me, cursor);
      if (full?.type !== 'FULL_SYNC') throw new Error('expected FULL_SYNC');
      const { snapshot } = full;
      expect(snapshot.sequence).toBe(PLAYERS);
      expect(snapshot.epoch).toBe(stream.epoch);
      expect(snapshot.position).toMatchObject({ address: me, level: 'VAULT', stakedAmount: STAKE });
      const vault = snapshot.levels.find((l) => l.level === 'VAULT');
      expect(vault?.operatorCount).toBe(PLAYERS - PLAYERS / 10);
      expect(snapshot.networkState?.tvl).toBe((BigInt(STAKE) * BigInt(PLAYERS - PLAYERS / 10)).toString());
      // The snapshot's recent feed is exactly the stream's last feed events up to its sequence, oldest first.
      const tail = (await expectedFrames(stream, PLAYERS - 50, PLAYERS)).map((f) => f.id);
      expect(snapshot.recentFeed.map((item) => item.event.id)).toEqual(tail);
      expect(snapshot.recentFeed.at(-1)?.sequenceId).toBe(PLAYERS);
      expect(replay).toMatchObject({ fromSequenceId: PLAYERS, toSequenceId: PLAYERS, events: [] });
      client.close();
    }
  });

  it('POSITION_UPDATE once the positions projection has applied the event (latency measured)', async () => {
    const me = player(5);
    const { client } = await sync(me, PLAYERS);
    const from = client.frames.length;
    await client.next('POSITION_UPDATE', 5_000, from); // the refresh after a resume
    const before = client.frames.length;
    const appendedAt = Date.now();
    const seq = await append(stream.js, stream.subjects, extracted(stream.chainId, me, STAKE, '7'));
    const update = await client.next('POSITION_UPDATE', 10_000, before);
    const latency = Date.now() - appendedAt;
    expect(update.position).toBeNull();
    expect(update.sequenceId).toBeGreaterThanOrEqual(seq);
    const feed = client.frames.slice(before).find((f) => f.type === 'FEED_EVENT');
    expect(feed).toMatchObject({
      sequenceId: seq,
      event: { type: 'EXTRACT', data: { address: me, gain: '7' } },
    });
    // Projector batch + checkpoint poll tick + one read: well under a second here.
    expect(latency).toBeLessThan(5_000);
    client.close();
  });

  it("POSITION_UPDATE wakes on the projector's commit notice instead of waiting for the next poll", async () => {
    // A gateway that would poll the checkpoint only every 10 minutes: anything sooner came from a notice.
    const bucket = `gwn_${stream.name}`;
    const quiet = await startTestGateway(stream, {
      snapshots: projectionSnapshots(pool),
      positionTickMs: 600_000,
      connectionsBucket: bucket,
    });
    const notices = listenForCheckpoints(
      db.url,
      (n) => quiet.gateway.checkpointAdvanced(n.projection),
      silentLogger,
    );
    try {
      await waitFor('listening', async () => notices.listening, { timeoutMs: 10_000 });
      const me = player(15);
      const { client } = await sync(
        me,
        (await stream.jsm.streams.info(stream.name)).state.last_seq,
        quiet.url,
      );
      const before = client.frames.length;
      const seq = await append(stream.js, stream.subjects, extracted(stream.chainId, me, STAKE, '3'));
      // Seconds at most even on a loaded machine; the poll alone would take 10 minutes.
      const update = await client.next('POSITION_UPDATE', 15_000, before);
      expect(update.sequenceId).toBeGreaterThanOrEqual(seq);
      expect(update.position).toBeNull();
      client.close();
    } finally {
      await notices.stop();
      await quiet.gateway.stop();
      await stream.jsm.streams.delete(`KV_${bucket}`).catch(() => {});
    }
  });
});
