import { createHash, randomUUID } from 'node:crypto';
import { ChainEnvelope, type LevelName, type Subjects } from '@ghostnet/events';
import type { JetStreamClient } from '@nats-io/jetstream';

/** Test-only: chain envelopes built directly (what the ingester would publish), with increasing blocks. */
const hash = (seed: string) => `0x${createHash('sha256').update(seed).digest('hex')}`;

/**
 * A start time up to `backMs` ago but never before today's UTC midnight: the daily leaderboard covers
 * the current UTC day, so a run just after midnight must not date its events yesterday.
 */
export function recentToday(backMs: number, now = Date.now()): number {
  return Math.max(now - backMs, now - (now % 86_400_000));
}

export function envelopeFactory(chainId: number, startMs = recentToday(3_600_000)) {
  let block = 0;
  // Ids must differ between factories: two with the same start (recentToday is today's midnight for the first
  // minutes of a UTC day) would make the same ids, and JetStream would drop the second's as duplicates.
  const salt = randomUUID();
  const base = (at: number) => {
    block++;
    const blockHash = hash(`${chainId}-${block}-${startMs}-${salt}`);
    return {
      v: 1 as const,
      kind: 'chain' as const,
      id: `${chainId}:${blockHash}:0`,
      chainId,
      block: { number: block, hash: blockHash, timestamp: at },
      tx: { hash: hash(`tx-${block}-${startMs}-${salt}`), index: 0, from: `0x${'01'.repeat(20)}` },
      logIndex: 0,
      address: `0x${'c0'.repeat(20)}`,
      observedAt: at,
      contract: 'GhostCore' as const,
    };
  };
  let clock = startMs;
  const tick = () => (clock += 1000);
  return {
    jackedIn: (user: string, amount: bigint, level: LevelName = 'VAULT', at = tick()) =>
      ChainEnvelope.parse({
        ...base(at),
        name: 'JackedIn',
        args: { user, amount: String(amount), level, newTotal: String(amount) },
      }),
    extracted: (user: string, amount: bigint, rewards: bigint, at = tick()) =>
      ChainEnvelope.parse({
        ...base(at),
        name: 'Extracted',
        args: { user, amount: String(amount), rewards: String(rewards) },
      }),
    emissionsAdded: (level: LevelName, amount: bigint, at = tick()) =>
      ChainEnvelope.parse({ ...base(at), name: 'EmissionsAdded', args: { level, amount: String(amount) } }),
    boostApplied: (user: string, valueBps: number, expiry: number, at = tick()) =>
      ChainEnvelope.parse({
        ...base(at),
        name: 'BoostApplied',
        args: { user, boostType: 'DEATH_REDUCTION', valueBps, expiry },
      }),
  };
}

/** Publishes in order with many acks in flight; returns the last stream sequence. */
export async function publishAll(
  js: JetStreamClient,
  subjects: Subjects,
  envelopes: ChainEnvelope[],
  inFlight = 500,
): Promise<number> {
  let last = 0;
  for (let i = 0; i < envelopes.length; i += inFlight) {
    const acks = await Promise.all(
      envelopes
        .slice(i, i + inFlight)
        .map((e) => js.publish(subjects.of(e), JSON.stringify(e), { msgID: e.id })),
    );
    last = Math.max(last, ...acks.map((a) => a.seq));
  }
  return last;
}
