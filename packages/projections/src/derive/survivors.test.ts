import { sql } from '@ghostnet/db';
import { withOverrides } from '@ghostnet/test';
import type { JetStreamClient } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { readRecentFeed } from '../read/feed.ts';
import { leaseLockRow } from '../runtime/lease.ts';
import { createHarness, type Harness } from '../testing/harness.ts';
import { derivedMessages, expectedSurvivors } from '../testing/survivors.ts';
import { reorgNotice, SyntheticGame } from '../testing/synthetic.ts';
import { SURVIVORS_LEASE, SurvivorsPublisher } from './survivors.ts';

let h: Harness | undefined;
const publishers: SurvivorsPublisher[] = [];

afterEach(async () => {
  for (const p of publishers.splice(0)) await p.stop();
  await h?.cleanup();
  h = undefined;
});

function publisher(
  harness: Harness,
  options: { from?: { sequence: number; epoch: string }; js?: JetStreamClient } = {},
): SurvivorsPublisher {
  const p = new SurvivorsPublisher({
    pool: harness.pool,
    databaseUrl: harness.db.url,
    js: options.js ?? harness.stream.js,
    jsm: harness.stream.jsm,
    streamName: harness.stream.name,
    chainId: harness.stream.chainId,
    subjectPrefix: harness.stream.prefix,
    logger: harness.logger,
    pollMs: 50,
    from: options.from,
  });
  publishers.push(p);
  return p;
}

/** A harness with a synthetic game in its stream, projected to its end: what most cases start from. */
async function projectedGame(seed: number, players: number, count: number) {
  h = await createHarness();
  const harness = h;
  const game = new SyntheticGame({ seed, players, capacity: 20, secondsPerTx: 60 });
  const events = game.take(count);
  const seqs = await harness.publish(events);
  const runner = harness.runner();
  await runner.start();
  await runner.waitFor(seqs.at(-1)!, 60_000);
  return { harness, events, seqs, scans: [...expectedSurvivors(events, seqs).keys()] };
}

/** A history, then 300 events on a branch the chain will drop (`canonical` is the other branch), projected. */
async function forkedGame() {
  h = await createHarness();
  const harness = h;
  const game = new SyntheticGame({ seed: 3, players: 80, capacity: 20, secondsPerTx: 60 });
  const base = game.take(600);
  const baseSeqs = await harness.publish(base);
  const canonical = game.fork('canonical', 99);
  const orphaned = game.take(300);
  const orphanedSeqs = await harness.publish(orphaned);
  const runner = harness.runner();
  await runner.start();
  const notice = () =>
    harness.publish([reorgNotice(harness.stream.chainId, orphanedSeqs, base.at(-1)!.block.number)]);
  const scans = [...expectedSurvivors([...base, ...orphaned], [...baseSeqs, ...orphanedSeqs]).keys()];
  return { harness, base, baseSeqs, canonical, orphaned, orphanedSeqs, runner, notice, scans };
}

