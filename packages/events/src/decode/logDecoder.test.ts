import {
  TEST_BLOCK_HASH as BLOCK_HASH,
  encodeTestLog as encodeLog,
  TEST_TX_HASH as TX_HASH,
} from '@ghostnet/test';
import { decodeEventLog, type Hex, toEventSelector } from 'viem';
import { describe, expect, it } from 'vitest';
import { ghostCoreEventsAbi, traceScanEventsAbi } from '../abi/index.ts';
import { BOOST_TYPES, LEVELS } from '../enums.ts';
import { CHAIN_EVENT_NAMES, ChainEnvelope } from '../envelope/index.ts';
import { createSubjects } from '../subjects.ts';
import { createLogDecoder, LogDecodeError } from './logDecoder.ts';

const CHAIN_ID = 31337;
const GHOST_CORE = '0xdc64a140aa3e981100a9beca4e685f962f0cf6c9';
const TRACE_SCAN = '0x5fc8d32690cc91d4c39d9d3abcbd16989f875707';
const decode = createLogDecoder({
  chainId: CHAIN_ID,
  addresses: { GhostCore: GHOST_CORE, TraceScan: TRACE_SCAN },
});
const subjects = createSubjects(CHAIN_ID);

const context = (name: string) => ({
  blockTimestampMs: 1_705_790_400_000,
  txFrom: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
  observedAt: 1_705_790_400_123,
  enrichment:
    name === 'DeathsSubmitted'
      ? { victims: [{ address: `0x${'11'.repeat(20)}`, amountLost: '100' }] }
      : name === 'ScanFinalized'
        ? { survivors: '7' }
        : undefined,
});

export const events = [
  ...ghostCoreEventsAbi.map((event) => ({ event, address: GHOST_CORE, contract: 'GhostCore' })),
  ...traceScanEventsAbi.map((event) => ({ event, address: TRACE_SCAN, contract: 'TraceScan' })),
];

describe('the ABIs', () => {
  it('cover exactly the events of the facts file, with their topic0 prefixes', () => {
    const facts: Record<string, [string, string]> = {
      JackedIn: ['0xcd710317', '2c73'],
      StakeAdded: ['0x270d6dd2', '2440'],
      Extracted: ['0xcfb81a3d', '58c7'],
      DeathsProcessed: ['0x650ef817', 'a071'],
      SurvivorsUpdated: ['0x83b325c5', 'ad8c'],
      CascadeDistributed: ['0xc4730357', '9a44'],
      EmissionsAdded: ['0x1ce802db', 'b111'],
      BoostApplied: ['0x30e92896', 'a40d'],
      SystemResetTriggered: ['0x487f9191', '5653'],
      PositionCulled: ['0x7af8eef4', 'f6ea'],
      ScanExecuted: ['0x1ea9b7ce', '9e9e'],
      DeathsSubmitted: ['0x4b48f53b', 'd5c7'],
      ScanFinalized: ['0xfd7097a9', '650c'],
    };
    expect(events.map((e) => e.event.name).sort()).toEqual(Object.keys(facts).sort());
    expect([...CHAIN_EVENT_NAMES].sort()).toEqual(Object.keys(facts).sort());
    for (const { event } of events) {
      const selector = toEventSelector(event);
      const [head, tail] = facts[event.name]!;
      expect(selector.startsWith(head), event.name).toBe(true);
      expect(selector.endsWith(tail), event.name).toBe(true);
    }
  });
});

