/** Period keys of the leaderboards, all in UTC (facts file: daily = UTC day, weekly = ISO week). */

const DAY_MS = 86_400_000;

/** `YYYY-MM-DD` of the UTC day containing `ms`. */
export function utcDay(ms: number): string {
  return new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
}

/** `YYYY-MM-DD` of the Monday (UTC) starting the ISO week containing `ms`. */
export function isoWeekStart(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  // 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on Mondays.
  const monday = day - ((day + 3) % 7);
  return new Date(monday * DAY_MS).toISOString().slice(0, 10);
}

/** Start of the UTC minute containing `ms`. */
export function minuteStart(ms: number): number {
  return Math.floor(ms / 60_000) * 60_000;
}
