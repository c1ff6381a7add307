import type { JetStreamManager, StoredMsg } from '@nats-io/jetstream';

/**
 * The reorg notices stored after sequence `after`, oldest first: one direct get per notice (`next_by_subj`),
 * cheap because notices are rare. `subject` is the stream's `control.reorg` subject.
 */
export async function* reorgNoticesAfter(
  jsm: JetStreamManager,
  streamName: string,
  subject: string,
  after: number,
): AsyncGenerator<StoredMsg> {
  for (let seq = after + 1; ; ) {
    const m = await jsm.direct.getMessage(streamName, { seq, next_by_subj: subject });
    if (!m) return;
    yield m;
    seq = m.seq + 1;
  }
}
