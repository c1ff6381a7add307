/**
 * The peer for `bench:gateway`: the same live feed served the conventional way, Socket.IO 4 with connection
 * state recovery (what the spec's Node stack would reach for). It follows the same stream with an ordered
 * consumer and emits each frame, serialized once by the same `framesOf`, to every socket.
 */
import { createServer } from 'node:http';
import { parseStreamMessage } from '@ghostnet/events';
import { framesOf } from '@ghostnet/gateway';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Server } from 'socket.io';

const port = Number(process.env.PORT);
const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
const js = jetstream(nc);
const jsm = await jetstreamManager(nc);
const streamName = process.env.STREAM_NAME!;
const info = await jsm.streams.info(streamName);

const http = createServer();
const io = new Server(http, {
  transports: ['websocket'],
  connectionStateRecovery: { maxDisconnectionDuration: 2 * 60_000, skipMiddlewares: true },
});
const consumer = await js.consumers.get(streamName, {
  deliver_policy: DeliverPolicy.StartSequence,
  opt_start_seq: info.state.last_seq + 1,
});
await consumer.consume({
  max_messages: 1000,
  callback: (m) => {
    for (const frame of framesOf(m.seq, parseStreamMessage(m.data))) io.emit('feed', frame);
  },
});
http.listen(port, '127.0.0.1', () => process.send?.({ ready: true }));
process.on('SIGTERM', () => {
  io.close();
  void nc.close().then(() => process.exit(0));
});
