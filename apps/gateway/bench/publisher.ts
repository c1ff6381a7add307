/**
 * Appends JackedIn envelopes at a steady rate (IPC: {rate, seconds}); each carries its append time as the block
 * timestamp, which the feed event keeps: clients measure appended → received with it.
 */
import { createHash } from 'node:crypto';
import { createSubjects } from '@ghostnet/events';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
const js = jetstream(nc);
const subjects = createSubjects(Number(process.env.CHAIN_ID), process.env.SUBJECT_PREFIX!);
let n = 0;

// The floor every server shares: appended → delivered by a plain ordered consumer, in this process.
const floor = new Uint32Array(10_001);
const jsm = await jetstreamManager(nc);
const info = await jsm.streams.info(process.env.STREAM_NAME!);
const probe = await js.consumers.get(process.env.STREAM_NAME!, {
  deliver_policy: DeliverPolicy.StartSequence,
  opt_start_seq: info.state.last_seq + 1,
});
await probe.consume({
  max_messages: 1000,
  callback: (m) => {
    const ts = (m.json() as { block?: { timestamp?: number } }).block?.timestamp;
    if (ts) floor[Math.max(0, Math.min(10_000, Date.now() - ts))]!++;
  },
});
const hash = (s: string) => `0x${createHash('sha256').update(s).digest('hex')}`;

function envelope(now: number) {
  n++;
  const blockHash = hash(`bench-${process.pid}-${n}`);
  return {
    v: 1,
    kind: 'chain',
    id: `${subjects.root.split('.')[1]}:${blockHash}:0`,
    chainId: Number(process.env.CHAIN_ID),
    block: { number: n, hash: blockHash, timestamp: now },
    tx: { hash: hash(`tx-${n}`), index: 0, from: `0x${'11'.repeat(20)}` },
    logIndex: 0,
    address: `0x${'22'.repeat(20)}`,
    observedAt: now,
    contract: 'GhostCore',
    name: 'JackedIn',
    args: {
      user: `0x${(n % 5000).toString(16).padStart(40, '0')}`,
      amount: '50000000000000000000',
      level: 'DARKNET',
      newTotal: '50000000000000000000',
    },
  };
}

process.on(
  'message',
  async (msg: { id: number; rate?: number; seconds?: number; floor?: 'reset' | 'report' }) => {
    if (msg.floor === 'reset') {
      floor.fill(0);
      return process.send!({ id: msg.id, ok: true });
    }
    if (msg.floor === 'report') return process.send!({ id: msg.id, histogram: Array.from(floor) });
    const rate = msg.rate!;
    const seconds = msg.seconds!;
    const started = Date.now();
    let sent = 0;
    let lagging = 0;
    const pending = new Set<Promise<unknown>>();
    while (Date.now() - started < seconds * 1000) {
      // Catch up to where the schedule says we should be, in 5 ms ticks.
      const due = Math.floor(((Date.now() - started) / 1000) * rate);
      while (sent < due) {
        const e = envelope(Date.now());
        const p = js.publish(subjects.chain('JackedIn'), JSON.stringify(e), { msgID: e.id });
        pending.add(p);
        void p.finally(() => pending.delete(p));
        sent++;
        if (pending.size > 2000) {
          lagging++;
          await Promise.race(pending);
        }
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await Promise.all(pending);
    process.send!({ id: msg.id, sent, seconds: (Date.now() - started) / 1000, lagging });
  },
);
process.send!({ id: 0, ready: true });
