import { randomUUID } from 'node:crypto';
import { AppEnvelope } from '@ghostnet/events';
import { type DatabaseTransactionConnection, sql } from 'slonik';

type AppEventArgs<N extends AppEnvelope['name']> = Extract<AppEnvelope, { name: N }>['args'];

/**
 * Writes an app event into the outbox inside the caller's transaction: it is published if and only if the
 * change it describes commits. The envelope id (`<chainId>:app:<uuid>`) is fixed here, so every later
 * publish attempt carries the same Nats-Msg-Id and JetStream keeps one copy.
 */
export async function enqueueAppEvent<N extends AppEnvelope['name']>(
  tx: DatabaseTransactionConnection,
  event: { chainId: number; name: N; args: AppEventArgs<N>; occurredAt?: number },
): Promise<AppEnvelope> {
  const now = event.occurredAt ?? Date.now();
  const envelope = AppEnvelope.parse({
    v: 1,
    kind: 'app',
    id: `${event.chainId}:app:${randomUUID()}`,
    chainId: event.chainId,
    occurredAt: now,
    observedAt: now,
    name: event.name,
    args: event.args,
  });
  await tx.query(sql.unsafe`
    INSERT INTO api_outbox (envelope_id, event_name, envelope)
    VALUES (${envelope.id}, ${envelope.name}, ${sql.jsonb(envelope as never)})`);
  return envelope;
}
