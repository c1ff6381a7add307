import { sql } from '@ghostnet/db';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runProjectionsCommand } from '../cli/commands.ts';
import {
  crewsProjection,
  feedProjection,
  gameProjection,
  leaderboardsProjection,
  scansProjection,
} from '../projections/index.ts';
import {
  readLeaderboard,
  readLevelStats,
  readPosition,
  readPositionEvents,
  readRecentFeed,
  readSnapshot,
  readUser,
} from '../read/index.ts';
import {
  activeSchemas,
  checkpoints,
  createHarness,
  dumpAll,
  dumpSchema,
  type Harness,
} from '../testing/harness.ts';
import { reorgNotice, SyntheticGame } from '../testing/synthetic.ts';
import type { ProjectionRunner } from './runner.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

describe('projection runner', () => {
  it('projects a stream into tables that match the game, with reads that name their sequence', async () => {
    h = await createHarness();
    const game = new SyntheticGame({
      secondsPerTx: 30,
      seed: 7,
      players: 120,
      capacity: 25,
      resetEvery: 150,
    });
    const events = game.take(3_000);
    const seqs = await h.publish(events);
    const last = seqs[seqs.length - 1]!;
    const runner = h.runner({ batchSize: 500 });
    await runner.start();
    await runner.waitFor(last, 60_000);

    for (const [address, model] of game.positions) {
      const { position, asOfSequenceId } = await readPosition(h.pool, address);
      expect(asOfSequenceId).toBe(last);
      if (model.alive) {
        expect(position).toMatchObject({
          address,
          level: model.level,
          stakedAmount: model.amount.toString(),
          ghostStreak: model.streak,
        });
      } else {
        expect(position).toBeNull();
      }
    }
    const levels = await readLevelStats(h.pool);
    const alive = [...game.positions.values()].filter((p) => p.alive);
    for (const l of levels.levels) {
      const here = alive.filter((p) => p.level === l.level);
      expect(l.operatorCount).toBe(here.length);
    }
    const feed = await readRecentFeed(h.pool, { limit: 20 });
    expect(feed.asOfSequenceId).toBe(last);
    expect(feed.events.length).toBeGreaterThan(0);
    expect(feed.events[0]!.sequenceId).toBeLessThanOrEqual(last);
    const board = await readLeaderboard(h.pool, { type: 'extracted', period: 'all', limit: 10 });
    expect(board.entries.length).toBeGreaterThan(0);
    expect(board.asOfSequenceId).toBe(last);
    const first = board.entries[0]!;
    const user = await readUser(h.pool, first.address);
    expect(user.user?.totalExtracted).toBe(first.value);
    const snapshot = await readSnapshot(h.pool, { address: first.address });
    expect(snapshot.sequence).toBe(last);
    expect(snapshot.levels).toHaveLength(5);
    expect(snapshot.recentFeed.every((e) => e.sequenceId <= snapshot.sequence)).toBe(true);

    const stats = runner.stats();
    expect(stats.workers.map((w) => w.projection).sort()).toEqual([
      'crews',
      'feed',
      'game',
      'leaderboards',
      'scans',
    ]);
    expect(stats.workers.every((w) => w.lastSequence === last && w.state === 'running')).toBe(true);
    const dump = await dumpAll(h.pool);
    expect(dump.feed!.events!.length).toBeGreaterThan(2_900);
  });
});

