import { describe, expect, it } from 'vitest';
import { isoWeekStart, minuteStart, utcDay } from './time.ts';

describe('period keys', () => {
  it('buckets by UTC day and ISO week (Monday start)', () => {
    const sunday = Date.parse('2024-01-21T23:59:59.999Z');
    const monday = Date.parse('2024-01-22T00:00:00.000Z');
    expect(utcDay(sunday)).toBe('2024-01-21');
    expect(utcDay(monday)).toBe('2024-01-22');
    expect(isoWeekStart(sunday)).toBe('2024-01-15');
    expect(isoWeekStart(monday)).toBe('2024-01-22');
    expect(isoWeekStart(Date.parse('2021-01-01T12:00:00Z'))).toBe('2020-12-28');
    expect(minuteStart(Date.parse('2024-01-22T10:11:12.345Z'))).toBe(Date.parse('2024-01-22T10:11:00Z'));
  });
});
