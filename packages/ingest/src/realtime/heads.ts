import type { Logger } from '@ghostnet/logger';
import WebSocket from 'ws';
import { z } from 'zod';
import { backoffMs } from '../historical/rangeSizer.ts';

const quantity = z
  .string()
  .regex(/^0x[0-9a-fA-F]{1,16}$/)
  .transform((v) => Number.parseInt(v, 16));
const hash = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/)
  .transform((v) => v.toLowerCase());
const NewHeadNotification = z.object({
  method: z.literal('eth_subscription'),
  params: z.object({
    result: z.object({ number: quantity, hash, parentHash: hash, timestamp: quantity }),
  }),
});

export interface AnnouncedHeader {
  number: number;
  hash: string;
  parentHash: string;
  timestamp: number;
}

/**
 * Tells the sync loop when a new block exists: from an `eth_subscribe('newHeads')` WebSocket when the node
 * offers one (lowest latency), and from a timer in any case, so a silent or dropped subscription only makes
 * the ingester slower, never stuck.
 */
export class HeadWatcher {
  #latest: number | null = null;
  /** Recent announced headers by number: saves the live path a round trip. */
  #headers = new Map<number, AnnouncedHeader>();
  #waiters: (() => void)[] = [];
  #socket: WebSocket | null = null;
  #stopped = false;
  #attempt = 0;

  constructor(private readonly options: { wsUrl?: string; pollIntervalMs: number; logger: Logger }) {}

  /** Highest head number the subscription announced, if any. */
  get latest(): number | null {
    return this.#latest;
  }

  header(number: number): AnnouncedHeader | undefined {
    return this.#headers.get(number);
  }

  start(): void {
    if (this.options.wsUrl) this.#connect(this.options.wsUrl);
  }

  stop(): void {
    this.#stopped = true;
    this.#socket?.terminate();
    this.#wake();
  }

  /** Resolves on the next announced head, or after the poll interval. */
  wait(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.options.pollIntervalMs);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.#waiters = self.#waiters.filter((w) => w !== done);
        resolve();
      }
      this.#waiters.push(done);
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #connect(url: string): void {
    const socket = new WebSocket(url);
    this.#socket = socket;
    socket.on('open', () => {
      this.#attempt = 0;
      socket.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_subscribe', params: ['newHeads'] }));
    });
    socket.on('message', (data) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(String(data));
      } catch {
        return;
      }
      const head = NewHeadNotification.safeParse(parsed);
      if (!head.success) return;
      const header = head.data.params.result;
      this.#headers.set(header.number, header);
      if (this.#headers.size > 256) this.#headers.delete(Math.min(...this.#headers.keys()));
      if (this.#latest === null || header.number > this.#latest) this.#latest = header.number;
      this.#wake();
    });
    socket.on('error', (error) => {
      this.options.logger.warn({ err: error.message }, 'head subscription error');
    });
    socket.on('close', () => {
      if (this.#stopped) return;
      const delay = backoffMs(this.#attempt++, 250, 10_000);
      setTimeout(() => !this.#stopped && this.#connect(url), delay).unref();
    });
  }
}
