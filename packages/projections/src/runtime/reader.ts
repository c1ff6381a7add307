import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';

/**
 * Turns a JetStream `consume()` stream into batches: waits for the first message, then takes whatever else
 * is already buffered (up to `max`), waiting at most `waitMs` for a fuller batch. Live latency is one batch;
 * catch-up gets full batches. The pump stops pulling when `maxBuffer` messages wait (backpressure).
 */
export class BatchReader {
  readonly #buffer: JsMsg[] = [];
  #wake: (() => void) | null = null;
  #space: (() => void) | null = null;
  #done = false;
  #error: unknown = null;

  constructor(
    readonly messages: ConsumerMessages,
    readonly maxBuffer: number,
  ) {
    void this.#pump();
  }

  async #pump(): Promise<void> {
    try {
      for await (const m of this.messages) {
        this.#buffer.push(m);
        this.#notify();
        if (this.#buffer.length >= this.maxBuffer && !this.#done) {
          await new Promise<void>((resolve) => {
            this.#space = resolve;
          });
        }
        if (this.#done) break;
      }
    } catch (error) {
      this.#error = error;
    } finally {
      this.#done = true;
      this.#notify();
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  #wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Null when the consumer ended (stopped, or the error is rethrown); empty when nothing came for `idleMs`. */
  async next(max: number, waitMs: number, idleMs: number): Promise<JsMsg[] | null> {
    const idleUntil = Date.now() + idleMs;
    while (this.#buffer.length === 0) {
      if (this.#done) {
        if (this.#error) throw this.#error;
        return null;
      }
      const left = idleUntil - Date.now();
      if (left <= 0) return [];
      await this.#wait(left);
    }
    if (this.#buffer.length < max && waitMs > 0) {
      const deadline = Date.now() + waitMs;
      while (this.#buffer.length < max && !this.#done) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        await this.#wait(left);
      }
    }
    const batch = this.#buffer.splice(0, max);
    const space = this.#space;
    this.#space = null;
    space?.();
    return batch;
  }

  stop(): void {
    this.#done = true;
    this.messages.stop();
    this.#notify();
    const space = this.#space;
    this.#space = null;
    space?.();
  }
}
