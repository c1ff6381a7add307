import type { StreamMessage } from '../envelope/index.ts';
import type { FeedEvent } from './shapes.ts';

export interface FeedOptions {
  /** A JACK_IN at or above this amount (wei) also raises a WHALE_ALERT. */
  whaleThreshold: bigint;
}

export const DEFAULT_FEED_OPTIONS: FeedOptions = { whaleThreshold: 1000n * 10n ** 18n };

/** SystemResetTriggered applies this penalty to every position (facts file: 25% of TVL). */
const RESET_PENALTY_PERCENT = 25;

/**
 * What a message's feed events carry besides the message's own sequence: for a derived message, the sequence
 * of the message it comes from (a REORG orphaning that one orphans these events too).
 */
export function feedSource(message: StreamMessage): { sourceSequenceId?: number } {
  return message.kind === 'derived' ? { sourceSequenceId: message.source.sequence } : {};
}

/**
 * The frontend's feed events for one stream message. Pure and deterministic: every gateway instance and the
 * API's feed page derive the same ids from the same message. Messages with nothing to show yield [].
 */
export function toFeedEvents(
  message: StreamMessage,
  options: FeedOptions = DEFAULT_FEED_OPTIONS,
): FeedEvent[] {
  if (message.kind === 'reorg') return [];
  if (message.kind === 'derived') {
    // One SURVIVED per survivor: the frontend shows its own and filters the rest as it likes.
    const { level, survivors } = message.args;
    return survivors.map(({ address, streak }) => ({
      id: `${message.id}#${address}`,
      type: 'SURVIVED' as const,
      timestamp: message.occurredAt,
      data: { address, level, streak },
    }));
  }
  if (message.kind === 'app') {
    const timestamp = message.occurredAt;
    const { id } = message;
    if (message.name === 'CrewEvent') {
      const { crewName, eventType, message: text } = message.args;
      return [{ id, type: 'CREW_EVENT', timestamp, data: { crewName, eventType, message: text } }];
    }
    const { address, game, result } = message.args;
    return [{ id, type: 'MINIGAME_RESULT', timestamp, data: { address, game, result } }];
  }

  const timestamp = message.block.timestamp;
  const { id } = message;
  switch (message.name) {
    case 'JackedIn': {
      const { user, level, amount } = message.args;
      const events: FeedEvent[] = [
        { id, type: 'JACK_IN', timestamp, data: { address: user, level, amount } },
      ];
      if (BigInt(amount) >= options.whaleThreshold) {
        events.push({
          id: `${id}#whale`,
          type: 'WHALE_ALERT',
          timestamp,
          data: { address: user, level, amount },
        });
      }
      return events;
    }
    case 'Extracted':
      return [
        {
          id,
          type: 'EXTRACT',
          timestamp,
          data: { address: message.args.user, amount: message.args.amount, gain: message.args.rewards },
        },
      ];
    case 'DeathsSubmitted':
      return message.enrichment.victims.map((victim) => ({
        id: `${id}#${victim.address}`,
        type: 'TRACED' as const,
        timestamp,
        data: { address: victim.address, level: message.args.level, amountLost: victim.amountLost },
      }));
    case 'ScanExecuted':
      return [{ id, type: 'TRACE_SCAN_START', timestamp, data: { level: message.args.level } }];
    case 'ScanFinalized':
      return [
        {
          id,
          type: 'TRACE_SCAN_COMPLETE',
          timestamp,
          data: {
            level: message.args.level,
            survivors: toCount(message.enrichment.survivors),
            traced: toCount(message.args.deathCount),
          },
        },
      ];
    case 'CascadeDistributed': {
      const { sourceLevel, sameLevelAmount, upstreamAmount, burnAmount } = message.args;
      const distributed = (BigInt(sameLevelAmount) + BigInt(upstreamAmount)).toString();
      return [{ id, type: 'CASCADE', timestamp, data: { sourceLevel, burned: burnAmount, distributed } }];
    }
    case 'SystemResetTriggered': {
      // The log's own winner is always the zero address; the ingester found the real one (enrichment).
      const winner = message.enrichment?.jackpotWinner ?? null;
      const level = message.enrichment?.jackpotWinnerLevel ?? null;
      const events: FeedEvent[] = [
        {
          id,
          type: 'SYSTEM_RESET',
          timestamp,
          data: {
            penaltyPercent: RESET_PENALTY_PERCENT,
            jackpotWinner: winner ?? message.args.jackpotWinner,
          },
        },
      ];
      if (winner && level) {
        events.push({
          id: `${id}#jackpot`,
          type: 'JACKPOT',
          timestamp,
          data: { address: winner, level, amount: message.args.jackpotAmount },
        });
      }
      return events;
    }
    default:
      return [];
  }
}

/** Counts are uint256 on chain but people-sized in practice; a number never exceeds what JSON carries exactly. */
function toCount(value: string): number {
  const n = BigInt(value);
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}
