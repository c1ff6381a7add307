import { describe, expect, it } from 'vitest';
import { toFeedEvents } from '../frontend/index.ts';
import { createSubjects } from '../subjects.ts';
import { DerivedEnvelope, derivedId } from './derived.ts';
import { MalformedMessageError, parseStreamMessage } from './index.ts';

const source = `31337:0x${'ab'.repeat(32)}:7`;
const alice = `0x${'0a'.repeat(20)}`;
const bob = `0x${'0b'.repeat(20)}`;

const survivors = (list: { address: string; streak: number }[]) =>
  ({
    v: 1,
    kind: 'derived',
    name: 'ScanSurvivors',
    id: derivedId('ScanSurvivors', source),
    chainId: 31337,
    source: { id: source, sequence: 42 },
    occurredAt: 1_700_000_000_000,
    args: { level: 'DARKNET', scanId: '9', survivors: list },
  }) as const;

describe('derived.ScanSurvivors', () => {
  it("takes its id from the source event's, so a re-publish is a duplicate", () => {
    expect(derivedId('ScanSurvivors', source)).toBe(`31337:derived:ScanSurvivors:0x${'ab'.repeat(32)}:7`);
    const message = parseStreamMessage(JSON.stringify(survivors([{ address: alice, streak: 3 }])));
    expect(message.kind).toBe('derived');
    expect(createSubjects(31337).of(message)).toBe('ghostnet.31337.derived.ScanSurvivors');
  });

  it('is one SURVIVED feed event per survivor, at the time of the finalized scan', () => {
    const message = DerivedEnvelope.parse(
      survivors([
        { address: alice, streak: 3 },
        { address: bob, streak: 1 },
      ]),
    );
    expect(toFeedEvents(message)).toEqual([
      {
        id: `${message.id}#${alice}`,
        type: 'SURVIVED',
        timestamp: 1_700_000_000_000,
        data: { address: alice, level: 'DARKNET', streak: 3 },
      },
      {
        id: `${message.id}#${bob}`,
        type: 'SURVIVED',
        timestamp: 1_700_000_000_000,
        data: { address: bob, level: 'DARKNET', streak: 1 },
      },
    ]);
    expect(toFeedEvents(DerivedEnvelope.parse(survivors([])))).toEqual([]);
  });

  it('rejects a survivor without a streak, an uppercase address and a foreign id', () => {
    const bad = [
      survivors([{ address: alice, streak: 0 }]),
      survivors([{ address: alice.toUpperCase().replace('0X', '0x'), streak: 1 }]),
      { ...survivors([]), id: source },
    ];
    for (const message of bad) {
      expect(() => parseStreamMessage(JSON.stringify(message))).toThrow(MalformedMessageError);
    }
  });
});
