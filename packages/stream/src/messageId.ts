import type { JetStreamManager, JsMsg } from '@nats-io/jetstream';

/** A message's Nats-Msg-Id (every writer sets it: the envelope id, with a suffix for re-appended events), null without one. */
export function messageIdOf(m: Pick<JsMsg, 'headers'>): string | null {
  return m.headers?.get('Nats-Msg-Id') || null;
}

/**
 * Whether the stream holds, at `sequence`, the message with this Nats-Msg-Id. A stream whose creation time
 * changed but which still holds a consumer's last message is the same stream reported differently (NATS
 * replicas that disagree on `created`), not a recreated one.
 */
export async function holdsMessage(
  jsm: JetStreamManager,
  streamName: string,
  sequence: number,
  messageId: string | null,
): Promise<boolean> {
  if (sequence === 0 || messageId === null) return false;
  const stored = await jsm.direct.getMessage(streamName, { seq: sequence }).catch(() => null);
  return stored?.header?.get('Nats-Msg-Id') === messageId;
}
