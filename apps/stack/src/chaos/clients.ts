import { type Cursor, GatewayClient } from '@ghostnet/client';
import WebSocket from 'ws';

const WS = WebSocket as unknown as ConstructorParameters<typeof GatewayClient>[0]['WebSocket'];

/**
 * What one client saw, as `sequenceId:index:id` keys, split at each FULL_SYNC: a snapshot replaces the
 * client's state, so the feed owes it only what follows the snapshot's sequence.
 */
export interface Segment {
  /** The feed resumes after this sequence (a snapshot's, or the cursor the client started with). */
  after: number;
  via: 'full-sync' | 'cursor';
  frames: string[];
  /** FEED_EVENT `count` as the client got it, per sequence (checked against the stream's). */
  counts: Map<number, number>;
}

export interface Watched {
  id: number;
  client: GatewayClient;
  segments: Segment[];
  disconnects: number;
  closeCodes: Map<number, number>;
  errors: string[];
}

/**
 * K SDK clients, each signed in as its own address (the gateway limits connections per user), rotating
 * through both gateways in different orders. Even ids start without a cursor (FULL_SYNC from the projector's
 * tables), odd ones from the stream head at the time (REPLAY).
 */
export class ClientFleet {
  readonly clients: Watched[] = [];

  constructor(
    readonly urls: readonly string[],
    readonly token: (address: string) => Promise<string>,
  ) {}

  add(count: number, resumeFrom: Cursor): void {
    for (let i = 0; i < count; i++) {
      const id = this.clients.length;
      const address = `0x${(0xc4a05000 + id).toString(16).padStart(40, '0')}`;
      const cursor = id % 2 ? resumeFrom : null;
      const rotated = [
        ...this.urls.slice(id % this.urls.length),
        ...this.urls.slice(0, id % this.urls.length),
      ];
      const client = new GatewayClient({
        url: rotated,
        token: () => this.token(address),
        WebSocket: WS,
        cursor,
      });
      const w: Watched = {
        id,
        client,
        segments: cursor ? [{ after: cursor.sequenceId, via: 'cursor', frames: [], counts: new Map() }] : [],
        disconnects: 0,
        closeCodes: new Map(),
        errors: [],
      };
      client.on('sync', (snapshot) =>
        w.segments.push({ after: snapshot.sequence, via: 'full-sync', frames: [], counts: new Map() }),
      );
      client.on('feed', (event, meta) => {
        const segment = w.segments.at(-1);
        if (!segment) {
          w.errors.push(`feed event ${meta.sequenceId}:${meta.index} before any snapshot`);
          return;
        }
        segment.frames.push(`${meta.sequenceId}:${meta.index}:${event.id}`);
        segment.counts.set(meta.sequenceId, meta.count);
      });
      client.on('reorg', (_orphaned, sequenceId) => w.segments.at(-1)?.frames.push(`${sequenceId}:0:reorg`));
      client.on('disconnect', ({ code }) => {
        w.disconnects++;
        w.closeCodes.set(code, (w.closeCodes.get(code) ?? 0) + 1);
      });
      client.on('error', (e) => {
        if (w.errors.length < 20) w.errors.push(`${e.code}: ${e.message}`);
      });
      client.connect();
      this.clients.push(w);
    }
  }

  disconnects(): number {
    return this.clients.reduce((n, c) => n + c.disconnects, 0);
  }

  allLive(): boolean {
    return this.clients.every((c) => c.client.status === 'live');
  }

  /** True when every client's cursor is at `head` or beyond. */
  caughtUp(head: number): boolean {
    return this.clients.every((c) => (c.client.cursor?.sequenceId ?? -1) >= head);
  }

  close(): void {
    for (const c of this.clients) c.client.close();
  }
}
