/**
 * The frames of the most recent stream sequences, so that a resume inside the window is answered from memory,
 * synchronously (which is what makes "replay, then go live" atomic: no live frame can slip in between).
 * Every sequence the follower saw has an entry, also those that yield no frame, so coverage is exact.
 */
export class RecentWindow {
  #seqs: number[] = [];
  #frames: (readonly string[])[] = [];
  #start = 0;
  /** Every sequence in (coveredFrom, last] is held. */
  #coveredFrom = 0;
  #frameCount = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error('window capacity must be ≥ 1');
  }

  /** Forget everything; the next sequence pushed must follow `after`. */
  reset(after: number): void {
    this.#seqs = [];
    this.#frames = [];
    this.#start = 0;
    this.#coveredFrom = after;
    this.#frameCount = 0;
  }

  get size(): number {
    return this.#seqs.length - this.#start;
  }

  get frameCount(): number {
    return this.#frameCount;
  }

  get coveredFrom(): number {
    return this.#coveredFrom;
  }

  push(seq: number, frames: readonly string[]): void {
    this.#seqs.push(seq);
    this.#frames.push(frames);
    this.#frameCount += frames.length;
    if (this.size > this.capacity) {
      this.#coveredFrom = this.#seqs[this.#start]!;
      this.#frameCount -= this.#frames[this.#start]!.length;
      this.#frames[this.#start] = [];
      this.#start++;
      // Compact now and then rather than shifting on every push.
      if (this.#start >= this.capacity) {
        this.#seqs = this.#seqs.slice(this.#start);
        this.#frames = this.#frames.slice(this.#start);
        this.#start = 0;
      }
    }
  }

  covers(cursor: number): boolean {
    return cursor >= this.#coveredFrom;
  }

  /** Frames of every sequence after `cursor`, in order. Only meaningful when `covers(cursor)`. */
  framesAfter(cursor: number): string[] {
    let lo = this.#start;
    let hi = this.#seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#seqs[mid]! <= cursor) lo = mid + 1;
      else hi = mid;
    }
    const out: string[] = [];
    for (let i = lo; i < this.#seqs.length; i++) for (const f of this.#frames[i]!) out.push(f);
    return out;
  }
}
