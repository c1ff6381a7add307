import type { LevelName, LevelStats } from '@ghostnet/events';
import type { Logger } from '@ghostnet/logger';

export interface ScanWarningsOptions {
  readLevels(): Promise<LevelStats[]>;
  /** Sends one serialized SCAN_WARNING to every live socket of this instance. */
  publish(frame: string): void;
  /** The warning goes out this long before the scan (the facts file: positions lock 60 s before). */
  leadMs: number;
  refreshMs: number;
  logger: Logger;
  now?: () => number;
}

/**
 * SCAN_WARNING{level, secondsUntil} `leadMs` before each level's next scan, from the level stats read model
 * (refreshed periodically and soon after a scan finishes). Each instance warns its own sockets; a warning is not
 * part of the stream, so it carries no sequence. An instance starting inside the last minute warns at once with
 * the seconds that remain, and a socket going live inside it gets the warnings it missed (`active`).
 */
export class ScanWarnings {
  #timers = new Map<LevelName, { scanAt: number; timer: NodeJS.Timeout | null }>();
  #interval: NodeJS.Timeout | null = null;
  #soon: NodeJS.Timeout | null = null;
  #stopped = false;
  readonly #now: () => number;
  sent = 0;

  constructor(readonly options: ScanWarningsOptions) {
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

  /** A scan started or finished: its next time changes once the projector has applied it. */
  refreshSoon(delayMs = 1_000): void {
    if (this.#soon || this.#stopped) return;
    this.#soon = setTimeout(() => {
      this.#soon = null;
      void this.refresh();
    }, delayMs);
    this.#soon.unref();
  }

  async refresh(): Promise<void> {
    let levels: LevelStats[];
    try {
      levels = await this.options.readLevels();
    } catch (error) {
      this.options.logger.warn({ err: error }, 'scan warnings: reading levels failed');
      return;
    }
    if (this.#stopped) return;
    for (const { level, nextScanTimestamp } of levels) {
      const current = this.#timers.get(level);
      if (current && current.scanAt === nextScanTimestamp) continue;
      if (current?.timer) clearTimeout(current.timer);
      if (nextScanTimestamp === null) {
        this.#timers.delete(level);
        continue;
      }
      const fireIn = nextScanTimestamp - this.options.leadMs - this.#now();
      const entry = { scanAt: nextScanTimestamp, timer: null as NodeJS.Timeout | null };
      if (nextScanTimestamp > this.#now()) {
        entry.timer = setTimeout(() => this.#fire(level, nextScanTimestamp), Math.max(0, fireIn));
        entry.timer.unref();
      }
      this.#timers.set(level, entry);
    }
  }

  /** The warnings already sent whose scan is still ahead, with the seconds left now: for a socket joining late. */
  active(): string[] {
    const now = this.#now();
    const frames: string[] = [];
    for (const [level, { scanAt, timer }] of this.#timers)
      if (timer === null && scanAt > now) frames.push(this.#frame(level, scanAt));
    return frames;
  }

  #frame(level: LevelName, scanAt: number): string {
    const secondsUntil = Math.max(0, Math.round((scanAt - this.#now()) / 1000));
    return JSON.stringify({ type: 'SCAN_WARNING', level, secondsUntil, scanAt });
  }

  #fire(level: LevelName, scanAt: number): void {
    const entry = this.#timers.get(level);
    if (entry) entry.timer = null;
    this.options.publish(this.#frame(level, scanAt));
    this.sent++;
  }
}
