import {
  MalformedMessageError,
  parseStreamMessage,
  type StreamMessage,
  type Subjects,
  validateStreamMessage,
} from '@ghostnet/events';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import {
  createInbox,
  type Msg,
  type NatsConnection,
  headers as natsHeaders,
  type Subscription,
} from '@nats-io/transport-node';
import { z } from 'zod';

/** Someone else appended to the stream since we last looked: resync from it before writing again. */
export class AppendConflict extends Error {
  override name = 'AppendConflict';
}

export interface AppendResult {
  sequences: number[];
}

interface Batch {
  sequences: number[];
  /** Messages handed to the connection whose ack has not arrived (nor timed out). */
  outstanding: number;
  dispatched: boolean;
  settle: () => void;
}

interface InFlight {
  batch: Batch;
  index: number;
  id: string;
  chain: boolean;
  deadline: number;
}

/** JetStream's publish acknowledgement: the stream and sequence it was stored at, or why not. */
const PubAck = z.union([
  z.object({
    error: z.object({
      code: z.number().optional(),
      err_code: z.number().optional(),
      description: z.string().optional(),
    }),
  }),
  z.object({ stream: z.string(), seq: z.number().int().positive(), duplicate: z.boolean().optional() }),
]);
type PubAck = z.infer<typeof PubAck>;

const encoder = new TextEncoder();
const RECONNECT_GRACE_MS = 2_000;
const decoder = new TextDecoder();

/**
 * The single-writer append path. Every message carries Nats-Msg-Id (the envelope id, and for chain events
 * after a reorg notice a mark of the newest one: see #reorgMark; a retry within the duplicate window is dropped) and an expectation: the first message after a sync expects the stream's last
 * sequence, every later one expects the previous message's id as the stream's last id. Messages are
 * pipelined on one connection, which preserves their order, across calls too (a call's messages are handed
 * to the client only after the previous call's), so appending one batch overlaps waiting for the acks of the
 * one before. If anything else lands in between (a second ingester, an API outbox message), that message and
 * every one after it fail their expectation: what landed is always a gap-free prefix in our order. After a
 * failure every append fails until `sync()`.
 *
 * Publishing is what `js.publish` does (a core publish whose reply subject receives the stream's PubAck), done
 * by hand: one inbox subscription for all acks, one deadline sweep instead of a timer and a promise per
 * message, and messages written in bursts (up to `maxInFlight` unacknowledged, refilled when half are
 * acknowledged) so the client writes them to the socket together. `js.publish` per message reached ~6–11k
 * messages/s on the bench machine; this path 28–46k alone (the publish ceiling `npm run bench:ingest` prints).
 */
export class Appender {
  #lastSequence = 0;
  /**
   * The first orphaned sequence of the newest reorg notice in the stream (null before any): a chain event's
   * Nats-Msg-Id carries it. A reorg that flips back (A, then B, then A again) brings A's events back with
   * their ids unchanged; under their first ids JetStream would drop them as duplicates for its whole
   * duplicate window (2 min) and the ingester would stall on the conflict that long. Each notice orphans
   * messages no earlier notice did, so the mark differs after every notice, and stays the same for the
   * retries a window is for.
   */
  #reorgMark: number | null = null;
  #chainEvents = 0;
  #lastSentId: string | null = null;
  #dispatching: Promise<void> = Promise.resolve();
  #failure: Error | null = null;
  readonly #nc: NatsConnection;
  readonly #inbox: string;
  #subscription: Subscription | null = null;
  #pending = new Map<number, InFlight>();
  #nextToken = 0;
  #sweeper: ReturnType<typeof setInterval> | null = null;
  /** Woken when the window has room again, when it is empty, or on a failure. */
  #waiters: (() => void)[] = [];

