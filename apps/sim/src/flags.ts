import { parseArgs } from 'node:util';
import { z } from 'zod';

export const USAGE = `usage: npm run sim -- [options]

Plays GHOSTNET on the devnet: players with profiles (whale, grinder, degen, casual, sniper) jack in, add
stake, extract and apply boosts; a keeper moves chain time, runs the scans and submits the deaths; now and
then a system reset. Needs anvil (npm run devnet). The same seed on a fresh devnet replays the same run.

  --players N              concurrent players (default 50)
  --events-per-second N    pace to about N game events/s (default: as fast as the node goes)
  --duration S             stop after S seconds (default 30, unless --max-events or --max-blocks)
  --max-events N           stop after N game events (a large history: --max-events 100000)
  --max-blocks N           stop after N blocks
  --seed S                 (default 1)
  --seconds-per-block N    chain seconds per block, 1-119 (default 60)
  --txs-per-block N        (default 100)
  --no-boosts              do not play the mini-game
  --deployment FILE        the devnet's deployment file (default .devnet/deployment.json; env DEPLOYMENT_FILE)
  --rpc-url URL            override the deployment's RPC URL (env RPC_URL)
  --out FILE               write the whole summary, with every player's state, as JSON
  --json                   print the summary (without players) as JSON instead of text
  --quiet                  no progress lines
  --help                   this text`;

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: 'must be a whole number' })
    .int('must be a whole number')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`);

export const SimFlags = z.object({
  players: int(1, 100_000).default(50),
  eventsPerSecond: z.coerce.number({ error: 'must be a number' }).positive('must be positive').optional(),
  duration: z.coerce
    .number({ error: 'must be a positive number of seconds' })
    .positive('must be a positive number of seconds')
    .optional(),
  maxEvents: int(1).optional(),
  maxBlocks: int(1).optional(),
  seed: z.string().min(1).default('1'),
  secondsPerBlock: int(1, 119).default(60),
  txsPerBlock: int(1, 1000).default(100),
  boosts: z.boolean().default(true),
  deployment: z.string().min(1).default('.devnet/deployment.json'),
  rpcUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s):// URL' }).optional(),
  out: z.string().min(1).optional(),
  json: z.boolean().default(false),
  quiet: z.boolean().default(false),
  help: z.boolean().default(false),
});
export type SimFlags = z.infer<typeof SimFlags>;

export class UsageError extends Error {
  override name = 'UsageError';
}

const FLAG_NAMES: Record<string, string> = {
  players: '--players',
  eventsPerSecond: '--events-per-second',
  duration: '--duration',
  maxEvents: '--max-events',
  maxBlocks: '--max-blocks',
  seed: '--seed',
  secondsPerBlock: '--seconds-per-block',
  txsPerBlock: '--txs-per-block',
  deployment: '--deployment',
  rpcUrl: '--rpc-url',
  out: '--out',
};

export function parseSimFlags(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
): SimFlags {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        players: { type: 'string' },
        'events-per-second': { type: 'string' },
        duration: { type: 'string' },
        'max-events': { type: 'string' },
        'max-blocks': { type: 'string' },
        seed: { type: 'string' },
        'seconds-per-block': { type: 'string' },
        'txs-per-block': { type: 'string' },
        'no-boosts': { type: 'boolean' },
        deployment: { type: 'string' },
        'rpc-url': { type: 'string' },
        out: { type: 'string' },
        json: { type: 'boolean' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const fromEnv = (name: string) => (env[name] === '' ? undefined : env[name]);
  const result = SimFlags.safeParse({
    players: values.players,
    eventsPerSecond: values['events-per-second'],
    duration: values.duration,
    maxEvents: values['max-events'],
    maxBlocks: values['max-blocks'],
    seed: values.seed,
    secondsPerBlock: values['seconds-per-block'],
    txsPerBlock: values['txs-per-block'],
    boosts: values['no-boosts'] ? false : undefined,
    deployment: values.deployment ?? fromEnv('DEPLOYMENT_FILE'),
    rpcUrl: values['rpc-url'] ?? fromEnv('RPC_URL'),
    out: values.out,
    json: values.json,
    quiet: values.quiet,
    help: values.help,
  });
  if (result.success) return result.data;
  throw new UsageError(
    result.error.issues
      .map((i) => `${FLAG_NAMES[String(i.path[0])] ?? String(i.path[0] ?? 'flags')}: ${i.message}`)
      .join('\n'),
  );
}
