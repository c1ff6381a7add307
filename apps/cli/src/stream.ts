import { createSubjects, parseStreamMessage } from '@ghostnet/events';
import { createChainReader, createRpcClient, resyncFromStream } from '@ghostnet/ingest';
import { epochOf, orderedConsumer } from '@ghostnet/stream';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { CliEnv } from './env.ts';

export type Print = (line: string) => void;

/** `ghostnet stream info`: what `nats stream info GHOSTNET` shows, plus our epoch and the subjects' counts. */
export async function streamInfo(jsm: JetStreamManager, env: CliEnv, print: Print): Promise<void> {
  const info = await jsm.streams.info(env.STREAM_NAME, { subjects_filter: '>' });
  const subjects = Object.entries(info.state.subjects ?? {}).sort(([a], [b]) => a.localeCompare(b));
  print(`stream      ${info.config.name} (epoch ${epochOf(info)})`);
  print(`subjects    ${info.config.subjects?.join(', ')}`);
  print(
    `messages    ${info.state.messages} (seq ${info.state.first_seq}..${info.state.last_seq}), ${info.state.bytes} bytes`,
  );
  print(
    `storage     ${info.config.storage}, replicas ${info.config.num_replicas}, dedupe window ${info.config.duplicate_window / 1e9} s`,
  );
  print(`consumers   ${info.state.consumer_count}`);
  if (info.cluster) {
    print(
      `cluster     leader ${info.cluster.leader ?? '?'}, replicas ${(info.cluster.replicas ?? []).map((r) => `${r.name}${r.current ? '' : ' (behind)'}`).join(', ') || 'none'}`,
    );
  }
  for (const [subject, count] of subjects) print(`  ${String(count).padStart(10)}  ${subject}`);
}

/** `ghostnet status`: the stream and every consumer with its lag (messages not yet delivered/acked). */
export async function status(jsm: JetStreamManager, env: CliEnv, print: Print): Promise<void> {
  const info = await jsm.streams.info(env.STREAM_NAME);
  print(
    `stream ${info.config.name}: last seq ${info.state.last_seq}, ${info.state.messages} messages, epoch ${epochOf(info)}`,
  );
  print('consumers:');
  for await (const c of jsm.consumers.list(env.STREAM_NAME)) {
    const acked = c.ack_floor.stream_seq;
    print(
      `  ${c.name.padEnd(32)} acked to ${String(acked).padStart(8)}  lag ${String(info.state.last_seq - acked).padStart(8)}  pending ${c.num_pending}  redelivered ${c.num_redelivered}`,
    );
  }
}

/** `ghostnet replay --from SEQ [--to SEQ]`: prints the envelopes as JSON lines, each with its sequence. */
export async function replay(
  js: JetStreamClient,
  jsm: JetStreamManager,
  env: CliEnv,
  range: { from: number; to?: number },
  print: Print,
): Promise<number> {
  const info = await jsm.streams.info(env.STREAM_NAME);
  const last = Math.min(range.to ?? info.state.last_seq, info.state.last_seq);
  if (range.from > last) return 0;
  const consumer = await orderedConsumer(js, env.STREAM_NAME, { opt_start_seq: range.from });
  let printed = 0;
  while (true) {
    const batch = await consumer.fetch({
      max_messages: Math.min(1000, last - range.from + 1),
      expires: 2_000,
    });
    let seen = 0;
    for await (const m of batch) {
      seen++;
      if (m.seq > last) return printed;
      let message: unknown;
      try {
        message = parseStreamMessage(m.data);
      } catch (error) {
        message = { malformed: (error as Error).message };
      }
      print(JSON.stringify({ seq: m.seq, subject: m.subject, message }));
      printed++;
      if (m.seq >= last) return printed;
    }
    if (seen === 0) return printed;
  }
}

/**
 * `ghostnet ingester reset-check`: what the ingester would do if it (re)started now, without writing
 * anything: the newest published event still on the chain, and any events a reorg left orphaned.
 */
export async function resetCheck(jsm: JetStreamManager, env: CliEnv, print: Print): Promise<boolean> {
  if (!env.RPC_URL) throw new Error('ingester reset-check needs RPC_URL');
  const subjects = createSubjects(env.CHAIN_ID, env.SUBJECT_PREFIX);
  const reader = createChainReader(createRpcClient(env.RPC_URL), [], []);
  const chainId = await reader.chainId();
  if (chainId !== env.CHAIN_ID) throw new Error(`RPC serves chain ${chainId}, CHAIN_ID is ${env.CHAIN_ID}`);
  const result = await resyncFromStream({
    jsm,
    streamName: env.STREAM_NAME,
    subjects,
    chainId: env.CHAIN_ID,
    maxReorgDepth: env.MAX_REORG_DEPTH,
    isCanonical: async (n, hash) => (await reader.header(n))?.hash === hash,
    genesis: async () => {
      const h = env.START_BLOCK > 0 ? await reader.header(env.START_BLOCK - 1) : null;
      return h ?? { number: -1, hash: `0x${'0'.repeat(64)}` };
    },
  });
  const head = await reader.head();
  if (result.position) {
    print(
      `resume from block ${result.position.number} (${result.position.hash}) after log ${result.position.afterLogIndex}`,
    );
    print(`chain head ${head}: ${head - result.position.number} blocks to catch up`);
  } else print(`nothing canonical in the stream: would start from block ${env.START_BLOCK}`);
  if (result.notice) {
    print(`REORG: ${result.notice.orphanedSequences.length} published events are no longer on the chain`);
    print(
      `  common ancestor ${result.notice.commonAncestor.number} (${result.notice.commonAncestor.hash}), depth ${result.notice.depth}`,
    );
    print(`  orphaned sequences ${result.notice.orphanedSequences.join(',')}`);
    return false;
  }
  print('stream and chain agree');
  return true;
}
