import { sql } from '@ghostnet/db';
import { AppEnvelope, CHAIN_EVENT_NAMES, DerivedEnvelope, toFeedEvents } from '@ghostnet/events';
import type { ProjectedMessage, Projection } from '../runtime/types.ts';
import { playersOf } from './common.ts';

const APP_EVENT_NAMES = AppEnvelope.options.map((o) => o.shape.name.value);
const DERIVED_EVENT_NAMES = DerivedEnvelope.options.map((o) => o.shape.name.value);

function levelOf(message: ProjectedMessage['message']): string | null {
  if (message.kind === 'derived') return message.args.level;
  if (message.kind !== 'chain') return null;
  const args = message.args as { level?: string; sourceLevel?: string };
  return args.level ?? args.sourceLevel ?? null;
}

/** `feed`: every chain, app and derived event, as appended, for history pages and the recent feed. */
export const feedProjection: Projection = {
  name: 'feed',
  codeVersion: 2,
  ddl: 'projection_ddl_feed_v2',
  appendOnly: { events: 'sequence' },
  accepts: new Set<string>([...CHAIN_EVENT_NAMES, ...APP_EVENT_NAMES, ...DERIVED_EVENT_NAMES]),
  async apply(tx, messages) {
    const rows = messages.map(({ sequence, message }) => {
      const players = playersOf(message);
      const chain = message.kind === 'chain' ? message : null;
      return [
        sequence,
        message.kind,
        message.name,
        message.id,
        chain ? chain.block.number : null,
        chain ? chain.block.hash : null,
        chain ? chain.tx.hash : null,
        chain ? chain.logIndex : null,
        players.length === 1 ? players[0]! : null,
        levelOf(message),
        message.kind === 'chain' ? message.block.timestamp : message.occurredAt,
        toFeedEvents(message).length > 0,
        JSON.stringify(message),
      ];
    });
    await tx.query(sql.unsafe`
      INSERT INTO events (sequence, kind, name, event_id, block_number, block_hash, tx_hash, log_index, address,
                          level, occurred_at, in_feed, payload)
      SELECT s, k, n, i, bn, bh, th, li, a, l, ms_to_ts(t), f, p::jsonb
      FROM ${sql.unnest(rows, ['int8', 'text', 'text', 'text', 'int8', 'text', 'text', 'int4', 'text', 'text', 'int8', 'bool', 'text'])}
        AS x(s, k, n, i, bn, bh, th, li, a, l, t, f, p)`);
  },
};
