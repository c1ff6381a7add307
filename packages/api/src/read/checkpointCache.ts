import type { Logger } from '@ghostnet/logger';

/**
 * Follows the projections' checkpoint (polled: one tiny query per interval for the whole instance, not one
 * per request) and caches serialized responses under keys that include it. A cached body is therefore
 * exactly what the projections said as of a checkpoint, and is recomputed as soon as the checkpoint moves.
 * Bodies are kept as bytes: a string body is encoded again on every send, which cost a fifth of a cached
 * leaderboard's throughput.
 */
export class CheckpointCache {
  #checkpoint: string | null = null;
  #timer: NodeJS.Timeout | null = null;
  readonly #entries = new Map<string, { checkpoint: string; body: Promise<Buffer> }>();

  constructor(
    private readonly readCheckpoint: () => Promise<string>,
    private readonly options: { pollMs?: number; maxEntries?: number; logger?: Logger } = {},
  ) {}

  get checkpoint(): string | null {
    return this.#checkpoint;
  }

  async start(): Promise<void> {
    await this.refresh().catch((error) =>
      this.options.logger?.warn({ err: error }, 'checkpoint read failed'),
    );
    const tick = () => {
      this.#timer = setTimeout(async () => {
        await this.refresh().catch((error) =>
          this.options.logger?.warn({ err: error }, 'checkpoint read failed'),
        );
        if (this.#timer) tick();
      }, this.options.pollMs ?? 100);
      this.#timer.unref();
    };
    tick();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  async refresh(): Promise<string> {
    this.#checkpoint = await this.readCheckpoint();
    return this.#checkpoint;
  }

  /** The cached body for `key` at the current checkpoint, computing it once (concurrent misses share it). */
  async get(key: string, compute: () => Promise<string>): Promise<Buffer> {
    const checkpoint = this.#checkpoint ?? (await this.refresh());
    const entry = this.#entries.get(key);
    if (entry && entry.checkpoint === checkpoint) return entry.body;
    const body = compute().then((text) => Buffer.from(text));
    this.#entries.delete(key);
    const max = this.options.maxEntries ?? 512;
    if (this.#entries.size >= max) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { checkpoint, body });
    body.catch(() => {
      if (this.#entries.get(key)?.body === body) this.#entries.delete(key);
    });
    return body;
  }
}
