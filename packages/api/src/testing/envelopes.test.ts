import { describe, expect, it } from 'vitest';
import { recentToday } from './envelopes.ts';

describe('recentToday', () => {
  const midnight = Date.UTC(2026, 10, 26);
  it('goes back the whole span when today has room for it', () => {
    expect(recentToday(3_600_000, midnight + 7_200_000)).toBe(midnight + 3_600_000);
  });
  it('stops at UTC midnight just after it, so daily boards see the events', () => {
    expect(recentToday(3_600_000, midnight + 120_000)).toBe(midnight);
  });
});