  constructor(
    js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly streamName: string,
    private readonly subjects: Subjects,
    private readonly maxInFlight = 2048,
  ) {
    this.#nc = (js as unknown as { nc: NatsConnection }).nc;
    const prefix = (this.#nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix;
    this.#inbox = createInbox(prefix);
    void this.#watchConnection();
  }

  /**
   * Acks of messages sent before a disconnect never come: fail them at once rather than at their deadline, so
   * the caller resyncs from the stream as soon as the server is back (whatever of them landed is there).
   * Messages published while disconnected are sent on reconnect but may be dropped by a server still loading
   * its streams: after a reconnect, their acks get a short grace instead of the full timeout.
   */
  async #watchConnection(): Promise<void> {
    try {
      for await (const status of this.#nc.status()) {
        if (this.#pending.size === 0) continue;
        if (status.type === 'disconnect') {
          this.#fail(new Error('NATS connection lost with publishes unacknowledged'));
          for (const token of [...this.#pending.keys()]) this.#settle(token);
        } else if (status.type === 'reconnect') {
          const deadline = Date.now() + RECONNECT_GRACE_MS;
          for (const entry of this.#pending.values()) entry.deadline = Math.min(entry.deadline, deadline);
        }
      }
    } catch {
      // The connection closed: nothing more to watch.
    }
  }

  get lastSequence(): number {
    return this.#lastSequence;
  }

  /** Chain events (not notices) acknowledged by the stream since this appender was made. */
  get chainEventsAppended(): number {
    return this.#chainEvents;
  }

  /** Waits for everything in flight, forgets any failure and reads the stream's last sequence. */
  async sync(): Promise<number> {
    await this.#dispatching;
    while (this.#pending.size > 0) await this.#wait();
    this.#failure = null;
    this.#lastSentId = null;
    const info = await this.jsm.streams.info(this.streamName);
    this.#lastSequence = info.state.last_seq;
    const notice = await this.jsm.streams.getMessage(this.streamName, { last_by_subj: this.subjects.reorg });
    const parsed = notice ? parseStreamMessage(notice.data) : null;
    this.#reorgMark = parsed?.kind === 'reorg' ? (parsed.orphanedSequences[0] ?? null) : null;
    return this.#lastSequence;
  }

  /** The Nats-Msg-Id a message is appended under (see #reorgMark). */
  #messageId(message: StreamMessage): string {
    if (message.kind === 'reorg') this.#reorgMark = message.orphanedSequences[0] ?? this.#reorgMark;
    return message.kind === 'chain' && this.#reorgMark !== null
      ? `${message.id}~${this.#reorgMark}`
      : message.id;
  }

  append(messages: StreamMessage[], timeoutMs = 10_000): Promise<AppendResult> {
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const batch: Batch = { sequences: new Array(messages.length), outstanding: 0, dispatched: false, settle };
    const dispatch = this.#dispatching.then(async () => {
      this.#subscribe();
      let sent = 0;
      try {
        // Checked in call order, as a failure: a refused batch must also stop the batches queued after it, or
        // they would land with its messages missing (their expectation names the message before it).
        if (!this.#failure) {
          const malformed = findMalformed(messages);
          if (malformed) this.#fail(malformed);
        }
        for (let index = 0; index < messages.length; index++) {
          if (this.#failure) break;
          if (this.#pending.size >= this.maxInFlight) {
            // Refill in bursts: wait until half the window is acknowledged.
            while (!this.#failure && this.#pending.size > this.maxInFlight >> 1) await this.#wait();
            if (this.#failure) break;
          }
          const message = messages[index]!;
          const id = this.#messageId(message);
          const h = natsHeaders();
          h.set('Nats-Msg-Id', id);
          if (this.#lastSentId === null) h.set('Nats-Expected-Last-Sequence', String(this.#lastSequence));
          else h.set('Nats-Expected-Last-Msg-Id', this.#lastSentId);
          const token = this.#nextToken++;
          try {
            this.#nc.publish(this.subjects.of(message), encoder.encode(JSON.stringify(message)), {
              headers: h,
              reply: `${this.#inbox}.${token}`,
            });
          } catch (error) {
            // Not sent (too large, connection closed): nothing after it may be sent either.
            this.#fail(error instanceof Error ? error : new Error(String(error)));
            break;
          }
          this.#lastSentId = id;
          this.#pending.set(token, {
            batch,
            index,
            id: message.id,
            chain: message.kind === 'chain',
            deadline: Date.now() + timeoutMs,
          });
          this.#sweep();
          batch.outstanding++;
          sent++;
        }
      } finally {
        batch.dispatched = true;
        if (batch.outstanding === 0) batch.settle();
      }
      return sent;
    });
    this.#dispatching = dispatch.then(
      () => {},
      () => {},
    );
    return dispatch.then(async (sent) => {
      await settled;
      if (this.#failure) throw this.#failure;
      if (sent < messages.length) throw new AppendConflict('an earlier append failed; sync first');
      return { sequences: batch.sequences };
    });
  }

  #subscribe(): void {
    if (this.#subscription && !this.#subscription.isClosed()) return;
    this.#subscription = this.#nc.subscribe(`${this.#inbox}.*`, {
      callback: (error, msg) => {
        if (error) {
          this.#fail(error);
          for (const token of [...this.#pending.keys()]) this.#settle(token);
          return;
        }
        this.#onAck(msg);
      },
    });
  }

  #onAck(msg: Msg): void {
    const token = Number(msg.subject.slice(msg.subject.lastIndexOf('.') + 1));
    const entry = this.#pending.get(token);
    if (!entry) return; // already timed out
    if (msg.data.length === 0) {
      const code = msg.headers?.code;
      this.#fail(
        new Error(code === 503 ? 'no JetStream stream answered (503 no responders)' : `empty ack (${code})`),
      );
    } else {
      let ack: PubAck;
      try {
        ack = PubAck.parse(JSON.parse(decoder.decode(msg.data)));
      } catch {
        ack = { error: { description: 'unreadable publish ack' } };
      }
      if ('error' in ack) {
        this.#fail(classify(new Error(ack.error.description ?? `JetStream error ${ack.error.err_code}`)));
      } else if (ack.stream !== this.streamName) {
        this.#fail(
          new Error(`publish of ${entry.id} acknowledged by ${ack.stream} instead of ${this.streamName}`),
        );
      } else if (ack.duplicate) {
        this.#fail(new AppendConflict(`message ${entry.id} was already in the stream at ${ack.seq}`));
      } else {
        entry.batch.sequences[entry.index] = ack.seq;
        if (entry.chain) this.#chainEvents++;
        if (ack.seq > this.#lastSequence) this.#lastSequence = ack.seq;
      }
    }
    this.#settle(token);
  }

  #settle(token: number): void {
    const entry = this.#pending.get(token);
    if (!entry) return;
    this.#pending.delete(token);
    const batch = entry.batch;
    if (--batch.outstanding === 0 && batch.dispatched) batch.settle();
    if (this.#pending.size <= this.maxInFlight >> 1 || this.#failure) this.#wake();
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    this.#wake();
  }

  #wait(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #wake(): void {
    if (this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** One timer for every deadline: an ack that does not come in time fails the append, like a timeout. */
  #sweep(): void {
    if (this.#sweeper || this.#pending.size === 0) return;
    this.#sweeper = setInterval(() => {
      const now = Date.now();
      for (const [token, entry] of this.#pending) {
        if (entry.deadline > now) continue;
        this.#fail(new Error(`publish of ${entry.id} was not acknowledged in time (timeout)`));
        this.#settle(token);
      }
      if (this.#pending.size === 0 && this.#sweeper) {
        clearInterval(this.#sweeper);
        this.#sweeper = null;
      }
    }, 100);
    this.#sweeper.unref?.();
  }
}

/**
 * The first message a reader would refuse, as an error naming it. The stream keeps what it is given (and
 * denies deletes): one malformed message would fail every resync and every consumer after it, for good.
 */
function findMalformed(messages: readonly StreamMessage[]): MalformedMessageError | null {
  for (let index = 0; index < messages.length; index++) {
    try {
      validateStreamMessage(messages[index]);
    } catch (error) {
      const id = (messages[index] as { id?: unknown } | undefined)?.id;
      return new MalformedMessageError(
        `refusing to append message ${index + 1} of ${messages.length} (id ${JSON.stringify(id)}): ` +
          `it does not match the stream message schema: ${(error as Error).message}`,
      );
    }
  }
  return null;
}

function classify(error: unknown): Error {
  if (error instanceof AppendConflict) return error;
  const message = String((error as Error)?.message ?? error);
  if (/wrong last (sequence|msg ?id)|last sequence mismatch|expected/i.test(message)) {
    return new AppendConflict(`another writer appended to the stream (${message})`);
  }
  return error instanceof Error ? error : new Error(message);
}
