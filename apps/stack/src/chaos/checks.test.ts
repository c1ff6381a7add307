import type { ChainEnvelope, StreamMessage } from '@ghostnet/events';
import type { Stored } from '@ghostnet/test';
import { describe, expect, it } from 'vitest';
import { checkClients, compareIds, expectedFeed, isSame, streamVersusChain } from './checks.ts';
import type { ClientFleet, Watched } from './clients.ts';

describe('compareIds', () => {
  it('names lost, extra, doubled and reordered ids', () => {
    expect(isSame(compareIds(['a', 'b', 'c'], ['a', 'b', 'c']))).toBe(true);
    expect(compareIds(['a', 'b', 'c'], ['a', 'c'])).toMatchObject({ lost: ['b'], extra: [], doubled: [] });
    expect(compareIds(['a', 'b'], ['a', 'b', 'b'])).toMatchObject({ lost: [], doubled: ['b'] });
    expect(compareIds(['a', 'b'], ['a', 'x', 'b'])).toMatchObject({ extra: ['x'] });
    expect(compareIds(['a', 'b', 'c'], ['a', 'c', 'b'])).toMatchObject({ outOfOrder: true, lost: [] });
  });
});

// Minimal stand-ins: only the fields the checks read (ids, kinds, orphaned sequences) matter here.
const chain = (seq: number, id: string): Stored => ({
  seq,
  subject: 'x',
  message: {
    kind: 'chain',
    id,
    name: 'ScanExecuted',
    args: {},
    block: { timestamp: 1 },
  } as unknown as ChainEnvelope,
});
const reorg = (seq: number, orphaned: number[]): Stored => ({
  seq,
  subject: 'x',
  message: { kind: 'reorg', orphanedSequences: orphaned } as unknown as StreamMessage,
});

describe('stream = chain', () => {
  it('applies reorg notices before comparing', () => {
    const stored = [chain(1, 'c:a:0'), chain(2, 'c:b:0'), reorg(3, [2]), chain(4, 'c:b2:0')];
    expect(isSame(streamVersusChain(stored, ['c:a:0', 'c:b2:0']))).toBe(true);
    expect(streamVersusChain(stored, ['c:a:0', 'c:b:0', 'c:b2:0']).lost).toEqual(['c:b:0']);
    expect(streamVersusChain([...stored, chain(5, 'c:a:0')], ['c:a:0', 'c:b2:0']).doubled).toEqual(['c:a:0']);
  });
});

describe('clients exactly once', () => {
  function fleetOf(...segments: Watched['segments'][]): ClientFleet {
    return {
      clients: segments.map((s, id) => ({
        id,
        client: { cursor: { sequenceId: 9, epoch: 'e' } },
        segments: s,
        disconnects: 0,
        closeCodes: new Map(),
        errors: [],
      })),
    } as unknown as ClientFleet;
  }
  const stored = [1, 2, 3, 4].map((seq) => ({
    seq,
    subject: 'x',
    message: {
      kind: 'app',
      id: `app-${seq}`,
      name: 'CrewEvent',
      occurredAt: 1,
      args: { crewName: 'c', eventType: 'JOIN', message: 'm' },
    } as unknown as StreamMessage,
  }));

  it('passes a client that got everything after its snapshot, and one re-synced midway', () => {
    const { keys } = expectedFeed(stored, 1);
    expect(keys).toEqual(['2:0:app-2', '3:0:app-3', '4:0:app-4']);
    const full = { after: 1, via: 'full-sync' as const, frames: keys, counts: new Map([[2, 1]]) };
    const partial = { after: 0, via: 'full-sync' as const, frames: ['1:0:app-1'], counts: new Map() };
    const after = { after: 2, via: 'full-sync' as const, frames: keys.slice(1), counts: new Map() };
    const check = checkClients(fleetOf([full], [partial, after]), stored, 'e');
    expect(check.failures).toEqual([]);
    expect(check.resyncs).toBe(1);
  });

  it('counts a lost, a doubled and a reordered event, and a wrong epoch', () => {
    const seg = (frames: string[]) => [{ after: 1, via: 'cursor' as const, frames, counts: new Map() }];
    const check = checkClients(
      fleetOf(
        seg(['2:0:app-2', '4:0:app-4']),
        seg(['2:0:app-2', '3:0:app-3', '3:0:app-3', '4:0:app-4']),
        seg(['3:0:app-3', '2:0:app-2', '4:0:app-4']),
      ),
      stored,
      'other-epoch',
    );
    expect(check).toMatchObject({ lost: 1, doubled: 1, outOfOrder: 1, wrongEpoch: 3 });
    expect(check.failures).toHaveLength(3);
  });
});