describe('the stream epoch', () => {
  it("a changed creation time with the checkpoint's message still there goes on; another message there rebuilds", async () => {
    h = await createHarness();
    const harness = h;
    const game = new SyntheticGame({ secondsPerTx: 30, seed: 41, players: 60 });
    const seqs = await harness.publish(game.take(600));
    const last = seqs.at(-1)!;
    const first = harness.runner();
    await first.start();
    await first.waitFor(last, 60_000);
    await first.stop();
    const before = await dumpAll(harness.pool);
    const Row = z.object({ stream_epoch: z.string(), last_message_id: z.string().nullable() });
    const rows = () =>
      harness.pool.any(sql.type(Row)`SELECT stream_epoch, last_message_id FROM projection_checkpoints`);
    const epoch = (await harness.stream.jsm.streams.info(harness.stream.name)).created;
    expect((await rows()).every((r) => r.stream_epoch === epoch && r.last_message_id !== null)).toBe(true);

    // NATS reports another creation time for the same stream (replicas that disagree on it).
    await harness.pool.query(
      sql.unsafe`UPDATE projection_checkpoints SET stream_epoch = '2000-01-01T00:00:00Z'`,
    );
    const second = harness.runner();
    await second.start();
    await waitFor(async () => (await rows()).every((r) => r.stream_epoch === epoch), 30_000);
    await second.waitFor(last, 30_000);
    // Nothing applied again: the tables are those of before, not a rebuild's.
    expect(second.stats().workers.map((w) => w.appliedEvents)).toEqual([0, 0, 0, 0, 0]);
    expect(await dumpAll(harness.pool)).toEqual(before);
    await second.stop();

    // Another message at the checkpoint's sequence: a recreated stream, rebuilt from sequence 1.
    await harness.pool.query(sql.unsafe`
      UPDATE projection_checkpoints SET stream_epoch = '2000-01-01T00:00:00Z', last_message_id = 'another'`);
    const third = harness.runner();
    await third.start();
    await waitFor(async () => (await rows()).every((r) => r.stream_epoch === epoch), 30_000);
    await third.waitFor(last, 60_000);
    expect(third.stats().workers.every((w) => w.appliedEvents > 0)).toBe(true);
    expect(await dumpAll(harness.pool)).toEqual(before);
    await third.stop();
  }, 180_000);
});

