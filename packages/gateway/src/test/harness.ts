import { issueSessionToken, type JwtKeyring } from '@ghostnet/auth';
import type { ServerFrame, Snapshot } from '@ghostnet/client/protocol';
import { parseStreamMessage } from '@ghostnet/events';
import { createLogger } from '@ghostnet/logger';
import { epochOf, readRange } from '@ghostnet/stream';
import type { TestStream } from '@ghostnet/test';
import WebSocket from 'ws';
import { framesOf } from '../feed/frames.ts';
import { Gateway, type GatewayOptions } from '../server/gateway.ts';
import type { SnapshotSource } from '../snapshot/source.ts';

export const TEST_JWT_SECRET = 'test-secret-that-is-at-least-32-characters-long';
export const testKeyring: JwtKeyring = {
  keys: new Map([['k1', new TextEncoder().encode(TEST_JWT_SECRET)]]),
  activeKid: 'k1',
  issuer: 'ghostnet-api',
  audience: 'ghostnet',
  ttlSeconds: 3600,
  chainId: 31337,
};
export const JWT_ENV = {
  JWT_KEYS: `k1:${TEST_JWT_SECRET}`,
  JWT_ACTIVE_KID: 'k1',
};

export async function tokenFor(address: string, now = Date.now()): Promise<string> {
  return (await issueSessionToken(testKeyring, { address, chainId: 31337 }, now)).token;
}

/**
 * Stand-in for the projector while a test does not run it: a snapshot that reflects the stream's head (as a
 * caught-up projector's would) with no state. The FULL_SYNC test with the real projector tables is separate.
 */
export function streamHeadSnapshots(stream: TestStream, lag = 0): SnapshotSource & { reads: number } {
  const source = {
    reads: 0,
    async readSnapshot(): Promise<Snapshot> {
      source.reads++;
      const info = await stream.jsm.streams.info(stream.name);
      return {
        sequence: Math.max(0, info.state.last_seq - lag),
        epoch: epochOf(info),
        networkState: null,
        levels: [],
        position: null,
        recentFeed: [],
      };
    },
    async readPosition() {
      const info = await stream.jsm.streams.info(stream.name);
      return { position: null, sequence: info.state.last_seq, epoch: epochOf(info) };
    },
    async positionsCheckpoint() {
      const info = await stream.jsm.streams.info(stream.name);
      return { sequence: info.state.last_seq, epoch: epochOf(info) };
    },
    async readDeadlines() {
      return { scans: [], systemReset: null };
    },
  };
  return source;
}

export const silentLogger = createLogger({
  name: 'gateway-test',
  level: process.env.TEST_LOG_LEVEL ?? 'silent',
});

export async function startTestGateway(
  stream: TestStream,
  options: Partial<GatewayOptions> = {},
): Promise<{ gateway: Gateway; url: string; stop(): Promise<void> }> {
  const gateway = new Gateway({
    nc: stream.nc,
    streamName: stream.name,
    subjectRoot: stream.subjects.root,
    keyring: testKeyring,
    snapshots: streamHeadSnapshots(stream),
    logger: silentLogger,
    host: '127.0.0.1',
    port: 0,
    allowedOrigins: ['https://ghostnet.test'],
    connectionsBucket: `gw_${stream.name}`,
    ...options,
  });
  await gateway.start();
  await gateway.whenReady();
  return {
    gateway,
    url: `ws://127.0.0.1:${gateway.port}`,
    async stop() {
      await gateway.stop();
      await stream.jsm.streams.delete(`KV_gw_${stream.name}`).catch(() => {});
    },
  };
}

/** A protocol-level client (no SDK): sends raw frames, records everything, for the bad-input and path tests. */
export class RawClient {
  readonly frames: ServerFrame[] = [];
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: (() => void)[] = [];

  constructor(url: string, options: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(url, options);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.#wake();
      });
    });
    this.ws.on('message', (data, isBinary) => {
      if (!isBinary) this.frames.push(JSON.parse(data.toString()) as ServerFrame);
      this.#wake();
    });
  }

  #wake() {
    for (const w of this.#waiters.splice(0)) w();
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The first frame (from `from` on) of this type, waiting for it. */
  async next<T extends ServerFrame['type']>(
    type: T,
    timeoutMs = 10_000,
    from = 0,
  ): Promise<Extract<ServerFrame, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.slice(from).find((f) => f.type === type);
      if (found) return found as Extract<ServerFrame, { type: T }>;
      if (Date.now() > deadline || this.ws.readyState === WebSocket.CLOSED) {
        throw new Error(`no ${type} frame; got ${this.frames.map((f) => f.type).join(',') || 'nothing'}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.ws.close();
  }
}

export interface ExpectedFrame {
  sequenceId: number;
  index: number;
  id: string;
}

/** What the feed must deliver for the stream range (after, to]: derived from the stream itself. */
export async function expectedFrames(
  stream: TestStream,
  after: number,
  to: number,
): Promise<ExpectedFrame[]> {
  const out: ExpectedFrame[] = [];
  for await (const m of readRange(stream.js, stream.name, after + 1, to)) {
    for (const f of framesOf(m.seq, parseStreamMessage(m.data))) {
      const frame = JSON.parse(f) as {
        type: string;
        index?: number;
        event?: { id: string };
        sequenceId: number;
      };
      out.push({
        sequenceId: m.seq,
        index: frame.index ?? 0,
        id: frame.type === 'REORG' ? `reorg:${m.seq}` : frame.event!.id,
      });
    }
  }
  return out;
}
