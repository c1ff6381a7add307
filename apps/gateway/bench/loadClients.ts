/**
 * Load generator process: holds many WebSocket connections to one server and counts what arrives. It speaks
 * just enough RFC 6455 over raw TCP (handshake, masked text frames out, unmasked frames in, ping → pong) to be
 * cheap per frame, so that it saturates later than the servers it measures. Kinds:
 * - `uws`: the GHOSTNET gateway protocol (RECONNECT with a cursor, then live FEED_EVENT frames);
 * - `socketio`: Engine.IO v4 / Socket.IO v5 over a websocket transport (`40` connect, `2` → `3` pings, `42[…]`).
 * Latency = receive time − the event's `timestamp` (set by the publisher at append time; same machine clock).
 * Controlled by the orchestrator over IPC.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

type Kind = 'uws' | 'socketio';
interface Command {
  id: number;
  cmd: 'connect' | 'trim' | 'reset' | 'report' | 'exit';
  kind?: Kind;
  port?: number;
  target?: number;
  cursor?: number;
  epoch?: string;
}

const HIST_MS = 10_000;
let histogram = new Uint32Array(HIST_MS + 1);
let frames = 0;
let samples = 0;
let windowStart = Date.now();
const closes = new Map<number, number>();
const conns = new Set<Conn>();
let connectFailures = 0;
const TIMESTAMP = Buffer.from('timestamp');
// Latency from every connection: the parse is a short byte scan, cheap next to the frame handling itself.

class Conn {
  socket: Socket;
  buf: Buffer = Buffer.alloc(0);
  upgraded = false;
  open = false;
  constructor(
    readonly kind: Kind,
    port: number,
    readonly onOpen: (c: Conn) => void,
    readonly onFail: () => void,
  ) {
    this.socket = connect({ host: '127.0.0.1', port });
    this.socket.setNoDelay(true);
    const path = kind === 'uws' ? '/' : '/socket.io/?EIO=4&transport=websocket';
    this.socket.on('connect', () => {
      this.socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    this.socket.on('data', (chunk) => this.#data(chunk));
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      conns.delete(this);
      if (!this.open) this.onFail();
      else if (!this.closedWith) closes.set(1006, (closes.get(1006) ?? 0) + 1);
    });
  }
  closedWith = 0;

  send(text: string, opcode = 1) {
    const payload = Buffer.from(text);
    const mask = randomBytes(4);
    const len = payload.length;
    const header =
      len < 126
        ? Buffer.from([0x80 | opcode, 0x80 | len])
        : Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 255]);
    for (let i = 0; i < len; i++) payload[i]! ^= mask[i & 3]!;
    this.socket.write(Buffer.concat([header, mask, payload]));
  }

  #data(chunk: Buffer) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    if (!this.upgraded) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (!this.buf.subarray(0, 12).toString().includes('101')) {
        this.socket.destroy();
        return;
      }
      this.upgraded = true;
      this.buf = this.buf.subarray(end + 4);
      if (this.kind === 'uws') this.onOpen(this);
    }
    let off = 0;
    const b = this.buf;
    while (b.length - off >= 2) {
      const op = b[off]! & 0x0f;
      let len = b[off + 1]! & 0x7f;
      let head = 2;
      if (len === 126) {
        if (b.length - off < 4) break;
        len = b.readUInt16BE(off + 2);
        head = 4;
      } else if (len === 127) {
        if (b.length - off < 10) break;
        len = Number(b.readBigUInt64BE(off + 2));
        head = 10;
      }
      if (b.length - off < head + len) break;
      const payload = b.subarray(off + head, off + head + len);
      off += head + len;
      if (op === 1) this.#text(payload);
      else if (op === 9) this.send(payload.toString(), 0xa);
      else if (op === 8) {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        this.closedWith = code;
        closes.set(code, (closes.get(code) ?? 0) + 1);
        this.socket.destroy();
        return;
      }
    }
    this.buf = off === b.length ? Buffer.alloc(0) : b.subarray(off);
  }

  #text(payload: Buffer) {
    if (this.kind === 'socketio') {
      const c0 = payload[0];
      if (c0 === 0x32 /* '2' ping */ && payload.length === 1) return this.send('3');
      if (c0 === 0x30 /* '0' open */) return this.send('40');
      if (c0 === 0x34 && payload[1] === 0x30 /* '40' connected */) {
        if (!this.open) this.onOpen(this);
        return;
      }
      if (!(c0 === 0x34 && payload[1] === 0x32)) return; // only '42' events count
    } else if (payload[9] !== 0x46 || payload[10] !== 0x45) {
      // Not `{"type":"FEED_EVENT"…`: REPLAY / PONG / CONNECTION_STATE.
      return;
    }
    frames++;
    const at = payload.indexOf(TIMESTAMP);
    if (at < 0) return;
    let i = at + TIMESTAMP.length;
    while (i < payload.length && (payload[i]! < 0x30 || payload[i]! > 0x39)) i++;
    let ts = 0;
    while (i < payload.length && payload[i]! >= 0x30 && payload[i]! <= 0x39)
      ts = ts * 10 + (payload[i++]! - 0x30);
    const latency = Date.now() - ts;
    histogram[Math.max(0, Math.min(HIST_MS, latency))]!++;
    samples++;
  }
}

async function topUp(kind: Kind, port: number, target: number, cursor: number, epoch: string) {
  let opening = 0;
  let opened = 0;
  const want = target - conns.size;
  if (want <= 0) return { connected: conns.size };
  await new Promise<void>((resolve) => {
    let failures = 0;
    const launch = () => {
      while (opening < 200 && opened + opening + failures < want) {
        opening++;
        const c = new Conn(
          kind,
          port,
          (conn) => {
            opening--;
            opened++;
            conn.open = true;
            conns.add(conn);
            if (kind === 'uws')
              conn.send(JSON.stringify({ type: 'RECONNECT', lastSequenceId: cursor, epoch }));
            if (opened + failures >= want) resolve();
            else launch();
          },
          () => {
            opening--;
            failures++;
            connectFailures++;
            if (opened + failures >= want) resolve();
            else launch();
          },
        );
        void c;
      }
    };
    launch();
  });
  return { connected: conns.size };
}

process.on('message', async (message: Command) => {
  switch (message.cmd) {
    case 'connect': {
      const result = await topUp(
        message.kind!,
        message.port!,
        message.target!,
        message.cursor ?? 0,
        message.epoch ?? '',
      );
      process.send!({ id: message.id, ...result, connectFailures });
      return;
    }
    case 'trim': {
      for (const c of [...conns].slice(message.target!)) {
        conns.delete(c);
        c.open = true;
        c.closedWith = 1000;
        c.socket.destroy();
      }
      process.send!({ id: message.id, connected: conns.size });
      return;
    }
    case 'reset':
      histogram = new Uint32Array(HIST_MS + 1);
      frames = 0;
      samples = 0;
      windowStart = Date.now();
      closes.clear();
      process.send!({ id: message.id, ok: true });
      return;
    case 'report':
      process.send!({
        id: message.id,
        frames,
        samples,
        ms: Date.now() - windowStart,
        histogram: Array.from(histogram),
        closes: Object.fromEntries(closes),
        connected: conns.size,
      });
      return;
    case 'exit':
      for (const c of conns) c.socket.destroy();
      process.exit(0);
  }
});
process.send!({ id: 0, ready: true });
