/**
 * The benchmark's load generator, in a process of its own: in production the ingester appends from another
 * process, so the projector's event loop must not also build and publish the load it is measured on (each
 * publish is a socket write, a request with its own error object and inbox). Commands come over IPC
 * (publisherProtocol.ts).
 */

import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { publishAll, SyntheticGame } from '../src/testing/synthetic.ts';
import {
  type BulkResult,
  type PacedResult,
  PublisherCommand,
  PublisherSetup,
  Ready,
} from './publisherProtocol.ts';

function send(message: unknown): void {
  process.send!(message);
}

async function main() {
  // The bench gone (killed, crashed): no orphan left publishing into a stream nobody reads.
  process.on('disconnect', () => process.exit(0));
  const setup = PublisherSetup.parse(JSON.parse(process.env.BENCH_PUBLISHER ?? '{}'));
  const nc = await connect({ servers: setup.natsUrl, name: 'bench-project-publisher' });
  const js = jetstream(nc);
  const game = new SyntheticGame({
    seed: setup.seed,
    players: setup.players,
    capacity: setup.capacity,
    resetEvery: setup.resetEvery,
  });
  const publish = (batch: ReturnType<SyntheticGame['take']>, inflight: number) =>
    publishAll(js, setup.chainId, setup.prefix, batch, inflight);

  process.on('message', async (raw: unknown) => {
    const command = PublisherCommand.parse(raw);
    if (command.cmd === 'stop') {
      await nc.close();
      process.disconnect();
      return;
    }
    if (command.cmd === 'bulk') {
      let last = 0;
      let low = Number.POSITIVE_INFINITY;
      let high = 0;
      for (let done = 0; done < command.events; ) {
        const chunk = game.take(Math.min(10_000, command.events - done));
        low = Math.min(low, chunk[0]!.block.number);
        high = Math.max(high, chunk[chunk.length - 1]!.block.number);
        const seqs = await publish(chunk, 512);
        last = seqs[seqs.length - 1]!;
        done += chunk.length;
      }
      send({ last, blocks: high - low + 1 } satisfies BulkResult);
      return;
    }
    game.msPerTx = command.msPerTx;
    game.resetEvery = command.resetEvery;
    const tickMs = 10;
    const perTick = Math.max(1, Math.round((command.rate * tickMs) / 1000));
    const started = Date.now();
    const end = started + command.seconds * 1000;
    const counts = new Map<string, number>();
    const names: [number, string][] = [];
    let sent = 0;
    let last = 0;
    while (Date.now() < end) {
      const due = Math.floor(((Date.now() - started) / 1000) * command.rate);
      if (sent < due) {
        const batch = game.take(Math.min(perTick, due - sent));
        const seqs = await publish(batch, 64);
        last = seqs[seqs.length - 1]!;
        for (const [k, e] of batch.entries()) {
          names.push([seqs[k]!, e.name]);
          counts.set(e.name, (counts.get(e.name) ?? 0) + 1);
        }
        sent += batch.length;
      } else {
        await new Promise((r) => setTimeout(r, 2));
      }
    }
    const achieved = sent / ((Date.now() - started) / 1000);
    send({ last, sent, achieved, counts: [...counts], names } satisfies PacedResult);
  });
  send(Ready.value);
}

await main();
