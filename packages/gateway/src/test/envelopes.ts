import { createHash } from 'node:crypto';
import {
  type AppEnvelope,
  type ChainEnvelope,
  type DerivedEnvelope,
  derivedId,
  type LevelName,
  type ReorgNotice,
  type StreamMessage,
  type Subjects,
} from '@ghostnet/events';
import type { JetStreamClient } from '@nats-io/jetstream';

/** Envelopes that pass the stream schemas, built directly (the tests need volume and exact control). */
const hex = (seed: string, bytes: number) =>
  `0x${createHash('sha256')
    .update(seed)
    .digest('hex')
    .repeat(2)
    .slice(0, bytes * 2)}`;
export const addressOf = (n: number) => `0x${n.toString(16).padStart(40, '0')}`;

let counter = 0;
function chainBase(chainId: number, blockTimestamp: number) {
  const n = ++counter;
  const blockHash = hex(`block-${n}-${Math.random()}`, 32);
  return {
    v: 1 as const,
    kind: 'chain' as const,
    id: `${chainId}:${blockHash}:0`,
    chainId,
    block: { number: n, hash: blockHash, timestamp: blockTimestamp },
    tx: { hash: hex(`tx-${n}`, 32), index: 0, from: addressOf(1) },
    logIndex: 0,
    address: addressOf(0xc0de),
    observedAt: blockTimestamp,
  };
}

export function jackedIn(
  chainId: number,
  user: string,
  options: { amount?: string; level?: LevelName; timestamp?: number } = {},
): ChainEnvelope {
  const amount = options.amount ?? '50000000000000000000';
  return {
    ...chainBase(chainId, options.timestamp ?? Date.now()),
    contract: 'GhostCore',
    name: 'JackedIn',
    args: { user, amount, level: options.level ?? 'DARKNET', newTotal: amount },
  };
}

export function extracted(chainId: number, user: string, amount: string, rewards = '0'): ChainEnvelope {
  return {
    ...chainBase(chainId, Date.now()),
    contract: 'GhostCore',
    name: 'Extracted',
    args: { user, amount, rewards },
  };
}

/** Yields no feed event. */
export function stakeAdded(chainId: number, user: string): ChainEnvelope {
  return {
    ...chainBase(chainId, Date.now()),
    contract: 'GhostCore',
    name: 'StakeAdded',
    args: { user, amount: '1', newTotal: '2' },
  };
}

/** One TRACED feed event per victim. */
export function deathsSubmitted(chainId: number, victims: string[]): ChainEnvelope {
  return {
    ...chainBase(chainId, Date.now()),
    contract: 'TraceScan',
    name: 'DeathsSubmitted',
    args: {
      level: 'DARKNET',
      scanId: '1',
      count: String(victims.length),
      totalDead: '0',
      submitter: addressOf(2),
    },
    enrichment: { victims: victims.map((address) => ({ address, amountLost: '5' })) },
  };
}

export function crewEvent(chainId: number, n: number, message = `m${n}`): AppEnvelope {
  return {
    v: 1,
    kind: 'app',
    id: `${chainId}:app:crew-${n}-${Math.floor(Math.random() * 1e9)}`,
    chainId,
    name: 'CrewEvent',
    occurredAt: Date.now(),
    observedAt: Date.now(),
    args: { crewId: 'c1', crewName: 'Ghosts', eventType: 'JOINED', address: addressOf(3), message },
  };
}

/** One SURVIVED feed event per survivor (the projector derives these from a finalized scan). */
export function scanSurvivors(chainId: number, sequence: number, survivors: string[]): DerivedEnvelope {
  const source = chainBase(chainId, Date.now());
  return {
    v: 1,
    kind: 'derived',
    name: 'ScanSurvivors',
    id: derivedId('ScanSurvivors', source.id),
    chainId,
    source: { id: source.id, sequence },
    occurredAt: source.block.timestamp,
    args: {
      level: 'SUBNET',
      scanId: '1',
      survivors: survivors.map((address, i) => ({ address, streak: i + 1 })),
    },
  };
}

export function reorgNotice(chainId: number, orphanedSequences: number[]): ReorgNotice {
  return {
    v: 1,
    kind: 'reorg',
    id: `${chainId}:reorg:${hex(`anc-${Math.random()}`, 32)}:${orphanedSequences[0] ?? 1}`,
    chainId,
    commonAncestor: { number: 1, hash: hex('ancestor', 32) },
    depth: 1,
    orphanedSequences,
    observedAt: Date.now(),
  };
}

/** A mix that exercises 0, 1, 2 and n frames per message, of every kind: the cursor rules' edge cases. */
export function mixedMessage(chainId: number, i: number): StreamMessage {
  switch (i % 7) {
    case 0:
      return jackedIn(chainId, addressOf(100 + (i % 13)), { amount: '2000000000000000000000' }); // + WHALE_ALERT
    case 1:
      return stakeAdded(chainId, addressOf(100 + (i % 13)));
    case 2:
      return deathsSubmitted(chainId, [addressOf(200 + i), addressOf(300 + i), addressOf(400 + i)]);
    case 3:
      return crewEvent(chainId, i);
    case 4:
      return scanSurvivors(chainId, i, [addressOf(500 + i), addressOf(600 + i)]);
    default:
      return jackedIn(chainId, addressOf(100 + (i % 13)));
  }
}

export async function append(
  js: JetStreamClient,
  subjects: Subjects,
  message: StreamMessage,
): Promise<number> {
  const ack = await js.publish(subjects.of(message), JSON.stringify(message), { msgID: message.id });
  return ack.seq;
}

/** Appends `count` messages with up to `inFlight` publishes outstanding; returns the last sequence. */
export async function appendMany(
  js: JetStreamClient,
  subjects: Subjects,
  count: number,
  make: (i: number) => StreamMessage,
  inFlight = 256,
): Promise<number> {
  let last = 0;
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const seq = await append(js, subjects, make(i));
      if (seq > last) last = seq;
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
  return last;
}
