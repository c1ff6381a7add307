import {
  DEFAULT_FEED_OPTIONS,
  type FeedOptions,
  parseStreamMessage,
  type StreamMessage,
} from '@ghostnet/events';
import type { Logger } from '@ghostnet/logger';
import { epochOf, holdsMessage, isNotFound, messageIdOf, orderedConsumer } from '@ghostnet/stream';
import {
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { framesOf } from './frames.ts';
import { RecentWindow } from './window.ts';

export interface FollowedMessage {
  seq: number;
  /** null when the payload is not a message this gateway understands (it yields no frame, the cursor passes it). */
  message: StreamMessage | null;
  frames: readonly string[];
}

export interface FollowerOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  streamName: string;
  /** `<prefix>.<chainId>`: messages outside it are ignored. */
  subjectRoot: string;
  /** Sequences kept in memory for replays. */
  windowSize: number;
  feedOptions?: FeedOptions;
  /** How often the stream's epoch is checked (a recreated stream restarts the follower). */
  epochCheckMs?: number;
  logger: Logger;
  onMessage(followed: FollowedMessage): void;
  /** The stream was recreated: every cursor of the old epoch is void. */
  onReset(epoch: string): void;
}

/**
 * Follows the stream with an ordered consumer, turns each message into its frames once, keeps the recent ones
 * in a window and hands each one to the gateway synchronously, in sequence order. `head` is the last sequence
 * handed over: every frame up to it has been published.
 */
export class StreamFollower {
  head = 0;
  /** The stream's `created` as last reported; see isCurrentEpoch for the other names it may go by. */
  epoch = '';
  /** Set when the follower has caught up with the stream as it was at start. */
  ready = false;
  readonly window: RecentWindow;
  parseErrors = 0;
  /** Consumer notices that made the follower hold messages until the epoch was checked (diagnostics). */
  suspectNotices = 0;
  lastNotice = '';
  /** Times the consumer was replaced because it stood still behind the stream (diagnostics). */
  stalls = 0;
  #stalledAt = -1;
  #messages: ConsumerMessages | null = null;
  #stopped = false;
  #waiters: { seq: number; resolve: (ok: boolean) => void }[] = [];
  #readyWaiters: (() => void)[] = [];
  #catchUpTo = 0;
  #timer: NodeJS.Timeout | null = null;
  /** The epoch check in flight: checks never overlap, or two of them could both reset every client. */
  #checking: Promise<void> | null = null;
  #checkAgain = false;
  #suspect = false;
  #held: JsMsg[] = [];
  /** Nats-Msg-Id of the message at `head`: tells a recreated stream from the same one reported differently. */
  #headMessageId: string | null = null;
  /**
   * Every `created` this incarnation of the stream was reported with: cursors and snapshots carry the one their
   * writer saw (the projector keeps the one of its session's start), and each is as good as the latest.
   */
  #epochs = new Set<string>();
  readonly #root: string;

  constructor(readonly options: FollowerOptions) {
    this.window = new RecentWindow(options.windowSize);
    this.#root = `${options.subjectRoot}.`;
  }

  async start(): Promise<void> {
    await this.#begin();
    this.#timer = setInterval(() => void this.checkEpoch(), this.options.epochCheckMs ?? 5_000);
    this.#timer.unref();
  }

  /** Whether `epoch` names the stream being followed (the latest `created` or one it was reported with before). */
  isCurrentEpoch(epoch: string): boolean {
    return this.#epochs.has(epoch);
  }