async function until(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('derived.ScanSurvivors', () => {
  it('names every survivor of every finalized scan with its streak, once, across restarts and a second publisher', async () => {
    h = await createHarness();
    const harness = h;
    // A chain minute per transaction: many scans at every level.
    const game = new SyntheticGame({ seed: 11, players: 120, capacity: 30, secondsPerTx: 60 });
    const first = game.take(1_500);
    const firstSeqs = await harness.publish(first);
    const runner = harness.runner();
    await runner.start();
    await runner.waitFor(firstSeqs[firstSeqs.length - 1]!, 60_000);

    const a = publisher(harness);
    a.start();
    const expectedFirst = expectedSurvivors(first, firstSeqs);
    expect(expectedFirst.size).toBeGreaterThan(10);
    const lastFirst = Math.max(...expectedFirst.keys());
    await until('the first scans published', async () => a.stats().cursor === lastFirst);
    await a.stop();

    // More history while nobody publishes; then two publishers at once, one of which stands by.
    const second = game.take(1_500);
    const secondSeqs = await harness.publish(second);
    const b = publisher(harness);
    const c = publisher(harness);
    b.start();
    c.start();
    await runner.waitFor(secondSeqs[secondSeqs.length - 1]!, 60_000);
    const expected = expectedSurvivors([...first, ...second], [...firstSeqs, ...secondSeqs]);
    const lastScan = Math.max(...expected.keys());
    await until(
      'every scan published',
      async () => (await derivedMessages(harness.stream)).length === expected.size,
    );
    expect([b.stats().active, c.stats().active].sort()).toEqual([false, true]);

    const derived = await derivedMessages(harness.stream);
    expect(derived.map((d) => d.message.source.sequence)).toEqual([...expected.keys()]);
    for (const { message } of derived) {
      const scan = expected.get(message.source.sequence)!;
      expect(message.args.level).toBe(scan.level);
      expect(message.args.survivors, `scan at ${message.source.sequence}`).toEqual(scan.survivors);
      const source = first.concat(second)[[...firstSeqs, ...secondSeqs].indexOf(message.source.sequence)]!;
      expect(source.name).toBe('ScanFinalized');
      expect(message.occurredAt).toBe(source.block.timestamp);
    }
    expect(a.stats().published + b.stats().published + c.stats().published).toBe(expected.size);
    expect(Math.max(b.stats().cursor, c.stats().cursor)).toBe(lastScan);

    // The REST feed page shows them as SURVIVED, at the derived message's sequence.
    await runner.waitFor(derived[derived.length - 1]!.seq, 30_000);
    const page = await readRecentFeed(harness.pool, { limit: 1000, maxEvents: 100_000 });
    const last = derived[derived.length - 1]!;
    expect(page.asOfSequenceId).toBeGreaterThanOrEqual(last.seq);
    const survived = page.events.filter((e) => e.type === 'SURVIVED' && e.sequenceId === last.seq);
    expect(survived.map((e) => e.data)).toEqual(
      last.message.args.survivors.map((s) => ({ ...s, level: last.message.args.level })),
    );
    expect(page.cut).toBeNull();
    // A page is capped in events: whole messages, the newest one cut when it alone is larger, and then the
    // page says so.
    const survivorCount = last.message.args.survivors.length;
    expect(survivorCount).toBeGreaterThan(1);
    const cutPage = await readRecentFeed(harness.pool, {
      limit: 10,
      beforeSequence: last.seq + 1,
      maxEvents: survivorCount - 1,
    });
    expect(cutPage.cut).toEqual({ sequenceId: last.seq, shown: survivorCount - 1, total: survivorCount });
    expect(cutPage.events).toEqual(survived.slice(0, survivorCount - 1));
    for (const maxEvents of [5, 40]) {
      const capped = (await readRecentFeed(harness.pool, { limit: 1000, maxEvents })).events;
      expect(capped.length).toBeLessThanOrEqual(maxEvents);
      expect(capped).toEqual(page.events.slice(0, capped.length));
      const next = page.events[capped.length];
      const cutInside = next !== undefined && next.sequenceId === capped.at(-1)?.sequenceId;
      // Cut inside a message only when that message is the first one and larger than the cap.
      if (cutInside) expect(capped.every((e) => e.sequenceId === next.sequenceId)).toBe(true);
      expect(capped.length > 0 && cutInside).toBe(
        (await readRecentFeed(harness.pool, { limit: 1000, maxEvents })).cut !== null,
      );
      expect(capped.length).toBeGreaterThan(0);
    }
  }, 180_000);

  it('starts after its start sequence when the stream has none yet, and from the stream after that', async () => {
    const { harness, scans } = await projectedGame(5, 80, 1_200);
    expect(scans.length).toBeGreaterThan(6);
    const from = scans[Math.floor(scans.length / 2)]!;

    const p = publisher(harness, { from: { sequence: from, epoch: harness.stream.epoch } });
    expect(await p.publishPending()).toBe(0);
    // publishPending needs the lease it is given in a pass: take it by running one.
    p.start();
    await until('published past fromSequence', async () => p.stats().cursor === scans[scans.length - 1]);
    await p.stop();
    expect((await derivedMessages(harness.stream)).map((d) => d.message.source.sequence)).toEqual(
      scans.filter((s) => s > from),
    );
    // A later start takes the stream's word over its own setting.
    const q = publisher(harness);
    expect(await q.cursor()).toBe(scans[scans.length - 1]);
  }, 120_000);

  it('refuses a start sequence set for another stream (a recreated one) instead of skipping scans', async () => {
    const { harness, scans } = await projectedGame(6, 60, 800);
    expect(scans.length).toBeGreaterThan(2);
    const earlier = '2026-01-01T00:00:00.000000000Z';
    const p = publisher(harness, { from: { sequence: scans[scans.length - 1]!, epoch: earlier } });
    p.start();
    await until('the pass fails', async () => p.stats().lastError !== null);
    expect(p.stats().lastError).toContain(`the stream created at ${earlier}, but this stream was created at`);
    expect(p.stats().published).toBe(0);
    await p.stop();
    expect(await derivedMessages(harness.stream)).toEqual([]);
    // Unset, every scan is derived.
    const q = publisher(harness);
    q.start();
    await until('every scan published', async () => q.stats().cursor === scans[scans.length - 1]);
    expect(q.stats().published).toBe(scans.length);
  }, 120_000);

  it('waits while the live game generation has no survivors index (game code v2 during an upgrade)', async () => {
    const { harness, scans } = await projectedGame(7, 60, 800);
    expect(scans.length).toBeGreaterThan(2);
    await harness.pool.query(sql.unsafe`DROP INDEX game_v1.position_history_survivors`);
    const p = publisher(harness);
    p.start();
    await new Promise((r) => setTimeout(r, 500));
    expect(p.stats()).toMatchObject({ active: true, cursor: 0, published: 0, lastError: null });
    await harness.pool.query(
      sql.unsafe`CREATE INDEX position_history_survivors ON game_v1.position_history (sequence) WHERE kind = 'SURVIVED'`,
    );
    await until(
      'published once the index is there',
      async () => p.stats().cursor === scans[scans.length - 1],
    );
    expect(p.stats().published).toBe(scans.length);
  }, 120_000);

  it('a reorg that orphans a finalized scan takes its published survivors out of the feed page', async () => {
    const { harness, base, baseSeqs, canonical, orphanedSeqs, runner, notice, scans } = await forkedGame();
    const p = publisher(harness);
    p.start();
    const staleScans = scans.filter((seq) => orphanedSeqs.includes(seq));
    expect(staleScans.length).toBeGreaterThan(0);
    await until('the orphaned scans published', async () => p.stats().cursor === staleScans.at(-1));

    await notice();
    const after = canonical.take(300);
    const afterSeqs = await harness.publish(after);
    const expected = expectedSurvivors([...base, ...after], [...baseSeqs, ...afterSeqs]);
    const fresh = [...expected.keys()].filter((seq) => afterSeqs.includes(seq));
    expect(fresh.length).toBeGreaterThan(0);
    await until('the canonical scans published', async () => p.stats().cursor === fresh.at(-1));
    const derived = await derivedMessages(harness.stream);
    await runner.waitFor(derived.at(-1)!.seq, 60_000);

    const page = await readRecentFeed(harness.pool, { limit: 1000, maxEvents: 100_000 });
    const survived = page.events.filter((e) => e.type === 'SURVIVED');
    const sources = new Set(survived.map((e) => e.sourceSequenceId));
    for (const seq of staleScans) expect(sources.has(seq), `orphaned scan ${seq}`).toBe(false);
    for (const seq of fresh) expect(sources.has(seq), `canonical scan ${seq}`).toBe(true);
    // The stale messages are still in the stream (it is append-only); their feed events name the orphan.
    expect(derived.filter((d) => staleScans.includes(d.message.source.sequence))).toHaveLength(
      staleScans.length,
    );
    const last = survived.find((e) => e.sourceSequenceId === fresh.at(-1))!;
    expect(last.data).toEqual(expect.objectContaining({ level: expected.get(fresh.at(-1)!)!.level }));
  }, 120_000);

  it('a reorg that flips back: the finalizes appended again get their survivors at once, not after the duplicate window', async () => {
    const { harness, base, baseSeqs, orphaned, orphanedSeqs, runner, notice, scans } = await forkedGame();
    const p = publisher(harness);
    p.start();
    const stale = scans.filter((seq) => orphanedSeqs.includes(seq));
    expect(stale.length).toBeGreaterThan(0);
    await until('the scans of the branch published', async () => p.stats().cursor === stale.at(-1));
    await notice();
    // The chain went back to that branch: the same events again (the same envelope ids), under the message
    // ids the ingester gives them after a notice.
    const { js } = harness.stream;
    const again: number[] = [];
    for (const m of orphaned) {
      const ack = await js.publish(harness.stream.subjects.of(m), JSON.stringify(m), {
        msgID: `${m.id}~${orphanedSeqs[0]}`,
      });
      again.push(ack.seq);
    }
    const expected = expectedSurvivors([...base, ...orphaned], [...baseSeqs, ...again]);
    const fresh = [...expected.keys()].filter((seq) => again.includes(seq));
    expect(fresh).toHaveLength(stale.length);
    // JetStream's duplicate window is 2 minutes: the old message ids would hold these back that long.
    await until('the scans appended again published', async () => p.stats().cursor === fresh.at(-1), 30_000);
    const derived = await derivedMessages(harness.stream);
    for (const seq of fresh) {
      const message = derived.find((d) => d.message.source.sequence === seq)?.message;
      expect(message?.args.survivors, `scan at ${seq}`).toEqual(expected.get(seq)!.survivors);
    }
    await runner.waitFor(derived.at(-1)!.seq, 60_000);
  }, 120_000);

  it('does not publish the survivors of a finalize a reorg notice in the stream took back', async () => {
    const { harness, baseSeqs, orphanedSeqs, runner, notice, scans } = await forkedGame();
    await runner.waitFor(orphanedSeqs.at(-1)!, 60_000);
    // The projector stops before the notice: game still holds the orphaned finalizes' survivors.
    await runner.stop();
    await notice();
    const kept = scans.filter((seq) => baseSeqs.includes(seq));
    expect(scans.length).toBeGreaterThan(kept.length);
    const p = publisher(harness);
    p.start();
    await until('the canonical scans published', async () => p.stats().cursor === kept.at(-1));
    await new Promise((r) => setTimeout(r, 500));
    expect((await derivedMessages(harness.stream)).map((d) => d.message.source.sequence)).toEqual(kept);
  }, 120_000);

  it('does not publish survivors a reorg notice took back while the pass was publishing', async () => {
    const { harness, baseSeqs, orphanedSeqs, runner, notice, scans } = await forkedGame();
    await runner.waitFor(orphanedSeqs.at(-1)!, 60_000);
    await runner.stop();
    const kept = scans.filter((seq) => baseSeqs.includes(seq));
    const stale = scans.filter((seq) => orphanedSeqs.includes(seq));
    expect(kept.length).toBeGreaterThan(1);
    expect(stale.length).toBeGreaterThan(0);
    // One pass from just before the last canonical scan: it reads that scan and the orphaned ones together,
    // and the notice is appended right after its first publish.
    const js = harness.stream.js;
    let noticed = false;
    const publishThenNotice = withOverrides(js, {
      publish: async (...args: Parameters<JetStreamClient['publish']>) => {
        const ack = await js.publish(...args);
        if (!noticed) {
          noticed = true;
          await notice();
        }
        return ack;
      },
    });
    const p = publisher(harness, {
      js: publishThenNotice,
      from: { sequence: kept.at(-2)!, epoch: harness.stream.epoch },
    });
    p.start();
    await until('the notice appended', async () => noticed);
    await new Promise((r) => setTimeout(r, 500));
    expect((await derivedMessages(harness.stream)).map((d) => d.message.source.sequence)).toEqual([
      kept.at(-1),
    ]);
  }, 120_000);

  it('refuses a publisher that lost its lease without noticing, once the stream no longer knows its message ids', async () => {
    const { harness, scans } = await projectedGame(13, 60, 800);
    expect(scans.length).toBeGreaterThan(2);
    // A short duplicate window, so that a publisher frozen for a second is past it: only the fence remains.
    const info = await harness.stream.jsm.streams.info(harness.stream.name);
    await harness.stream.jsm.streams.update(harness.stream.name, {
      ...info.config,
      duplicate_window: nanos(500),
    });

    // A publisher whose first publish freezes (a GC pause, a stopped container) after it read its cursor.
    let frozen!: () => void;
    const reached = new Promise<void>((resolve) => {
      frozen = resolve;
    });
    let thaw!: () => void;
    const thawed = new Promise<void>((resolve) => {
      thaw = resolve;
    });
    const js = harness.stream.js;
    const gated = withOverrides(js, {
      publish: async (...args: Parameters<JetStreamClient['publish']>) => {
        frozen();
        await thawed;
        return js.publish(...args);
      },
    });
    const stale = publisher(harness, { js: gated });
    stale.start();
    try {
      await reached;

      // Meanwhile its lease session is cut, and a standby takes the lease and publishes every scan.
      await harness.pool.query(sql.unsafe`
      SELECT pg_terminate_backend(l.pid) FROM pg_locks l WHERE ${leaseLockRow(SURVIVORS_LEASE)}`);
      const standby = publisher(harness);
      standby.start();
      await until('the standby published every scan', async () => standby.stats().cursor === scans.at(-1));
      await new Promise((r) => setTimeout(r, 1_500));
    } finally {
      // Also when the test fails above: stopping the publisher waits for its frozen pass.
      thaw();
    }
    await until(
      'the stale publish answered',
      async () => stale.stats().lastError !== null || stale.stats().published > 0,
    );
    expect(stale.stats().lastError).toMatch(/wrong last sequence/i);
    expect(stale.stats().published).toBe(0);
    expect((await derivedMessages(harness.stream)).map((d) => d.message.source.sequence)).toEqual(scans);
  }, 120_000);
});
