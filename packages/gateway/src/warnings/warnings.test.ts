import { createLogger } from '@ghostnet/logger';
import { afterEach, describe, expect, it } from 'vitest';
import { type Deadlines, Warnings } from './warnings.ts';

const logger = createLogger({ name: 'warnings-test', level: 'silent' });
const none: Deadlines = { scans: [], systemReset: null };
const started: Warnings[] = [];
afterEach(() => {
  for (const w of started.splice(0)) w.stop();
});

function warnings(
  readDeadlines: () => Promise<Deadlines>,
  frames: string[] = [],
  now?: () => number,
): Warnings {
  const w = new Warnings({
    readDeadlines,
    publish: (frame) => frames.push(frame),
    scanLeadMs: 1_000,
    resetLeadMs: 1_000,
    refreshMs: 60_000,
    logger,
    now,
  });
  started.push(w);
  return w;
}

const settle = () => new Promise((r) => setTimeout(r, 5));

describe('Warnings', () => {
  it('an older read that answers late does not bring back the deadline a newer read replaced', async () => {
    const now = Date.now();
    const stale = now + 1_000 + 30; // the deadline before a deposit pushed it back
    const fresh = now + 1_000 + 80;
    let answerStale: (d: Deadlines) => void = () => {};
    const reads = [
      new Promise<Deadlines>((resolve) => {
        answerStale = resolve;
      }),
      Promise.resolve({ ...none, systemReset: fresh }),
    ];
    const frames: string[] = [];
    const w = warnings(() => reads.shift()!, frames);
    const older = w.refresh();
    await w.refresh();
    answerStale({ ...none, systemReset: stale });
    await older;
    await new Promise((r) => setTimeout(r, 250));
    expect(frames.map((f) => JSON.parse(f).resetAt)).toEqual([fresh]);
  });

  it('after an event that may move a deadline, reads again at checkpoint notices (at most one per 250 ms) until a read reflects it', async () => {
    let reads = 0;
    let sequence = 5;
    let clock = 1_000_000;
    const w = warnings(
      async () => {
        reads++;
        return { ...none, sequence };
      },
      [],
      () => clock,
    );
    const notice = async () => {
      w.checkpointAdvanced();
      await settle();
    };
    await notice(); // nothing moved: no read
    expect(reads).toBe(0);
    w.moved(10);
    await notice(); // the projector is at 5: still behind
    await notice(); // too soon after the last read: left to a timer
    expect(reads).toBe(1);
    // Still behind and no notice comes: a timer reads again within 250 ms (not at the 1 s fallback).
    await new Promise((r) => setTimeout(r, 400));
    expect(reads).toBeGreaterThanOrEqual(2);
    sequence = 12; // the projector reaches the move: the next read sees it, and reading stops
    await new Promise((r) => setTimeout(r, 400));
    const settled = reads;
    clock += 300;
    await notice();
    await new Promise((r) => setTimeout(r, 1_200));
    expect(reads).toBe(settled);
  });
});
