import { type ChainEnvelope, createSubjects, type StreamMessage } from '@ghostnet/events';
import type { JetStreamManager } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { ReorgTooDeep, resyncFromStream } from './resync.ts';

// Pure logic over a fake stream: which sequences a resync names orphaned, and when it refuses.
const chainId = 31337;
const subjects = createSubjects(chainId, 'unit');
const hashOf = (block: number, fork = '') => `0x${`${fork}${block}`.padStart(64, 'a').slice(-64)}`;

function event(block: number, fork = ''): ChainEnvelope {
  const hash = hashOf(block, fork);
  return {
    v: 1,
    kind: 'chain',
    id: `${chainId}:${hash}:0`,
    chainId,
    block: { number: block, hash, timestamp: 1_700_000_000 + block },
    tx: { hash: hashOf(block, 'f'), index: 0, from: `0x${'01'.repeat(20)}` },
    logIndex: 0,
    address: `0x${'c0'.repeat(20)}`,
    observedAt: 1_700_000_000_000,
    contract: 'GhostCore',
    name: 'JackedIn',
    args: { user: `0x${'02'.repeat(20)}`, amount: '1', level: 'VAULT', newTotal: '1' },
  } as ChainEnvelope;
}

/** A stream holding `messages` at sequences 1..n; `failAt` makes reading that sequence fail once. */
function fakeStream(messages: StreamMessage[], failAt?: number) {
  let failed = false;
  const jsm = {
    streams: {
      info: async () => ({ state: { first_seq: 1, last_seq: messages.length } }),
      getMessage: async (_stream: string, { seq }: { seq: number }) => {
        if (seq === failAt && !failed) {
          failed = true;
          throw new Error('JetStream request timed out');
        }
        const message = messages[seq - 1];
        return message
          ? { subject: subjects.of(message), data: new TextEncoder().encode(JSON.stringify(message)) }
          : null;
      },
    },
  };
  return jsm as unknown as JetStreamManager;
}

const resync = (jsm: JetStreamManager, canonical: (block: number, hash: string) => boolean) =>
  resyncFromStream({
    jsm,
    streamName: 'UNIT',
    subjects,
    chainId,
    maxReorgDepth: 64,
    isCanonical: async (n, h) => canonical(n, h),
    genesis: async () => ({ number: 0, hash: hashOf(0) }),
    now: () => 1,
  });

describe('resyncFromStream', () => {
  it('a one-block reorg after a quiet spell of a thousand blocks is a one-block reorg, not too deep', async () => {
    const jsm = fakeStream([event(100), event(1100)]);
    const result = await resync(jsm, (n) => n !== 1100);
    expect(result.position).toMatchObject({ number: 100, hash: hashOf(100) });
    expect(result.notice).toMatchObject({
      commonAncestor: { number: 100, hash: hashOf(100) },
      orphanedSequences: [2],
      depth: 1,
    });
  });

  it('orphaned events spanning more blocks than the maximum: too deep', async () => {
    const jsm = fakeStream([event(100), event(1000), event(1064)]);
    const error = await resync(jsm, (n) => n === 100).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReorgTooDeep);
    expect((error as Error).message).toMatch(/published blocks 1000 to 1064/);
    // 63 blocks apart is still within the maximum.
    const within = await resync(fakeStream([event(100), event(1001), event(1064)]), (n) => n === 100);
    expect(within.notice).toMatchObject({ orphanedSequences: [2, 3], depth: 64 });
  });

  it('a clean restart reads one message and names nothing', async () => {
    const result = await resync(fakeStream([event(5), event(6)]), () => true);
    expect(result).toMatchObject({ position: { number: 6 }, notice: null });
  });

  it('a message it cannot read is an error, never a gap (skipping it would append it again)', async () => {
    const jsm = fakeStream([event(5), event(6)], 2);
    await expect(resync(jsm, () => true)).rejects.toThrow(/timed out/);
    // Read again once the stream answers: resumes after the newest event.
    expect((await resync(jsm, () => true)).position).toMatchObject({ number: 6 });
  });
});
