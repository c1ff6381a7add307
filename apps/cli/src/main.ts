import { parseArgs } from 'node:util';
import { ConfigError } from '@ghostnet/config';
import { connectNats } from '@ghostnet/stream';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { z } from 'zod';
import { loadCliEnv } from './env.ts';
import { replay, resetCheck, status, streamInfo } from './stream.ts';

const HELP = `ghostnet — operate a GHOSTNET backend

  ghostnet status                          stream, consumers and their lag
  ghostnet stream info                     the stream's config, state and per-subject counts
  ghostnet replay --from SEQ [--to SEQ]    print envelopes as JSON lines
  ghostnet projections list|status [--json]|rebuild NAME [--wait]|resume NAME
  ghostnet ingester reset-check            what a restarted ingester would do (needs RPC_URL); exit 1 on a reorg

env: NATS_URL, STREAM_NAME, SUBJECT_PREFIX, CHAIN_ID, RPC_URL, DATABASE_URL (see apps/cli/README.md)
Everything shown here can also be read with the NATS CLI: infra/nats/README.md.`;

const print = (line: string) => process.stdout.write(`${line}\n`);
const Sequence = z.coerce.number().int().positive();

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'projections') {
    const { projections } = await import('./projections.ts');
    return projections(loadCliEnv(), argv.slice(1), print);
  }
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { from: { type: 'string' }, to: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [command, sub] = positionals;
  if (!command || values.help || command === 'help') {
    print(HELP);
    return 0;
  }
  const env = loadCliEnv();
  const nc = await connectNats({
    url: env.NATS_URL,
    name: 'ghostnet-cli',
    user: env.NATS_USER,
    password: env.NATS_PASSWORD,
  });
  try {
    const jsm = await jetstreamManager(nc);
    switch (`${command} ${sub ?? ''}`.trim()) {
      case 'status':
        await status(jsm, env, print);
        return 0;
      case 'stream info':
        await streamInfo(jsm, env, print);
        return 0;
      case 'replay': {
        const from = Sequence.parse(values.from ?? '1');
        const to = values.to === undefined ? undefined : Sequence.parse(values.to);
        await replay(jetstream(nc), jsm, env, { from, to }, print);
        return 0;
      }
      case 'ingester reset-check':
        return (await resetCheck(jsm, env, print)) ? 0 : 1;
      default:
        process.stderr.write(`unknown command: ${positionals.join(' ')}\n\n${HELP}\n`);
        return 2;
    }
  } finally {
    await nc.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError) process.stderr.write(`${error.message}\n`);
    else if (error instanceof z.ZodError)
      process.stderr.write(`invalid arguments: ${z.prettifyError(error)}\n`);
    else process.stderr.write(`ghostnet: ${(error as Error).message}\n`);
    process.exit(error instanceof ConfigError ? 78 : 1);
  },
);