  /** Resolves once the follower has reached the stream's last sequence as of start. */
  whenReady(): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve) => this.#readyWaiters.push(resolve));
  }

  /** Resolves true once head ≥ seq, false on timeout or reset. */
  waitForHead(seq: number, timeoutMs: number): Promise<boolean> {
    if (this.head >= seq) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = {
        seq,
        resolve: (ok: boolean) => {
          clearTimeout(timer);
          resolve(ok);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#messages?.close().catch(() => {});
    this.#messages = null;
    for (const w of this.#waiters) w.resolve(false);
    this.#waiters = [];
  }

  /**
   * Compares the live stream's creation time with ours: a different one restarts from its start (and voids
   * every cursor); the same one after our consumer vanished resumes from head + 1. A call during a check
   * resolves after one more check that starts once the current one is done, so it sees the stream as it is now.
   */
  checkEpoch(): Promise<void> {
    if (this.#checking) {
      this.#checkAgain = true;
      return this.#checking;
    }
    this.#checking = (async () => {
      do {
        this.#checkAgain = false;
        await this.#checkEpochOnce();
      } while (this.#checkAgain && !this.#stopped);
    })().finally(() => {
      this.#checking = null;
    });
    return this.#checking;
  }

  async #checkEpochOnce(): Promise<void> {
    if (this.#stopped) return;
    let created: string;
    let lastSeq: number;
    try {
      const info = await this.options.jsm.streams.info(this.options.streamName);
      created = epochOf(info);
      lastSeq = info.state.last_seq;
    } catch (error) {
      if (!isNotFound(error)) this.options.logger.warn({ err: error }, 'stream info failed');
      return;
    }
    if (
      created !== this.epoch &&
      (await holdsMessage(this.options.jsm, this.options.streamName, this.head, this.#headMessageId))
    ) {
      // NATS replicas that disagree on the stream's creation time: resetting every client would be for nothing.
      this.options.logger.warn(
        { from: this.epoch, to: created, head: this.head },
        "the stream's creation time changed but it holds our head message: same stream, going on",
      );
      this.epoch = created;
      this.#rememberEpoch(created);
    }
    if (created === this.epoch) {
      this.#suspect = false;
      const held = this.#held.splice(0);
      if (this.#messages === null) await this.#restart(() => this.#consume(this.head + 1));
      else {
        for (const m of held) this.#apply(m);
        await this.#unstick(lastSeq);
      }
      return;
    }
    this.options.logger.warn({ from: this.epoch, to: created }, 'stream recreated: new epoch, following it');
    await this.#restart(() => this.#begin((epoch) => this.options.onReset(epoch)));
  }

  /**
   * The stream is ahead and our head has not moved since the previous check: the consumer stands still. It
   * happens when the NATS node that held it dies and the client library does not notice (seen on a 3-node
   * cluster under load: half a minute and more of silence on every socket). Resubscribe from head + 1;
   * nothing is doubled, since sequences at or below the head are ignored.
   */
  async #unstick(lastSeq: number): Promise<void> {
    if (lastSeq <= this.head) {
      this.#stalledAt = -1;
      return;
    }
    if (this.#stalledAt !== this.head) {
      this.#stalledAt = this.head;
      return;
    }
    this.stalls++;
    this.options.logger.warn(
      { head: this.head, streamLastSeq: lastSeq },
      'follower stands still behind the stream; resubscribing',
    );
    this.#stalledAt = -1;
    await this.#restart(() => this.#consume(this.head + 1));
  }

  async #restart(run: () => Promise<void>): Promise<void> {
    try {
      await this.#messages?.close().catch(() => {});
      this.#messages = null;
      this.#held = [];
      this.#suspect = false;
      await run();
    } catch (error) {
      this.options.logger.error({ err: error }, 'follower restart failed; retrying');
    }
  }

  /** `onEpoch` runs before the first message of the new epoch can be handed over. */
  async #begin(onEpoch?: (epoch: string) => void): Promise<void> {
    const info = await this.options.jsm.streams.info(this.options.streamName);
    const lastSeq = info.state.last_seq;
    const firstSeq = Math.max(1, info.state.first_seq);
    const epoch = epochOf(info);
    if (epoch !== this.epoch) {
      for (const w of this.#waiters) w.resolve(false);
      this.#waiters = [];
      // Another incarnation (or the first): none of the names the previous one went by holds for it.
      this.#epochs.clear();
    }
    this.epoch = epoch;
    this.#rememberEpoch(epoch);
    // Start far enough back to fill the window, so a resume right after start is answered from memory.
    const startSeq = Math.max(firstSeq, lastSeq - this.options.windowSize + 1);
    this.head = startSeq - 1;
    this.#headMessageId = null;
    this.window.reset(startSeq - 1);
    this.#catchUpTo = lastSeq;
    this.ready = false;
    onEpoch?.(this.epoch);
    if (this.head >= this.#catchUpTo) this.#markReady();
    await this.#consume(startSeq);
  }

  async #consume(startSeq: number): Promise<void> {
    const consumer = await orderedConsumer(
      this.options.js,
      this.options.streamName,
      { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq },
      {
        onRetry: (error, attempt) =>
          this.options.logger.warn({ err: error, attempt }, 'consumer creation unanswered; retrying'),
      },
    );
    const messages = await consumer.consume({
      max_messages: 1000,
      // Heartbeats come every expires/2 and two missed ones recreate the consumer: with the default 30 s, losing
      // the NATS node that holds it meant half a minute of silence on every socket.
      expires: PULL_EXPIRES_MS,
      callback: (m) => this.#apply(m),
    });
    this.#messages = messages;
    void this.#watch(messages);
  }

  async #watch(messages: ConsumerMessages): Promise<void> {
    for await (const status of messages.status()) {
      if (this.#messages !== messages) return;
      if (SUSPECT.has(status.type)) {
        // The stream may have been deleted (and recreated, its sequences starting again at 1): hold every
        // message until its epoch is checked, so that none of another incarnation reaches an old cursor.
        this.#suspect = true;
        this.suspectNotices++;
        this.lastNotice = status.type;
        this.options.logger.warn(
          { notice: status.type },
          'consumer notice: holding messages until the epoch is checked',
        );
        if (status.type !== 'ordered_consumer_recreated' && status.type !== 'reset') {
          // Our consumer is gone for good; the periodic check brings up a new one (or resets on a new epoch).
          await messages.close().catch(() => {});
          if (this.#messages === messages) this.#messages = null;
        }
        void this.checkEpoch();
      }
    }
  }

  #apply(m: JsMsg): void {
    if (this.#suspect) {
      this.#held.push(m);
      return;
    }
    const seq = m.seq;
    if (seq <= this.head) return;
    let message: StreamMessage | null = null;
    let frames: readonly string[] = NO_FRAMES;
    if (m.subject.startsWith(this.#root)) {
      try {
        message = parseStreamMessage(m.data);
        frames = framesOf(seq, message, this.options.feedOptions ?? DEFAULT_FEED_OPTIONS);
      } catch (error) {
        this.parseErrors++;
        this.options.logger.warn(
          { seq, subject: m.subject, err: error },
          'unreadable stream message skipped',
        );
      }
    }
    this.window.push(seq, frames);
    this.head = seq;
    this.#headMessageId = messageIdOf(m);
    this.options.onMessage({ seq, message, frames });
    if (!this.ready && seq >= this.#catchUpTo) this.#markReady();
    if (this.#waiters.length > 0) {
      const due = this.#waiters.filter((w) => w.seq <= seq);
      if (due.length > 0) {
        this.#waiters = this.#waiters.filter((w) => w.seq > seq);
        for (const w of due) w.resolve(true);
      }
    }
  }

  #rememberEpoch(epoch: string): void {
    this.#epochs.add(epoch);
    // Replicas that disagree give a handful of names; this only keeps a flapping report from growing it.
    for (const old of this.#epochs) {
      if (this.#epochs.size <= MAX_EPOCH_NAMES) break;
      if (old !== epoch) this.#epochs.delete(old);
    }
  }

  #markReady(): void {
    this.ready = true;
    for (const resolve of this.#readyWaiters.splice(0)) resolve();
  }
}

const NO_FRAMES: readonly string[] = Object.freeze([]);
const MAX_EPOCH_NAMES = 16;
const PULL_EXPIRES_MS = 5_000;
const SUSPECT = new Set([
  'ordered_consumer_recreated',
  'reset',
  'consumer_deleted',
  'consumer_not_found',
  'stream_not_found',
]);
