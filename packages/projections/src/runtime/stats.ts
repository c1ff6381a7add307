/** The last N samples of a latency, for p50/p99 in stats() without a metrics library. */
export class LatencyWindow {
  readonly #samples: number[] = [];
  #next = 0;
  constructor(readonly size: number) {}

  add(value: number): void {
    if (this.#samples.length < this.size) this.#samples.push(value);
    else {
      this.#samples[this.#next] = value;
      this.#next = (this.#next + 1) % this.size;
    }
  }

  percentiles(): { p50: number; p99: number } {
    if (this.#samples.length === 0) return { p50: 0, p99: 0 };
    const sorted = [...this.#samples].sort((a, b) => a - b);
    return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
  }
}

export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return Math.round(sorted[index]! * 100) / 100;
}
