import { sql } from '@ghostnet/db';
import type { ChainEnvelope } from '@ghostnet/events';
import type { DatabaseTransactionConnection, FragmentSqlToken } from 'slonik';
import type { ProjectedMessage } from '../runtime/types.ts';

export type Chain = Extract<ProjectedMessage['message'], { kind: 'chain' }>;
export type ChainOf<N extends ChainEnvelope['name']> = Extract<Chain, { name: N }>;

/**
 * The system reset takes 25% of every alive position: GhostCore keeps floor(amount × 7500 / 10000) per
 * position (lazily, on its next read or write; here at once, which gives the same numbers).
 */
export const RESET_KEEP_BPS = 7500n;

export function afterReset(amount: bigint): bigint {
  return (amount * RESET_KEEP_BPS) / 10_000n;
}

export function resetPenalty(amount: bigint): bigint {
  return amount - afterReset(amount);
}

/** Every player address a chain event names, for loading their state once per batch. */
export function playersOf(message: ProjectedMessage['message']): string[] {
  if (message.kind === 'app') return 'address' in message.args ? [message.args.address] : [];
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
    default:
      return [];
  }
}

export function touchedPlayers(messages: readonly ProjectedMessage[]): string[] {
  const set = new Set<string>();
  for (const pm of messages) for (const a of playersOf(pm.message)) set.add(a);
  return [...set];
}

export function big(value: string | bigint): bigint {
  return typeof value === 'bigint' ? value : BigInt(value);
}

/**
 * A batch's writes as one statement of data-modifying CTEs: one round trip instead of one per table, which is
 * most of a small live batch's cost. The CTEs share one snapshot, so no write may depend on another's effect,
 * and two writes to one table must touch different rows (game's boost update sees only rows that existed).
 */
export async function writeAll(tx: DatabaseTransactionConnection, writes: FragmentSqlToken[]): Promise<void> {
  const [main, ...rest] = writes;
  if (!main) return;
  const ctes = rest.map((w, i) => sql.fragment`${sql.identifier([`w${i}`])} AS (${w})`);
  await tx.query(
    ctes.length ? sql.unsafe`WITH ${sql.join(ctes, sql.fragment`, `)} ${main}` : sql.unsafe`${main}`,
  );
}
