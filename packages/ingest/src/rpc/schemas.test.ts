import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RpcLog, RpcLogs } from './schemas.ts';

// The hand-written fast path of RpcLogs must accept, reject and output exactly what z.array(RpcLog) does.
const checked = z.array(RpcLog);

const log = (over: Record<string, unknown> = {}) => ({
  address: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
  topics: [`0x${'AB'.repeat(32)}`, `0x${'0c'.repeat(32)}`],
  data: '0x00FF',
  blockNumber: '0x1a',
  blockHash: `0x${'Cd'.repeat(32)}`,
  logIndex: '0x0',
  transactionHash: `0x${'EF'.repeat(32)}`,
  transactionIndex: '0x3',
  transactionLogIndex: '0x0',
  ...over,
});

const cases: [string, unknown][] = [
  ['a plain log', [log()]],
  ['removed: false', [log({ removed: false })]],
  ['removed: true', [log({ removed: true })]],
  ['no topics', [log({ topics: [] })]],
  ['empty data', [log({ data: '0x' })]],
  ['an empty list', []],
  ['five topics', [log({ topics: Array(5).fill(`0x${'11'.repeat(32)}`) })]],
  ['a short topic', [log({ topics: [`0x${'11'.repeat(31)}`] })]],
  ['odd data characters', [log({ data: '0xzz' })]],
  ['data without 0x', [log({ data: '00' })]],
  ['a decimal block number', [log({ blockNumber: 26 })]],
  ['a 17-digit quantity', [log({ logIndex: `0x${'1'.repeat(17)}` })]],
  ['an empty quantity', [log({ transactionIndex: '0x' })]],
  ['a short block hash', [log({ blockHash: '0x12' })]],
  ['a missing transaction hash', [log({ transactionHash: undefined })]],
  ['a long address', [log({ address: `0x${'1'.repeat(42)}` })]],
  ['removed as a string', [log({ removed: 'no' })]],
  ['null instead of a log', [null]],
  ['a good log then a bad one', [log(), log({ blockHash: null })]],
  ['not a list', { result: [] }],
  ['null', null],
];

describe('RpcLogs', () => {
  it.each(cases)('agrees with z.array(RpcLog) on %s', (_name, input) => {
    const fast = RpcLogs.safeParse(input);
    const slow = checked.safeParse(input);
    expect(fast.success).toBe(slow.success);
    if (slow.success) expect(fast.data).toStrictEqual(slow.data);
    else expect(fast.error?.issues[0]?.path).toEqual(slow.error.issues[0]?.path);
  });

  it('lowercases hashes and the address and parses quantities', () => {
    const [parsed] = RpcLogs.parse([log()]);
    expect(parsed).toStrictEqual({
      address: '0x5fbdb2315678afecb367f032d93f642f64180aa3',
      topics: [`0x${'ab'.repeat(32)}`, `0x${'0c'.repeat(32)}`],
      data: '0x00FF',
      blockNumber: 26,
      blockHash: `0x${'cd'.repeat(32)}`,
      logIndex: 0,
      transactionHash: `0x${'ef'.repeat(32)}`,
      transactionIndex: 3,
    });
  });
});
