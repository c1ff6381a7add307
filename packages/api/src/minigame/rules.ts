import { z } from 'zod';

/**
 * Typing mini-game rules (facts file, "Typing mini-game rules"), as pure functions so that every threshold
 * is tested on its own. Reasons are stable codes a client can show.
 */
export const RejectReason = z.enum([
  'CHALLENGE_UNKNOWN',
  'CHALLENGE_NOT_YOURS',
  'CHALLENGE_EXPIRED',
  'CHALLENGE_REPLAYED',
  'COMMAND_MISMATCH',
  'STALE_TIMESTAMP',
  'RESULT_REPLAYED',
  'ACCURACY_OUT_OF_RANGE',
  'WPM_OUT_OF_RANGE',
  'DURATION_IMPLAUSIBLE',
  'KEYSTROKES_TOO_FAST',
  'KEYSTROKES_INCONSISTENT',
  'TOO_MANY_GAMES',
  'NO_POSITION',
  'SCAN_PENDING',
  'BOOST_CAP_REACHED',
  'NO_REWARD',
]);
export type RejectReason = z.infer<typeof RejectReason>;

/** Accepted, but too good for most humans: recorded with the result for review, never shown to the player. */
export const SuspicionFlag = z.enum(['WPM_OVER_150', 'KEYSTROKES_UNDER_50MS']);
export type SuspicionFlag = z.infer<typeof SuspicionFlag>;

export const LIMITS = {
  resultMaxAgeMs: 5 * 60_000,
  clockSkewMs: 30_000,
  minWpm: 10,
  maxWpm: 200,
  durationToleranceMs: 5_000,
  /** The share of the time the claimed WPM needs that must have passed since the challenge was issued. */
  netWpmSlack: 0.75,
  gamesPerHour: 10,
  /** Challenges a player may hold unanswered at once. */
  openChallenges: 20,
  /** Average inter-key interval under this is not a human (facts file: < 20 ms rejected). */
  minKeyIntervalMs: 20,
  /** Facts file: over 150 WPM is suspicious. */
  suspiciousWpm: 150,
  /** Facts file: an average inter-key interval under 50 ms is suspicious. */
  suspiciousKeyIntervalMs: 50,
  /** Total death reduction from all sources. */
  maxDeathReductionBps: 3_500,
} as const;

export interface TypingResult {
  accuracy: number;
  wpm: number;
  command: string;
  /** Unix ms when the game ended, by the client's clock. */
  timestamp: number;
  /** ms spent typing. */
  duration: number;
  /** Optional inter-key intervals (ms), one per keystroke after the first. */
  keystrokes?: number[];
}

/** ms a typist at `wpm` needs for `command` (a "word" is 5 characters). */
export function expectedDurationMs(command: string, wpm: number): number {
  return (command.length / 5 / wpm) * 60_000;
}

/** The checks that need nothing but the result itself, its challenge's issue time and the clock. */
export function checkResult(
  result: TypingResult,
  challenge: { command: string; issuedAt: number },
  now: number,
): RejectReason | null {
  if (result.command !== challenge.command) return 'COMMAND_MISMATCH';
  if (
    now - result.timestamp > LIMITS.resultMaxAgeMs ||
    result.timestamp > now + LIMITS.clockSkewMs ||
    result.timestamp < challenge.issuedAt - LIMITS.clockSkewMs
  ) {
    return 'STALE_TIMESTAMP';
  }
  if (!(result.accuracy >= 0 && result.accuracy <= 1)) return 'ACCURACY_OUT_OF_RANGE';
  if (!(result.wpm >= LIMITS.minWpm && result.wpm <= LIMITS.maxWpm)) return 'WPM_OUT_OF_RANGE';
  const expected = expectedDurationMs(result.command, result.wpm);
  if (Math.abs(result.duration - expected) > LIMITS.durationToleranceMs) return 'DURATION_IMPLAUSIBLE';
  // Nobody types for longer than the challenge has existed (both times are the server's: no skew), nor
  // much faster than the claimed speed allows: the ±5 s above covers every command at a high WPM, so without
  // this an answer sent the moment the challenge was issued, claiming a duration of 0, would pass. A quarter
  // of slack for clients that report WPM net of errors (slower than the keys were typed).
  const elapsed = now - challenge.issuedAt + 1_000;
  if (result.duration > elapsed || expected * LIMITS.netWpmSlack > elapsed) return 'DURATION_IMPLAUSIBLE';
  if (result.keystrokes) return checkKeystrokes(result);
  return null;
}

