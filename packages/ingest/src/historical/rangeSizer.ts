/**
 * Picks the next eth_getLogs range. Providers cap ranges by blocks or by results, and answer too-large
 * requests with an error: halve on that error, aim for a target number of logs per range otherwise.
 */
export class RangeSizer {
  #size: number;
  constructor(private readonly options = { initial: 8, min: 1, max: 10_000, targetLogs: 2_000 }) {
    this.#size = options.initial;
  }

  get size(): number {
    return this.#size;
  }

  tooLarge(): void {
    this.#size = Math.max(this.options.min, Math.floor(this.#size / 2));
  }

  observed(blocks: number, logs: number): void {
    if (logs > this.options.targetLogs) {
      const scaled = Math.floor((blocks * this.options.targetLogs) / logs);
      this.#size = Math.max(this.options.min, Math.min(this.#size, scaled));
    } else if (logs < this.options.targetLogs / 4 && blocks >= this.#size) {
      this.#size = Math.min(this.options.max, this.#size * 2);
    }
  }
}

/** Exponential backoff with full jitter, capped. */
export function backoffMs(attempt: number, baseMs = 100, capMs = 10_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 16));
  return Math.floor(ceiling / 2 + Math.random() * (ceiling / 2));
}
