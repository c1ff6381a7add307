/**
 * Coalesces lookups into batched calls. A lookup that finds no call in flight goes out at once, alone (no
 * added latency when the API is idle). Lookups arriving while a call is in flight wait and go out together
 * when it returns: under load the batches grow by themselves, and a burst of reads costs one round trip per
 * batch instead of one per request. A call that takes longer than `patienceMs` (a lock, a slow disk) does not
 * hold the others up: the waiting lookups then go out beside it, up to `maxInFlight` calls. At most `maxQueued`
 * lookups wait: when the database stalls, more are refused at once (QueueFullError, a 503 for the API) instead
 * of piling up in memory behind calls that may take their whole statement timeout.
 */
interface Waiting<V> {
  key: string;
  at: number;
  resolve: (value: V) => void;
  reject: (error: unknown) => void;
}

export class QueueFullError extends Error {
  override name = 'QueueFullError';
}

export class Batcher<V> {
  #queue: Waiting<V>[] = [];
  #inFlight = 0;
  #timer: NodeJS.Timeout | null = null;

  constructor(
    /** Answers every key it is given (a missing one is an error for its caller). */
    private readonly fetch: (keys: string[]) => Promise<Map<string, V>>,
    private readonly options: {
      maxInFlight: number;
      maxBatch: number;
      patienceMs: number;
      maxQueued: number;
    },
  ) {}

  load(key: string): Promise<V> {
    if (this.#queue.length >= this.options.maxQueued) {
      return Promise.reject(new QueueFullError(`${this.#queue.length} lookups already waiting`));
    }
    return new Promise<V>((resolve, reject) => {
      this.#queue.push({ key, at: performance.now(), resolve, reject });
      this.#pump();
    });
  }

  /** Calls in flight now, and lookups waiting (diagnostics, tests). */
  get state(): { inFlight: number; queued: number } {
    return { inFlight: this.#inFlight, queued: this.#queue.length };
  }

  #pump(): void {
    const { maxInFlight, maxBatch, patienceMs } = this.options;
    for (;;) {
      const oldest = this.#queue[0];
      if (!oldest || this.#inFlight >= maxInFlight) break;
      const waited = performance.now() - oldest.at;
      if (this.#inFlight > 0 && waited < patienceMs) {
        // Wait for the call in flight, or until the oldest lookup has waited long enough.
        this.#timer ??= setTimeout(() => {
          this.#timer = null;
          this.#pump();
        }, patienceMs - waited);
        return;
      }
      this.#send(this.#queue.splice(0, maxBatch));
    }
  }

  #send(batch: Waiting<V>[]): void {
    this.#inFlight++;
    const keys = [...new Set(batch.map((b) => b.key))];
    // Through a promise even if fetch throws synchronously: the batch must settle and the slot come back.
    Promise.resolve()
      .then(() => this.fetch(keys))
      .then(
        (values) => {
          for (const b of batch) {
            if (values.has(b.key)) b.resolve(values.get(b.key)!);
            else b.reject(new Error(`no answer for ${b.key}`));
          }
        },
        (error) => {
          for (const b of batch) b.reject(error);
        },
      )
      .finally(() => {
        this.#inFlight--;
        this.#pump();
      });
  }
}
