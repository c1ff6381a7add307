interface Entry {
  stop: () => Promise<void>;
  pids?: () => number[];
}

/**
 * What the run started, stopped in reverse order by PID (or through pg_ctl for PostgreSQL). `run` is the
 * graceful path of the finally block; `killNow` the synchronous last resort of a second Ctrl-C.
 */
export class Cleanup {
  readonly #entries: Entry[] = [];
  #ran = false;

  add(stop: () => Promise<void>, pids?: () => number[]): void {
    this.#entries.push({ stop, pids });
  }

  async run(log: (line: string) => void = () => {}): Promise<void> {
    if (this.#ran) return;
    this.#ran = true;
    for (const entry of this.#entries.reverse()) {
      try {
        await entry.stop();
      } catch (error) {
        log(`cleanup: ${(error as Error).message}`);
      }
    }
  }

  /** SIGKILL to every PID still alive; entries without PIDs (pg_ctl) get their stop started. */
  killNow(): void {
    for (const entry of this.#entries) {
      if (!entry.pids) {
        void entry.stop().catch(() => {});
        continue;
      }
      for (const pid of entry.pids()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }
}
