import { fileURLToPath } from 'node:url';
import type { ChainEnvelope } from '@ghostnet/events';
import { type ProjectionRunner, projectionStatus, runProjectionsCommand } from '@ghostnet/projections';
import {
  checkpoints,
  createHarness,
  derivedMessages,
  dumpAll,
  expectedSurvivors,
  type Harness,
  SyntheticGame,
} from '@ghostnet/projections/testing';
import { appNodeArgs, type Started, startProcess } from '@ghostnet/test';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PROJECTIONS = ['crews', 'feed', 'game', 'leaderboards', 'scans'];

let h: Harness | undefined;
const processes: Started[] = [];
afterEach(async () => {
  for (const p of processes.splice(0)) await p.kill();
  await h?.cleanup();
  h = undefined;
});

function startProjector(harness: Harness, env: Record<string, string> = {}): Started {
  const started = startProcess(
    process.execPath,
    [...appNodeArgs('apps/projector/src/main.ts'), ...(env.ARGS ? env.ARGS.split(' ') : [])],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL: harness.db.url,
        NATS_URL: harness.stream.natsUrl,
        STREAM_NAME: harness.stream.name,
        SUBJECT_PREFIX: harness.stream.prefix,
        CHAIN_ID: String(harness.stream.chainId),
        LOG_LEVEL: 'info',
        PROJECTOR_POLL_MS: '300',
        PROJECTOR_BATCH_SIZE: '200',
        ...env,
      },
    },
  );
  processes.push(started);
  return started;
}

async function total(harness: Harness): Promise<number> {
  const c = await checkpoints(harness.pool);
  return Object.values(c).reduce((a, b) => a + b, 0);
}