describe('poison messages', () => {
  it('a malformed message stops the projections that read it, naming its sequence; the others go on', async () => {
    h = await createHarness();
    const game = new SyntheticGame({ secondsPerTx: 30, seed: 3, players: 60 });
    await h.publish(game.take(400));
    const bad = await h.stream.js.publish(
      h.stream.subjects.chain('JackedIn'),
      '{"v":1,"kind":"chain","name":"JackedIn"}',
    );
    const seqs = await h.publish(game.take(400));
    const last = seqs[seqs.length - 1]!;
    const runner = h.runner();
    await runner.start();
    await waitFor(
      () => runner.stats().workers.filter((w) => w.state === 'failed').length === 4,
      40_000,
      () => runner.stats(),
    );
    const byName = Object.fromEntries(runner.stats().workers.map((w) => [w.projection, w]));
    for (const name of ['feed', 'game', 'leaderboards', 'crews']) {
      expect(byName[name]!.failure?.sequence).toBe(bad.seq);
      expect(byName[name]!.failure?.reason).toMatch(/malformed message on .*JackedIn/);
      expect(byName[name]!.lastSequence).toBe(bad.seq - 1);
    }
    // scans does not read JackedIn: it passes over the message and reaches the end.
    const scans = () => runner.stats().workers.find((w) => w.projection === 'scans')!;
    await waitFor(
      () => scans().lastSequence === last,
      40_000,
      () => ({ last, workers: runner.stats().workers }),
    );
    expect(scans().state).toBe('running');
    const failed = await h.pool.anyFirst(
      sql.type(
        z.object({ s: z.number() }),
      )`SELECT failed_sequence AS s FROM projection_versions WHERE failed_sequence IS NOT NULL`,
    );
    expect(failed).toEqual([bad.seq, bad.seq, bad.seq, bad.seq]);
    // A failed generation retired (a rebuild by fixed code took over) is reported no more.
    await h.pool.query(sql.unsafe`
      UPDATE projection_versions SET status = 'retired', retired_at = now() WHERE projection = 'crews'`);
    // A tick already under way may have read the generations before the update: wait for one that did not.
    await waitFor(
      () => !runner.stats().workers.some((w) => w.projection === 'crews' && w.version === 1),
      20_000,
      () => runner.stats(),
    );
    expect(
      runner
        .stats()
        .workers.filter((w) => w.failure)
        .map((w) => w.projection),
    ).toEqual(expect.arrayContaining(['feed', 'game', 'leaderboards']));
    // Never skipped: a restarted runner stays stopped at the same place.
    await runner.stop();
    const again = h.runner();
    await again.start();
    await new Promise((r) => setTimeout(r, 500));
    expect((await checkpoints(h.pool)).game).toBe(bad.seq - 1);
    // Only scans runs of the generations above. (crews v2, made to replace the retired one with the same code,
    // runs until it stops at the same message, or is already recorded as stopped there and not started.)
    expect(
      again
        .stats()
        .workers.map((w) => `${w.projection}:${w.version}`)
        .filter((k) => k !== 'crews:2'),
    ).toEqual(['scans:1']);
  });

  it('a well-formed event a projection cannot apply stops that projection at its sequence', async () => {
    h = await createHarness();
    const game = new SyntheticGame({ secondsPerTx: 30, seed: 4, players: 60 });
    await h.publish(game.take(300));
    const stranger = `0x${'5'.repeat(40)}`;
    const [orphanStake] = await h.publish([
      {
        ...game.take(1)[0]!,
        name: 'StakeAdded',
        contract: 'GhostCore',
        args: { user: stranger, amount: '5', newTotal: '5' },
        id: `31337:0x${'9'.repeat(64)}:0`,
      } as never,
    ]);
    const seqs = await h.publish(game.take(300));
    const runner = h.runner({ batchSize: 200 });
    await runner.start();
    await waitFor(() => runner.stats().workers.filter((w) => w.state === 'failed').length === 2);
    const failed = runner.stats().workers.filter((w) => w.state === 'failed');
    expect(failed.map((w) => w.projection).sort()).toEqual(['game', 'leaderboards']);
    for (const w of failed) {
      expect(w.failure?.sequence).toBe(orphanStake);
      expect(w.failure?.reason).toMatch(/StakeAdded for 0x5{40}, who has no live position/);
      expect(w.lastSequence).toBe(orphanStake! - 1);
    }
    await expect(runner.waitFor(seqs[seqs.length - 1]!, 30_000)).rejects.toThrow(
      new RegExp(`projection (game|leaderboards) v1 stopped at sequence ${orphanStake}: .*no live position`),
    );
    await runner.waitFor(seqs[seqs.length - 1]!, 30_000, { ignoreFailed: true });
  });
});

describe('events GhostCore accepts from a dead player', () => {
  it('a boost applied after the position was traced stops nothing and changes nothing', async () => {
    h = await createHarness();
    const game = new SyntheticGame({ secondsPerTx: 30, seed: 4, players: 60 });
    const history = game.take(600);
    const traced = history
      .filter((e) => e.name === 'DeathsSubmitted')
      .flatMap((e) => (e.enrichment as { victims: { address: string }[] }).victims.map((v) => v.address))[0];
    expect(traced).toBeDefined();
    const template = history.find((e) => e.name === 'BoostApplied')!;
    await h.publish(history);
    const [late] = await h.publish([
      {
        ...game.take(1)[0]!,
        name: 'BoostApplied',
        contract: 'GhostCore',
        args: { ...template.args, user: traced },
        id: `31337:0x${'8'.repeat(64)}:0`,
      } as never,
    ]);
    const seqs = await h.publish(game.take(100));
    const runner = h.runner({ batchSize: 200 });
    await runner.start();
    await runner.waitFor(seqs.at(-1)!, 60_000);
    expect(runner.stats().workers.filter((w) => w.state === 'failed')).toEqual([]);
    expect((await readPosition(h.pool, traced!)).position).toBeNull();
    const events = await readPositionEvents(h.pool, traced!, { limit: 100 });
    expect(events.events.map((e) => e.sequenceId)).not.toContain(late);
  });
});