/**
 * Keystroke timings must be human and agree with the reported figures: the average interval not under 20 ms;
 * at least one keystroke per character; their sum the duration (±5 s); accuracy ≈ characters / keystrokes
 * (every extra keystroke is a correction).
 */
export function checkKeystrokes(result: TypingResult): RejectReason | null {
  const intervals = result.keystrokes ?? [];
  const keys = intervals.length + 1;
  const total = intervals.reduce((sum, ms) => sum + ms, 0);
  if (intervals.length > 0 && total / intervals.length < LIMITS.minKeyIntervalMs)
    return 'KEYSTROKES_TOO_FAST';
  if (keys < result.command.length) return 'KEYSTROKES_INCONSISTENT';
  if (Math.abs(total - result.duration) > LIMITS.durationToleranceMs) return 'KEYSTROKES_INCONSISTENT';
  if (Math.abs(result.accuracy - result.command.length / keys) > 0.1) return 'KEYSTROKES_INCONSISTENT';
  return null;
}

/** The flags of a result that passed the checks (facts file: over 150 WPM; keystrokes under 50 ms on average). */
export function suspicionsOf(result: TypingResult): SuspicionFlag[] {
  const flags: SuspicionFlag[] = [];
  if (result.wpm > LIMITS.suspiciousWpm) flags.push('WPM_OVER_150');
  const intervals = result.keystrokes ?? [];
  const average = intervals.reduce((sum, ms) => sum + ms, 0) / intervals.length;
  if (intervals.length > 0 && average < LIMITS.suspiciousKeyIntervalMs) flags.push('KEYSTROKES_UNDER_50MS');
  return flags;
}

/** Facts file: tiers by accuracy, a speed bonus from accuracy ≥ 0.95. 0 = no reward. */
export function rewardBps(accuracy: number, wpm: number): number {
  const tier =
    accuracy >= 1
      ? 2500
      : accuracy >= 0.95
        ? 2000
        : accuracy >= 0.85
          ? 1500
          : accuracy >= 0.7
            ? 1000
            : accuracy >= 0.5
              ? 500
              : 0;
  const bonus = accuracy >= 0.95 ? (wpm >= 100 ? 1000 : wpm >= 80 ? 500 : 0) : 0;
  return tier + bonus;
}

/** What may still be granted under the 3500 bps cap, given the death reduction already active or promised. */
export function cappedBps(reward: number, committedReductionBps: number): number {
  return Math.max(0, Math.min(reward, LIMITS.maxDeathReductionBps - committedReductionBps));
}

/** A death reduction: an active boost on chain, or a signature handed out here. Expiry in Unix seconds. */
export interface Reduction {
  valueBps: number;
  expiry: number;
}

/**
 * The death reduction a player has or can still give themselves: the boosts active on chain plus every
 * signature handed out that has not expired and is not among them. GhostCore does not cap applyBoost, so
 * signatures held back and applied together (say, once a scan's seed shows the player would die) would
 * otherwise pass the 3500 bps cap. An applied signature is the active boost with its value and expiry (each
 * boost matches one signature); while the chain read lags an application, the signature is counted instead,
 * never both.
 */
export function committedReductionBps(active: Reduction[], signed: Reduction[], nowSeconds: number): number {
  const unmatched = new Map<string, number>();
  for (const s of signed) {
    if (s.expiry <= nowSeconds) continue;
    const key = `${s.valueBps}:${s.expiry}`;
    unmatched.set(key, (unmatched.get(key) ?? 0) + 1);
  }
  let total = 0;
  for (const a of active) {
    total += a.valueBps;
    const key = `${a.valueBps}:${a.expiry}`;
    const n = unmatched.get(key) ?? 0;
    if (n > 0) unmatched.set(key, n - 1);
  }
  for (const [key, n] of unmatched) total += Number(key.split(':')[0]) * n;
  return total;
}

/**
 * Unix seconds the boost lasts until: past the player's next scan's submission window (deaths are checked at
 * submission, up to 120 s after execution), with a margin for the keeper's delay.
 */
export function boostExpiry(nextScanTimeSeconds: number, nowSeconds: number, marginSeconds = 600): number {
  return Math.max(nextScanTimeSeconds, nowSeconds) + 120 + marginSeconds;
}
