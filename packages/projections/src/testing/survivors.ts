import { type ChainEnvelope, DerivedEnvelope, parseStreamMessage } from '@ghostnet/events';
import type { TestStream } from '@ghostnet/test';
import { DeliverPolicy } from '@nats-io/jetstream';

export interface ExpectedScan {
  level: string;
  survivors: { address: string; streak: number }[];
}

/**
 * The survivors oracle, independent of the projections: who is alive at each level when each scan is
 * finalized, and their streaks, folded from the chain events alone (GhostCore's rules: a streak starts at 0
 * and gains 1 per scan survived; an extraction, a trace or a cull ends the position). Keyed by the
 * ScanFinalized's sequence; scans nobody survived are left out, as the publisher leaves them out.
 */
export function expectedSurvivors(
  events: readonly ChainEnvelope[],
  sequences: readonly number[],
): Map<number, ExpectedScan> {
  const alive = new Map<string, { level: string; streak: number }>();
  const scans = new Map<number, ExpectedScan>();
  events.forEach((e, i) => {
    switch (e.name) {
      case 'JackedIn':
        alive.set(e.args.user, { level: e.args.level, streak: 0 });
        break;
      case 'Extracted':
        alive.delete(e.args.user);
        break;
      case 'PositionCulled':
        alive.delete(e.args.victim);
        break;
      case 'DeathsSubmitted':
        for (const v of e.enrichment.victims) alive.delete(v.address);
        break;
      case 'ScanFinalized': {
        const survivors = [...alive]
          .filter(([, p]) => p.level === e.args.level)
          .map(([address, p]) => ({ address, streak: ++p.streak }))
          .sort((a, b) => (a.address < b.address ? -1 : 1));
        if (survivors.length) scans.set(sequences[i]!, { level: e.args.level, survivors });
        break;
      }
    }
  });
  return scans;
}

/** Every derived message in a stream, in stream order. */
export async function derivedMessages(
  stream: TestStream,
): Promise<{ seq: number; message: DerivedEnvelope }[]> {
  const consumer = await stream.js.consumers.get(stream.name, {
    filter_subjects: `${stream.prefix}.${stream.chainId}.derived.>`,
    deliver_policy: DeliverPolicy.All,
  });
  const out: { seq: number; message: DerivedEnvelope }[] = [];
  if ((await consumer.info()).num_pending === 0) return out;
  for await (const m of await consumer.consume()) {
    out.push({ seq: m.seq, message: DerivedEnvelope.parse(parseStreamMessage(m.data)) });
    if (m.info.pending === 0) break;
  }
  return out;
}
