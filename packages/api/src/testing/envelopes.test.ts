import { describe, expect, it } from 'vitest';
import { envelopeFactory, recentToday } from './envelopes.ts';

describe('recentToday', () => {
  const midnight = Date.UTC(2026, 10, 26);
  it('goes back the whole span when today has room for it', () => {
    expect(recentToday(3_600_000, midnight + 7_200_000)).toBe(midnight + 3_600_000);
  });
  it('stops at UTC midnight just after it, so daily boards see the events', () => {
    expect(recentToday(3_600_000, midnight + 120_000)).toBe(midnight);
  });
});

describe('envelopeFactory', () => {
  it('gives two factories with the same start different ids (JetStream would drop the second as duplicates)', () => {
    const start = recentToday(600_000, Date.UTC(2026, 10, 26) + 120_000);
    const a = envelopeFactory(31337, start).jackedIn(`0x${'aa'.repeat(20)}`, 1n);
    const b = envelopeFactory(31337, start).jackedIn(`0x${'aa'.repeat(20)}`, 1n);
    expect(a.id).not.toBe(b.id);
    expect(a.tx.hash).not.toBe(b.tx.hash);
  });
});