describe('reorgs', () => {
  async function reorgStream(target: Harness, live?: ProjectionRunner) {
    const game = new SyntheticGame({ secondsPerTx: 30, seed: 11, players: 80, capacity: 20, resetEvery: 60 });
    await target.publish(game.take(600));
    const ancestor = game.fork('canonical', 99);
    const orphaned = await target.publish(game.take(120));
    if (live) await live.waitFor(orphaned[orphaned.length - 1]!, 30_000);
    await target.publish([reorgNotice(31337, orphaned, 1)]);
    const after = await target.publish(ancestor.take(300));
    return { canonical: ancestor, last: after[after.length - 1]! };
  }

  it('orphaned events are taken back (undo log near the head, rebuild beyond it); tables equal a replay of the canonical history', async () => {
    h = await createHarness();
    const live = h.runner({ batchSize: 50 });
    await live.start();
    const { canonical, last } = await reorgStream(h, live);
    await live.waitFor(last, 60_000);
    expect(live.stats().workers.every((w) => w.reorgs.undone === 1 && w.reorgs.rebuilt === 0)).toBe(true);
    for (const [address, model] of canonical.positions) {
      const { position } = await readPosition(h.pool, address);
      if (model.alive)
        expect(position).toMatchObject({ stakedAmount: model.amount.toString(), ghostStreak: model.streak });
      else expect(position).toBeNull();
    }
    const liveDump = await dumpAll(h.pool);
    // The replays below share this stream and its consumer names (projection_<name>_v1): a runner still
    // running here would recreate them under theirs.
    await live.stop();

    // The same stream from sequence 1 (a new projection, a rebuild): the notice ahead is read first, its
    // orphans are passed over, and nothing is rebuilt.
    const replay = await createHarness({ stream: h.stream, shareStream: true });
    try {
      const runner = replay.runner({ undoWindow: 0 });
      await runner.start();
      await runner.waitFor(last, 60_000);
      expect(runner.stats().workers.map((w) => w.reorgs)).toEqual(
        Array(5).fill({ undone: 0, rebuilt: 0, preloaded: 1 }),
      );
      expectSameTables(await dumpAll(replay.pool), liveDump);
    } finally {
      await replay.cleanup();
    }

    // Without that preload and with no undo log: orphans applied, then the generation rebuilt (the fallback
    // for a notice that comes after its orphans were applied, beyond the undo log).
    const fallback = await createHarness({ stream: h.stream, shareStream: true });
    try {
      const runner = fallback.runner({ undoWindow: 0, preloadReorgNotices: false });
      await runner.start();
      await runner.waitFor(last, 60_000);
      expect(runner.stats().workers.every((w) => w.reorgs.rebuilt === 1)).toBe(true);
      expectSameTables(await dumpAll(fallback.pool), liveDump);
    } finally {
      await fallback.cleanup();
    }

    // A stream that only ever had the canonical events: same tables, sequence-numbered columns aside.
    const clean = await createHarness();
    try {
      const game = new SyntheticGame({
        secondsPerTx: 30,
        seed: 11,
        players: 80,
        capacity: 20,
        resetEvery: 60,
      });
      const prefix = game.take(600);
      const ancestor = game.fork('canonical', 99);
      game.take(120);
      const seqs = await clean.publish([...prefix, ...ancestor.take(300)]);
      const runner = clean.runner();
      await runner.start();
      await runner.waitFor(seqs[seqs.length - 1]!, 60_000);
      const drop = /(^|_)seq$|^sequence$|^id$|^position_id$/;
      expect(await dumpAll(clean.pool, { dropColumns: drop })).toEqual(
        await dumpAll(h.pool, { dropColumns: drop }),
      );
    } finally {
      await clean.cleanup();
    }
  }, 180_000);

  it('a notice appended while a generation catches up far behind is preloaded, not a rebuild from sequence 1', async () => {
    h = await createHarness();
    const game = new SyntheticGame({ secondsPerTx: 30, seed: 12, players: 80, capacity: 20 });
    await h.publish(game.take(20_000));
    const canonical = game.fork('canonical', 99);
    const live = h.runner({ projections: [gameProjection], batchSize: 100, undoWindow: 200 });
    await live.start();
    await waitFor(async () => ((await checkpoints(h!.pool)).game ?? 0) > 0);
    // Appended while the session runs, far ahead of it: orphans, their notice, and more than the undo window
    // after them, so that the orphans would be applied without undo data.
    const orphaned = await h.publish(game.take(100));
    await h.publish([reorgNotice(31337, orphaned, 1)]);
    const after = await h.publish(canonical.take(500));
    const last = after.at(-1)!;
    expect(((await checkpoints(h.pool)).game ?? 0) < orphaned[0]!).toBe(true);
    await live.waitFor(last, 120_000);
    expect(live.stats().workers.map((w) => w.reorgs)).toEqual([{ undone: 0, rebuilt: 0, preloaded: 1 }]);
    const liveDump = await dumpAll(h.pool);
    await live.stop();
    // The same stream replayed from sequence 1 (the notice preloaded at start) gives the same tables.
    const replay = await createHarness({ stream: h.stream, shareStream: true });
    try {
      const runner = replay.runner({ projections: [gameProjection] });
      await runner.start();
      await runner.waitFor(last, 120_000);
      expectSameTables(await dumpAll(replay.pool), liveDump);
    } finally {
      await replay.cleanup();
    }
  }, 180_000);
});

