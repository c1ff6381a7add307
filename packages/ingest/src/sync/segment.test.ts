import { describe, expect, it } from 'vitest';
import type { ChainReader } from '../rpc/chainReader.ts';
import { fetchSegment, NotYetAvailable } from './segment.ts';

const h = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;
const header = { number: 11, hash: h(11), parentHash: h(10), timestamp: 1_700_000_011 };

/** A node answering a live block's reads by hash (pure logic: what fetchSegment accepts as the block). */
function node(block: unknown): ChainReader {
  return {
    header: async () => header,
    logsByHash: async () => [],
    blockWithTxsByHash: async () => block,
  } as unknown as ChainReader;
}

describe('fetchSegment, one live block', () => {
  it('an empty block is accepted only from a node that returns the block itself', async () => {
    const request = { from: 11, to: 11, anchor: { number: 10, hash: h(10) } };
    // eth_getLogs({blockHash}) → [] from a node that does not know the hash: not "no events".
    await expect(fetchSegment(node(null), request)).rejects.toBeInstanceOf(NotYetAvailable);
    const sealed = { number: 11, hash: h(11), parentHash: h(10), timestamp: 1_700_000_011, transactions: [] };
    const segment = await fetchSegment(node(sealed), request);
    expect(segment).toMatchObject({ from: 11, to: 11, logs: [], end: { number: 11, hash: h(11) } });
  });
});
