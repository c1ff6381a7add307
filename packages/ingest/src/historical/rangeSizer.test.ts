import { describe, expect, it } from 'vitest';
import { backoffMs, RangeSizer } from './rangeSizer.ts';

describe('RangeSizer', () => {
  it('halves on a too-large error, down to the minimum', () => {
    const sizer = new RangeSizer({ initial: 8, min: 1, max: 100, targetLogs: 10 });
    sizer.tooLarge();
    expect(sizer.size).toBe(4);
    sizer.tooLarge();
    sizer.tooLarge();
    sizer.tooLarge();
    expect(sizer.size).toBe(1);
  });

  it('shrinks towards the target log count and grows when ranges are sparse', () => {
    const sizer = new RangeSizer({ initial: 1000, min: 1, max: 4000, targetLogs: 4000 });
    sizer.observed(1000, 40_000);
    expect(sizer.size).toBe(100);
    sizer.observed(100, 100);
    expect(sizer.size).toBe(200);
    for (let i = 0; i < 10; i++) sizer.observed(sizer.size, 0);
    expect(sizer.size).toBe(4000);
  });
});

describe('backoffMs', () => {
  it('grows exponentially with jitter and stays under the cap', () => {
    for (let attempt = 0; attempt < 30; attempt++) {
      const ms = backoffMs(attempt, 100, 10_000);
      const ceiling = Math.min(10_000, 100 * 2 ** attempt);
      expect(ms).toBeGreaterThanOrEqual(ceiling / 2 - 1);
      expect(ms).toBeLessThanOrEqual(ceiling);
    }
  });
});
