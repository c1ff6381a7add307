import { describe, expect, it } from 'vitest';
import {
  boostExpiry,
  cappedBps,
  checkResult,
  committedReductionBps,
  expectedDurationMs,
  rewardBps,
  suspicionsOf,
  type TypingResult,
} from './rules.ts';

const command = 'ssh -L 8080:localhost:80 ghost@10.0.0.77'; // 40 characters = 8 words
const now = 1_800_000_000_000;
const challenge = { command, issuedAt: now - 60_000 };
const good: TypingResult = { accuracy: 0.96, wpm: 60, command, timestamp: now - 1000, duration: 8_000 };

describe('typing result checks', () => {
  it('accepts a plausible human result', () => {
    expect(expectedDurationMs(command, 60)).toBe(8_000);
    expect(checkResult(good, challenge, now)).toBeNull();
  });

  it('names each cheat', () => {
    const cases: [Partial<TypingResult>, string][] = [
      [{ command: 'ls' }, 'COMMAND_MISMATCH'],
      [{ timestamp: now - 6 * 60_000 }, 'STALE_TIMESTAMP'],
      [{ timestamp: now + 5 * 60_000 }, 'STALE_TIMESTAMP'],
      [{ timestamp: challenge.issuedAt - 60_000 }, 'STALE_TIMESTAMP'],
      [{ accuracy: 1.01 }, 'ACCURACY_OUT_OF_RANGE'],
      [{ accuracy: -0.1 }, 'ACCURACY_OUT_OF_RANGE'],
      [{ wpm: 5, duration: 96_000 }, 'WPM_OUT_OF_RANGE'],
      [{ wpm: 250, duration: 1_920 }, 'WPM_OUT_OF_RANGE'],
      [{ duration: 20_000 }, 'DURATION_IMPLAUSIBLE'],
      [{ duration: 500 }, 'DURATION_IMPLAUSIBLE'],
      [{ keystrokes: Array(39).fill(10) }, 'KEYSTROKES_TOO_FAST'],
      [{ keystrokes: Array(20).fill(400) }, 'KEYSTROKES_INCONSISTENT'],
      [{ keystrokes: Array(39).fill(60) }, 'KEYSTROKES_INCONSISTENT'],
      [{ accuracy: 0.6, keystrokes: Array(39).fill(205) }, 'KEYSTROKES_INCONSISTENT'],
    ];
    for (const [change, reason] of cases) {
      expect(checkResult({ ...good, ...change }, challenge, now), JSON.stringify(change)).toBe(reason);
    }
    // Consistent timings pass: 40 keys for 40 characters at ~205 ms over 8 s, accuracy 1.
    expect(checkResult({ ...good, accuracy: 1, keystrokes: Array(39).fill(205) }, challenge, now)).toBeNull();
    // A challenge issued 3 s ago cannot have been typed for 8 s.
    expect(checkResult(good, { command, issuedAt: now - 3_000 }, now + 1000)).toBe('DURATION_IMPLAUSIBLE');
    // Nor at 149 WPM (3.2 s for 40 characters) 50 ms after it was issued, whatever duration is claimed.
    const instant = { ...good, wpm: 149, duration: 0 };
    expect(checkResult(instant, { command, issuedAt: now - 50 }, now)).toBe('DURATION_IMPLAUSIBLE');
    expect(checkResult(instant, { command, issuedAt: now - 3_000 }, now)).toBeNull();
    // A client that reports WPM net of errors claims less speed than its keys showed: 80 WPM (6 s for 40
    // characters) answered 4 s after the challenge is still a human.
    const net = { ...good, wpm: 80, duration: 4_000 };
    expect(checkResult(net, { command, issuedAt: now - 4_000 }, now)).toBeNull();
  });

  it('flags results that pass but look too good: over 150 WPM, keystrokes under 50 ms on average', () => {
    expect(suspicionsOf(good)).toEqual([]);
    expect(suspicionsOf({ ...good, wpm: 150 })).toEqual([]);
    // 160 WPM: 40 characters in 3 s, 39 intervals of ~77 ms.
    const fast = { ...good, accuracy: 1, wpm: 160, duration: 3_000, keystrokes: Array(39).fill(77) };
    expect(checkResult(fast, challenge, now)).toBeNull();
    expect(suspicionsOf(fast)).toEqual(['WPM_OVER_150']);
    // Bursty timings: a 40 ms average passes the 20 ms rule, but is flagged.
    const bursty = { ...fast, wpm: 140, keystrokes: Array(39).fill(40) };
    expect(suspicionsOf(bursty)).toEqual(['KEYSTROKES_UNDER_50MS']);
    expect(suspicionsOf({ ...bursty, wpm: 190 })).toEqual(['WPM_OVER_150', 'KEYSTROKES_UNDER_50MS']);
    expect(suspicionsOf({ ...good, keystrokes: [] })).toEqual([]);
  });
});

describe('rewards', () => {
  it('follows the tiers and the speed bonus of the facts file', () => {
    const table: [number, number, number][] = [
      [1, 60, 2500],
      [1, 100, 3500],
      [0.95, 80, 2500],
      [0.95, 79, 2000],
      [0.94, 120, 1500],
      [0.85, 60, 1500],
      [0.7, 60, 1000],
      [0.5, 60, 500],
      [0.49, 150, 0],
    ];
    for (const [accuracy, wpm, bps] of table)
      expect(rewardBps(accuracy, wpm), `${accuracy} ${wpm}`).toBe(bps);
  });

  it('caps the total death reduction at 3500 bps and expires after the next scan window', () => {
    expect(cappedBps(2500, 0)).toBe(2500);
    expect(cappedBps(2500, 2000)).toBe(1500);
    expect(cappedBps(1000, 3500)).toBe(0);
    expect(boostExpiry(1_000_000, 999_000)).toBe(1_000_720);
  });

  it('counts signatures not applied yet toward the cap, and an applied one once', () => {
    const t = 1_000;
    // Nothing on chain; two signatures handed out and held back: both count.
    expect(
      committedReductionBps(
        [],
        [
          { valueBps: 2500, expiry: t + 60 },
          { valueBps: 1000, expiry: t + 60 },
        ],
        t,
      ),
    ).toBe(3500);
    // One of them applied: the active boost is that signature, counted once.
    expect(
      committedReductionBps(
        [{ valueBps: 2500, expiry: t + 60 }],
        [
          { valueBps: 2500, expiry: t + 60 },
          { valueBps: 1000, expiry: t + 60 },
        ],
        t,
      ),
    ).toBe(3500);
    // Two signatures of the same value and expiry, one applied: the other still counts.
    expect(
      committedReductionBps(
        [{ valueBps: 1500, expiry: t + 60 }],
        Array(2).fill({ valueBps: 1500, expiry: t + 60 }),
        t,
      ),
    ).toBe(3000);
    // An expired signature can no longer be applied; a boost active on chain counts whatever signed it.
    expect(
      committedReductionBps([{ valueBps: 500, expiry: t + 5 }], [{ valueBps: 2500, expiry: t }], t),
    ).toBe(500);
    expect(cappedBps(2500, committedReductionBps([], [{ valueBps: 3500, expiry: t + 1 }], t))).toBe(0);
    expect(boostExpiry(500, 1_000)).toBe(1_720);
  });
});
