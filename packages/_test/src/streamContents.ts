import { parseStreamMessage, type StreamMessage } from '@ghostnet/events';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';

export interface Stored {
  seq: number;
  subject: string;
  message: StreamMessage;
}

/** Every message of a stream, in sequence order, parsed (an ordered consumer reads it start to end). */
export async function readStream(
  js: JetStreamClient,
  jsm: JetStreamManager,
  name: string,
): Promise<Stored[]> {
  const info = await jsm.streams.info(name);
  const last = info.state.last_seq;
  const out: Stored[] = [];
  if (last === 0) return out;
  const consumer = await js.consumers.get(name);
  while (out.length === 0 || out[out.length - 1]!.seq < last) {
    const batch = await consumer.fetch({ max_messages: 1000, expires: 2_000 });
    let got = 0;
    for await (const m of batch) {
      got++;
      out.push({ seq: m.seq, subject: m.subject, message: parseStreamMessage(m.data) });
      if (m.seq >= last) break;
    }
    if (got === 0) break;
  }
  return out;
}

/** What a consumer that applies reorg notices ends with: chain events minus every orphaned sequence. */
export function canonicalChainEvents(stored: Stored[]): Stored[] {
  const orphaned = new Set<number>();
  for (const s of stored)
    if (s.message.kind === 'reorg') for (const o of s.message.orphanedSequences) orphaned.add(o);
  return stored.filter((s) => s.message.kind === 'chain' && !orphaned.has(s.seq));
}