async function until(
  what: string,
  probe: () => Promise<boolean> | boolean,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function caughtUp(harness: Harness, last: number): Promise<boolean> {
  const c = await checkpoints(harness.pool);
  return PROJECTIONS.every((p) => (c[p] ?? 0) >= last);
}

/** The same stream projected by one uninterrupted in-process runner into a database of its own. */
async function uninterrupted(harness: Harness, last: number) {
  const clean = await createHarness({ stream: harness.stream, shareStream: true });
  try {
    const runner: ProjectionRunner = clean.runner();
    await runner.start();
    await runner.waitFor(last, 120_000);
    return await dumpAll(clean.pool);
  } finally {
    await clean.cleanup();
  }
}

describe('projector process', () => {
  it('SIGKILLed at random points 20+ times: tables and derived events identical to an uninterrupted run, nothing applied or published twice', async () => {
    h = await createHarness();
    const game = new SyntheticGame({
      secondsPerTx: 30,
      seed: 41,
      players: 150,
      capacity: 30,
      resetEvery: 400,
    });
    const events: ChainEnvelope[] = [];
    const seqs: number[] = [];
    const publish = async (batch: ChainEnvelope[]) => {
      events.push(...batch);
      seqs.push(...(await h!.publish(batch)));
    };
    await publish(game.take(6_000));
    let publishing = true;
    const live = (async () => {
      for (let i = 0; i < 20; i++) {
        await publish(game.take(100));
        await new Promise((r) => setTimeout(r, 150));
      }
      publishing = false;
    })();
    let kills = 0;
    let midBatch = 0;
    let random = 12345;
    const rand = () => {
      random = (random * 1103515245 + 12345) % 2 ** 31;
      return random / 2 ** 31;
    };
    while (kills < 22) {
      const before = await total(h);
      const p = startProjector(h);
      // Kill once it is applying, at a random point of its work.
      await until('progress', async () => (await total(h!)) > before || p.child.exitCode !== null, 60_000);
      await new Promise((r) => setTimeout(r, rand() * 250));
      const lastBefore = seqs[seqs.length - 1]!;
      if (!(await caughtUp(h, lastBefore))) midBatch++;
      await p.kill();
      kills++;
    }
    await live;
    expect(publishing).toBe(false);
    expect(midBatch).toBeGreaterThanOrEqual(20);
    // The killed processes also published survivors (derived events) as they went: the last one finishes.
    const expected = expectedSurvivors(events, seqs);
    const final = startProjector(h);
    await until(
      'every survivor published',
      async () => (await derivedMessages(h!.stream)).length >= expected.size,
      120_000,
    );
    const last = (await h.stream.jsm.streams.info(h.stream.name)).state.last_seq;
    await until('catch-up', () => caughtUp(h!, last), 120_000);
    await final.stop();
    expect(final.child.exitCode).toBe(0);
    const derived = await derivedMessages(h.stream);
    expect(derived.map((d) => d.message.source.sequence)).toEqual([...expected.keys()]);
    for (const { message } of derived) {
      expect(message.args.survivors).toEqual(expected.get(message.source.sequence)!.survivors);
    }
    expect(last).toBe(seqs[seqs.length - 1]! + derived.length);
    const killed = await dumpAll(h.pool);
    expect(killed).toEqual(await uninterrupted(h, last));
    // Each stream message the feed reads is there once (a double application would also have broken equality).
    expect(killed.feed!.events!.length).toBe(last);
  }, 300_000);

  it('two processes: the standby takes over within seconds when the active one is killed mid-batch', async () => {
    h = await createHarness();
    const game = new SyntheticGame({ secondsPerTx: 30, seed: 43, players: 150, capacity: 30 });
    let seqs = await h.publish(game.take(8_000));
    // Events keep arriving throughout, so the active process is always in the middle of something.
    let publishing = true;
    const live = (async () => {
      while (publishing) {
        seqs = await h!.publish(game.take(50));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const ctx = { pool: h.pool, jsm: h.stream.jsm, streamName: h.stream.name };
    // Leases of projections only: the survivors publisher would append after `last` (its failover is in
    // packages/projections derive/survivors.test.ts).
    const a = startProjector(h, { DERIVE_SURVIVORS: 'false' });
    await until('A to hold every lease', async () => {
      const s = await projectionStatus(ctx);
      return s.length === 5 && s.every((g) => g.holder?.endsWith(`pid ${a.pid}`));
    });
    const b = startProjector(h, { DERIVE_SURVIVORS: 'false' });
    await until('B to start', () => b.output().includes('projector started'));
    await new Promise((r) => setTimeout(r, 300));
    expect((await projectionStatus(ctx)).map((g) => g.holder)).toEqual(
      Array(5).fill(expect.stringMatching(`pid ${a.pid}$`)),
    );
    const before = await checkpoints(h.pool);
    await a.kill();
    const killedAt = Date.now();
    await until(
      'B to hold every lease',
      async () => (await projectionStatus(ctx)).every((g) => g.holder?.endsWith(`pid ${b.pid}`)),
      15_000,
    );
    const takeoverMs = Date.now() - killedAt;
    expect(takeoverMs).toBeLessThan(5_000);
    await until(
      'B to apply',
      async () => {
        const now = await checkpoints(h!.pool);
        return PROJECTIONS.every((p) => (now[p] ?? 0) > (before[p] ?? 0));
      },
      30_000,
    );
    publishing = false;
    await live;
    const last = seqs[seqs.length - 1]!;
    await until('catch-up', () => caughtUp(h!, last), 120_000);
    const lines: string[] = [];
    expect(await runProjectionsCommand(['status'], { ...ctx, out: (l) => lines.push(l) })).toBe(0);
    expect(lines.join('\n')).toMatch(new RegExp(`game\\s+v1\\s+active\\s+${last}\\s+0\\s`));
    await b.stop();
    expect(await dumpAll(h.pool)).toEqual(await uninterrupted(h, last));
  }, 300_000);
  it('replicas split the projections (PROJECTOR_PROJECTIONS): each holds and stands by for its own list only', async () => {
    h = await createHarness();
    const game = new SyntheticGame({ secondsPerTx: 30, seed: 47, players: 150, capacity: 30 });
    let seqs = await h.publish(game.take(3_000));
    const ctx = { pool: h.pool, jsm: h.stream.jsm, streamName: h.stream.name };
    const holders = async () =>
      Object.fromEntries((await projectionStatus(ctx)).map((g) => [g.projection, g.holder]));
    const off = { DERIVE_SURVIVORS: 'false' };
    const heavy = startProjector(h, { ...off, PROJECTOR_PROJECTIONS: 'game,leaderboards' });
    const light = startProjector(h, { ...off, PROJECTOR_PROJECTIONS: 'feed, scans,crews' });
    await until('both lists applied', () => caughtUp(h!, seqs[seqs.length - 1]!), 120_000);
    const of = (p: Started) => expect.stringMatching(`pid ${p.pid}$`);
    expect(await holders()).toEqual({
      game: of(heavy),
      leaderboards: of(heavy),
      feed: of(light),
      scans: of(light),
      crews: of(light),
    });

    // A replica for `game` alone: it stands by for `game`, and takes nothing else when `heavy` dies.
    const standby = startProjector(h, { ...off, PROJECTOR_PROJECTIONS: 'game' });
    await until('the standby to start', () => standby.output().includes('projector started'));
    await heavy.kill();
    await until(
      'game to move to the standby',
      async () => (await holders()).game?.endsWith(`pid ${standby.pid}`) ?? false,
      15_000,
    );
    seqs = await h.publish(game.take(500));
    const last = seqs[seqs.length - 1]!;
    await until('game and the light list to apply the new events', async () => {
      const c = await checkpoints(h!.pool);
      return ['game', 'feed', 'scans', 'crews'].every((p) => (c[p] ?? 0) >= last);
    });
    const now = await holders();
    expect(now.leaderboards).toBeNull();
    expect((await checkpoints(h.pool)).leaderboards).toBeLessThan(last);

    // A replica with leaderboards in its list brings it back; the tables equal one runner's.
    startProjector(h, { ...off, PROJECTOR_PROJECTIONS: 'leaderboards' });
    await until('catch-up', () => caughtUp(h!, last), 120_000);
    expect(await dumpAll(h.pool)).toEqual(await uninterrupted(h, last));
  }, 300_000);
});
