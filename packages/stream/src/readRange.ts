import { DeliverPolicy, type JetStreamClient } from '@nats-io/jetstream';
import { orderedConsumer } from './orderedConsumer.ts';

export interface RangeMessage {
  seq: number;
  subject: string;
  data: Uint8Array;
}

export interface ReadRangeOptions {
  /** Messages asked for per pull request. */
  batch?: number;
  /** Pull requests in a row that may expire empty while messages remain, before giving up (default 3). */
  maxEmptyPulls?: number;
}

/** A pull request expired empty while the stream still had messages for us: the range is not read. */
export class ReadRangeStalled extends Error {
  override name = 'ReadRangeStalled';
}

/**
 * Reads the stream sequences [from, to] in order, with an unfiltered ordered consumer (on nats-server 2.9 a
 * consumer with a subject filter *and* a start sequence reads ~30× slower; filter by subject in code). Ends
 * early, without waiting, when the stream ends before `to`; throws ReadRangeStalled when pulls keep expiring
 * empty although messages remain (a caller must never take that for the end). The ephemeral consumer is
 * deleted at the end.
 */
export async function* readRange(
  js: JetStreamClient,
  stream: string,
  from: number,
  to: number,
  options: ReadRangeOptions = {},
): AsyncGenerator<RangeMessage> {
  if (to < from) return;
  const batch = options.batch ?? 1000;
  const consumer = await orderedConsumer(js, stream, {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: Math.max(1, from),
  });
  try {
    // Nothing at or after `from`: answer now instead of waiting for a pull request to expire.
    if ((await consumer.info()).num_pending === 0) return;
    let next = Math.max(1, from);
    let emptyPulls = 0;
    while (next <= to) {
      const messages = await consumer.fetch({ max_messages: Math.min(batch, to - next + 1), expires: 1000 });
      let got = 0;
      let atEnd = false;
      for await (const m of messages) {
        got++;
        if (m.seq > to) {
          next = to + 1;
          break;
        }
        yield { seq: m.seq, subject: m.subject, data: m.data };
        next = m.seq + 1;
        // pending = messages after this one: nothing left means the stream ends here.
        if (m.info.pending === 0) {
          atEnd = true;
          break;
        }
      }
      if (atEnd) return;
      if (got === 0) {
        // Empty is the end only if nothing is pending; otherwise returning would pass a gap off as the range.
        if ((await consumer.info()).num_pending === 0) return;
        if (++emptyPulls >= (options.maxEmptyPulls ?? 3))
          throw new ReadRangeStalled(
            `stream ${stream}: no message delivered at sequence ${next} of ${from}..${to}`,
          );
      } else {
        emptyPulls = 0;
      }
    }
  } finally {
    await consumer.delete().catch(() => {});
  }
}