describe('generations', () => {
  it('rebuilds a projection beside the live one from sequence 1 and switches readers when caught up', async () => {
    h = await createHarness();
    const game = new SyntheticGame({ secondsPerTx: 30, seed: 21, players: 80 });
    const seqs = await h.publish(game.take(1_500));
    // A grace long enough that v1 is still there when `list` runs right after the switch.
    const runner = h.runner({ retiredGraceMs: 3_000 });
    await runner.start();
    await runner.waitFor(seqs[seqs.length - 1]!, 60_000);
    const before = await dumpSchema(h.pool, 'game_v1');
    // The operator's command: `projections rebuild game` (the running projector does the work).
    const out: string[] = [];
    const ctx = {
      pool: h.pool,
      jsm: h.stream.jsm,
      streamName: h.stream.name,
      out: (l: string) => out.push(l),
    };
    expect(await runProjectionsCommand(['rebuild', 'game'], ctx)).toBe(0);
    expect(out).toEqual(['game v2 is building; the projectors build it from sequence 1']);
    expect(await runProjectionsCommand(['rebuild', 'game'], ctx).catch((e: Error) => e.message)).toMatch(
      /game v2 is already building/,
    );
    await waitFor(async () => (await activeSchemas(h!.pool)).game === 'game_v2', 60_000);
    // Built from sequence 1 beside v1, identical to it; readers now read v2, and follow new events.
    expect(await dumpSchema(h.pool, 'game_v2')).toEqual(before);
    out.length = 0;
    await runProjectionsCommand(['list'], ctx);
    expect(out.join('\n')).toMatch(
      new RegExp(`game\\s+v${gameProjection.codeVersion}\\s+v1 retired, v2 active`),
    );
    const more = await h.publish(game.take(300));
    await runner.waitFor(more[more.length - 1]!, 30_000);
    const { asOfSequenceId } = await readLevelStats(h.pool);
    expect(asOfSequenceId).toBe(more[more.length - 1]);
    // The retired generation is dropped after its grace period.
    await waitFor(async () => !(await schemaExists(h!.pool, 'game_v1')), 30_000);
  }, 180_000);

  it('a projection added while the others run catches up from sequence 1 without pausing them', async () => {
    h = await createHarness();
    const game = new SyntheticGame({ secondsPerTx: 30, seed: 31, players: 200 });
    const backlog = await h.publish(game.take(8_000));
    const others = [feedProjection, gameProjection, scansProjection, leaderboardsProjection];
    const commits: { projection: string; at: number; last: number }[] = [];
    const runner = h.runner({
      projections: others,
      onBatch: (b) => commits.push({ projection: b.projection, at: b.committedAt, last: b.lastSequence }),
    });
    await runner.start();
    await runner.waitFor(backlog[backlog.length - 1]!, 90_000);
    let publishing = true;
    const live = (async () => {
      while (publishing) {
        await h!.publish(game.take(20));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    const addedAt = Date.now();
    await runner.add(crewsProjection);
    await waitFor(
      () =>
        (runner.stats().workers.find((w) => w.projection === 'crews')?.lastSequence ?? 0) >=
        backlog[backlog.length - 1]!,
      90_000,
    );
    const caughtUpAt = Date.now();
    publishing = false;
    await live;
    // While crews caught up (8k events, several batches), game kept committing the live events: its commits
    // interleave with crews' catch-up batches. A runner that paused the others would show none in between.
    const crews = commits.filter((c) => c.projection === 'crews' && c.at >= addedAt);
    expect(crews.length).toBeGreaterThan(3);
    const from = crews[0]!.at;
    const to = crews.find((c) => c.last >= backlog[backlog.length - 1]!)!.at;
    const during = commits.filter((c) => c.projection === 'game' && c.at > from && c.at < to);
    expect(during.length).toBeGreaterThanOrEqual(2);
    expect(during.every((c) => c.last > backlog[backlog.length - 1]!)).toBe(true);
    // And no stall of game longer than half the catch-up (or 3 s, whichever is longer: CI machines pause).
    const game_ = commits
      .filter((c) => c.projection === 'game' && c.at >= addedAt && c.at <= caughtUpAt)
      .map((c) => c.at);
    const gaps = game_.slice(1).map((t, i) => t - game_[i]!);
    expect(Math.max(...gaps, game_[0]! - addedAt)).toBeLessThan(Math.max(3_000, (caughtUpAt - addedAt) / 2));
  }, 180_000);
});

/** toEqual, with the first differing rows of each table in the message (the dumps are too big to diff). */
function expectSameTables(
  actual: Record<string, Record<string, string[]>>,
  expected: Record<string, Record<string, string[]>>,
) {
  const problems: string[] = [];
  for (const projection of new Set([...Object.keys(actual), ...Object.keys(expected)])) {
    for (const table of new Set([
      ...Object.keys(actual[projection] ?? {}),
      ...Object.keys(expected[projection] ?? {}),
    ])) {
      const a = actual[projection]?.[table] ?? [];
      const e = expected[projection]?.[table] ?? [];
      const onlyA = a.filter((r) => !e.includes(r));
      const onlyE = e.filter((r) => !a.includes(r));
      if (onlyA.length || onlyE.length || a.length !== e.length) {
        problems.push(
          `${projection}.${table}: ${a.length} vs ${e.length} rows\n  + ${onlyA.slice(0, 2).join('\n  + ')}\n  - ${onlyE.slice(0, 2).join('\n  - ')}`,
        );
      }
    }
  }
  expect(problems.join('\n')).toBe('');
}

async function schemaExists(pool: Harness['pool'], schema: string): Promise<boolean> {
  const n = await pool.oneFirst(sql.type(z.object({ n: z.number() }))`
    SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = ${schema}`);
  return n > 0;
}

async function waitFor(
  probe: () => boolean | Promise<boolean>,
  timeoutMs = 40_000,
  describe: () => unknown = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(describe())}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