describe('createLogDecoder', () => {
  for (const { event, address, contract } of events) {
    it(`decodes ${event.name} as the contract encodes it`, () => {
      const log = encodeLog(event, address);
      const envelope = decode(log, context(event.name));

      expect(ChainEnvelope.parse(envelope)).toEqual(envelope);
      expect(envelope).toMatchObject({
        v: 1,
        kind: 'chain',
        id: `${CHAIN_ID}:${BLOCK_HASH}:3`,
        chainId: CHAIN_ID,
        block: { number: 42, hash: BLOCK_HASH, timestamp: 1_705_790_400_000 },
        tx: { hash: TX_HASH, index: 1, from: '0x70997970c51812dc3a010c7d01b50e0d17dc79c8' },
        contract,
        address,
        name: event.name,
      });
      expect(subjects.of(envelope)).toBe(`ghostnet.${CHAIN_ID}.chain.${contract}.${event.name}`);

      // Same values as viem's own decoder, in our wire forms.
      const viem = decodeEventLog({
        abi: [event],
        data: log.data as Hex,
        topics: log.topics as [Hex],
        strict: true,
      });
      for (const [key, value] of Object.entries(viem.args as Record<string, unknown>)) {
        const ours = (envelope.args as Record<string, unknown>)[key];
        const param = event.inputs.find((p) => p.name === key)!;
        if (param.type === 'address') expect(ours).toBe((value as string).toLowerCase());
        else if (param.type === 'uint256') expect(ours).toBe((value as bigint).toString());
        else if (param.type === 'uint64') expect(ours).toBe(Number(value) * 1000);
        else if (param.type === 'uint8')
          expect(ours).toBe(key === 'boostType' ? BOOST_TYPES[Number(value)] : LEVELS[Number(value)]);
        else expect(ours).toBe(Number(value));
      }
    });
  }

  const jackedIn = ghostCoreEventsAbi.find((e) => e.name === 'JackedIn')!;

  it('rejects an unknown topic', () => {
    const log = { ...encodeLog(jackedIn, GHOST_CORE), topics: [`0x${'99'.repeat(32)}`] };
    expect(() => decode(log, context('JackedIn'))).toThrowError(/unknown event topic 0x9999/);
  });

  it('rejects a log with no topics', () => {
    const log = { ...encodeLog(jackedIn, GHOST_CORE), topics: [] };
    expect(() => decode(log, context('JackedIn'))).toThrowError(LogDecodeError);
  });

  it('rejects data of the wrong length', () => {
    const log = encodeLog(jackedIn, GHOST_CORE);
    const short = { ...log, data: log.data.slice(0, -64) };
    const long = { ...log, data: `${log.data}${'00'.repeat(32)}` };
    expect(() => decode(short, context('JackedIn'))).toThrowError(/JackedIn needs 64 bytes of data, got 32/);
    expect(() => decode(long, context('JackedIn'))).toThrowError(/JackedIn needs 64 bytes of data, got 96/);
  });

  it('rejects a log from the wrong address, even with a known topic', () => {
    const log = encodeLog(jackedIn, TRACE_SCAN);
    expect(() => decode(log, context('JackedIn'))).toThrowError(
      `JackedIn from ${TRACE_SCAN}, but GhostCore is ${GHOST_CORE}`,
    );
  });

  it('rejects a level outside the enum and an address with dirty padding', () => {
    const badLevel = encodeLog(jackedIn, GHOST_CORE, { level: 0 });
    expect(() => decode(badLevel, context('JackedIn'))).toThrowError(/JackedIn.level is not a level \(0\)/);
    const log = encodeLog(jackedIn, GHOST_CORE);
    const dirty = { ...log, topics: [log.topics[0]!, `0x01${log.topics[1]!.slice(4)}`, log.topics[2]!] };
    expect(() => decode(dirty, context('JackedIn'))).toThrowError(
      /JackedIn.user is not a left-padded address/,
    );
  });

  it('rejects DeathsSubmitted without its victims', () => {
    const event = traceScanEventsAbi.find((e) => e.name === 'DeathsSubmitted')!;
    const log = encodeLog(event, TRACE_SCAN);
    expect(() => decode(log, { ...context('x'), enrichment: undefined })).toThrowError(/enrichment/);
  });

  it('rejects a log that is not in a block yet', () => {
    const log = { ...encodeLog(jackedIn, GHOST_CORE), blockHash: null };
    expect(() => decode(log, context('JackedIn'))).toThrowError(/not in a block yet/);
  });
});
