import {
  DEFAULT_FEED_OPTIONS,
  type FeedOptions,
  feedSource,
  type StreamMessage,
  toFeedEvents,
} from '@ghostnet/events';

/**
 * The frames one stream message yields on the feed, serialized once: every socket of every instance receives
 * these exact strings (live through a uWS topic, or inside a REPLAY). See the cursor rules in
 * @ghostnet/client's protocol.
 */
export function framesOf(
  sequenceId: number,
  message: StreamMessage,
  options: FeedOptions = DEFAULT_FEED_OPTIONS,
): string[] {
  if (message.kind === 'reorg') {
    return [JSON.stringify({ type: 'REORG', sequenceId, orphanedSequenceIds: message.orphanedSequences })];
  }
  const events = toFeedEvents(message, options);
  const count = events.length;
  const source = feedSource(message);
  return events.map((event, index) =>
    JSON.stringify({ type: 'FEED_EVENT', sequenceId, index, count, event, ...source }),
  );
}

/** REPLAY around frames that are already JSON: concatenated, never parsed and re-serialized. */
export function replayFrame(
  fromSequenceId: number,
  toSequenceId: number,
  epoch: string,
  frames: readonly string[],
): string {
  return `{"type":"REPLAY","fromSequenceId":${fromSequenceId},"toSequenceId":${toSequenceId},"epoch":${JSON.stringify(epoch)},"events":[${frames.join(',')}]}`;
}

/**
 * Whose position a message may change: the users it names, or `all` for level-wide changes (a finalized scan
 * adds a ghost streak to every survivor; a system reset applies its penalty to everybody).
 */
export function affectedUsers(message: StreamMessage): readonly string[] | 'all' {
  if (message.kind !== 'chain') return [];
  switch (message.name) {
    case 'JackedIn':
    case 'StakeAdded':
    case 'Extracted':
    case 'BoostApplied':
      return [message.args.user];
    case 'PositionCulled':
      return [message.args.victim, message.args.newEntrant];
    case 'DeathsSubmitted':
      return message.enrichment.victims.map((v) => v.address);
    case 'ScanFinalized':
    case 'SystemResetTriggered':
      return 'all';
    default:
      return [];
  }
}
