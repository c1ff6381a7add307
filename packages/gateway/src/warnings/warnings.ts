import type { FeedEvent, LevelName } from '@ghostnet/events';
import type { Logger } from '@ghostnet/logger';

/** What the warnings count down to, from the projector's read models. */
export interface Deadlines {
  /** Each level's next scan (Unix ms; null: no scan scheduled, e.g. nobody at that level). */
  scans: { level: LevelName; at: number | null }[];
  /** When the system reset fires if nobody deposits before (Unix ms; null: not armed). */
  systemReset: number | null;
  /** The stream sequence the read reflects (the game projection's checkpoint), when the source knows it. */
  sequence?: number;
}

export interface WarningsOptions {
  readDeadlines(): Promise<Deadlines>;
  /** Sends one serialized warning frame to every live socket of this instance. */
  publish(frame: string): void;
  /** SCAN_WARNING goes out this long before a scan (the facts file: positions lock 60 s before). */
  scanLeadMs: number;
  /** SYSTEM_RESET_WARNING goes out this long before the reset deadline. */
  resetLeadMs: number;
  refreshMs: number;
  logger: Logger;
  now?: () => number;
}

type Key = LevelName | 'SYSTEM_RESET';

/**
 * Timed warnings, which no chain event announces: SCAN_WARNING before each level's next scan and
 * SYSTEM_RESET_WARNING before the reset deadline, from the read models (refreshed periodically and soon after
 * an event that moves a deadline). Each frame carries the frontend's feed event (TRACE_SCAN_WARNING,
 * SYSTEM_RESET_WARNING) with an id derived from the deadline, so the warnings of several instances are the same
 * event. They are not part of the stream: no sequence, never replayed. An instance starting inside the lead time
 * warns at once with the time that remains, and a socket going live inside it gets the warnings it missed
 * (`active`). A deadline that moves (a deposit pushes the reset back) re-arms its warning.
 */
export class Warnings {
  #timers = new Map<Key, { at: number; timer: NodeJS.Timeout | null; fired: boolean }>();
  #interval: NodeJS.Timeout | null = null;
  #soon: NodeJS.Timeout | null = null;
  #stopped = false;
  /** Refreshes can overlap (interval, events, notices): only the newest read may arm timers. */
  #reads = 0;
  #applied = 0;
  /** Newest stream sequence that may have moved a deadline, and the newest one a read reflected. */
  #movedAt = 0;
  #seen = 0;
  #inFlight = 0;
  #lastReadAt = 0;
  #soonAt = 0;
  readonly #now: () => number;
  sent = 0;

  constructor(readonly options: WarningsOptions) {
    this.#now = options.now ?? Date.now;
  }

  start(): void {
    void this.refresh();
    this.#interval = setInterval(() => void this.refresh(), this.options.refreshMs);
    this.#interval.unref();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#interval) clearInterval(this.#interval);
    if (this.#soon) clearTimeout(this.#soon);
    for (const { timer } of this.#timers.values()) if (timer) clearTimeout(timer);
    this.#timers.clear();
  }

  /**
   * The stream message at `sequence` may have moved a deadline: read again on each projector checkpoint
   * notice (`checkpointAdvanced`) until a read reflects it, and after 1 s in any case.
   */
  moved(sequence: number): void {
    this.#movedAt = Math.max(this.#movedAt, sequence);
    this.refreshSoon();
  }

  /**
   * The projector committed a batch: if a move is still unseen, read now. One read at a time and at most
   * one per 250 ms: under steady deposits every batch moves the reset deadline, and notices come per batch.
   */
  checkpointAdvanced(): void {
    if (this.#movedAt <= this.#seen || this.#inFlight > 0) return;
    if (this.#now() - this.#lastReadAt >= 250) void this.refresh();
    else this.refreshSoon(250);
  }

  /** Read again in `delayMs`, or sooner if a read is already planned sooner. */
  refreshSoon(delayMs = 1_000): void {
    if (this.#stopped) return;
    const at = Date.now() + delayMs;
    if (this.#soon) {
      if (this.#soonAt <= at) return;
      clearTimeout(this.#soon);
    }
    this.#soonAt = at;
    this.#soon = setTimeout(() => {
      this.#soon = null;
      void this.refresh();
    }, delayMs);
    this.#soon.unref();
  }

  async refresh(): Promise<void> {
    const read = ++this.#reads;
    let deadlines: Deadlines;
    this.#inFlight++;
    this.#lastReadAt = this.#now();
    try {
      deadlines = await this.options.readDeadlines();
    } catch (error) {
      this.options.logger.warn({ err: error }, 'warnings: reading deadlines failed');
      if (this.#movedAt > this.#seen) this.refreshSoon(250);
      return;
    } finally {
      this.#inFlight--;
    }
    // A slower, older read must not bring back a deadline a newer one has already replaced.
    if (this.#stopped || read < this.#applied) return;
    this.#applied = read;
    // A source that cannot say which sequence it reflects counts as up to date.
    this.#seen = Math.max(this.#seen, deadlines.sequence ?? this.#movedAt);
    for (const { level, at } of deadlines.scans) this.#arm(level, at);
    this.#arm('SYSTEM_RESET', deadlines.systemReset);
    // Still behind the move (the projector lags): look again shortly even if no notice comes.
    if (this.#movedAt > this.#seen) this.refreshSoon(250);
  }

  #arm(key: Key, at: number | null): void {
    const current = this.#timers.get(key);
    if (current && current.at === at) return;
    if (current?.timer) clearTimeout(current.timer);
    if (at === null) {
      this.#timers.delete(key);
      return;
    }
    const entry = { at, timer: null as NodeJS.Timeout | null, fired: false };
    if (at > this.#now()) {
      entry.timer = setTimeout(() => this.#fire(key, at), Math.max(0, at - this.#lead(key) - this.#now()));
      entry.timer.unref();
    }
    this.#timers.set(key, entry);
  }

  #lead(key: Key): number {
    return key === 'SYSTEM_RESET' ? this.options.resetLeadMs : this.options.scanLeadMs;
  }

  /** The warnings already sent whose deadline is still ahead, with the time left now: for a socket joining late. */
  active(): string[] {
    const now = this.#now();
    const frames: string[] = [];
    for (const [key, { at, fired }] of this.#timers) if (fired && at > now) frames.push(this.#frame(key, at));
    return frames;
  }

  /** The feed event's id and timestamp come from the deadline, so every instance sends the same event. */
  #frame(key: Key, at: number): string {
    const secondsUntil = Math.max(0, Math.round((at - this.#now()) / 1000));
    const timestamp = at - this.#lead(key);
    if (key === 'SYSTEM_RESET') {
      const event: FeedEvent = {
        id: `system-reset-warning:${at}`,
        type: 'SYSTEM_RESET_WARNING',
        timestamp,
        data: { secondsUntil },
      };
      return JSON.stringify({ type: 'SYSTEM_RESET_WARNING', secondsUntil, resetAt: at, event });
    }
    const event: FeedEvent = {
      id: `scan-warning:${key}:${at}`,
      type: 'TRACE_SCAN_WARNING',
      timestamp,
      data: { level: key, secondsUntil },
    };
    return JSON.stringify({ type: 'SCAN_WARNING', level: key, secondsUntil, scanAt: at, event });
  }

  #fire(key: Key, at: number): void {
    const entry = this.#timers.get(key);
    if (!entry || entry.at !== at) return;
    entry.timer = null;
    entry.fired = true;
    this.options.publish(this.#frame(key, at));
    this.sent++;
  }
}
