import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ROOT, Stack } from './launcher.ts';

const USAGE = `usage: npm start -- [--events-per-second N] [--players N] [--no-sim]

Starts GHOSTNET locally: devnet with our contracts, simulator traffic, ingester, projector, gateway and API,
on the local NATS and PostgreSQL. Ctrl-C stops everything it started.`;

const Flags = z.object({
  eventsPerSecond: z.coerce.number().min(0).default(20),
  players: z.coerce.number().int().min(1).default(20),
  sim: z.boolean().default(true),
  help: z.boolean().default(false),
});

const Env = z.object({
  DATABASE_URL: z.string().default('postgres://postgres@127.0.0.1:5432/postgres'),
  NATS_URL: z.string().default('nats://127.0.0.1:4222'),
  STACK_DATABASE: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/)
    .default('ghostnet_dev'),
  STACK_STREAM: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default('GHOSTNET_DEV'),
  API_PORT: z.coerce.number().int().default(3000),
  GATEWAY_PORT: z.coerce.number().int().default(8080),
  DEVNET_PORT: z.coerce.number().int().default(8545),
});

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

const parsed = parseArgs({
  args: process.argv.slice(2),
  options: {
    'events-per-second': { type: 'string' },
    players: { type: 'string' },
    'no-sim': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: false,
});
const flags = Flags.safeParse({
  eventsPerSecond: parsed.values['events-per-second'],
  players: parsed.values.players,
  sim: !parsed.values['no-sim'],
  help: parsed.values.help,
});
if (!flags.success) fail(`${z.prettifyError(flags.error)}\n\n${USAGE}`);
if (flags.data.help) {
  console.log(USAGE);
  process.exit(0);
}
const env = Env.safeParse(process.env);
if (!env.success) fail(z.prettifyError(env.error));

const stack = new Stack({
  adminDatabaseUrl: env.data.DATABASE_URL,
  database: env.data.STACK_DATABASE,
  natsUrl: env.data.NATS_URL,
  streamName: env.data.STACK_STREAM,
  subjectPrefix: 'ghostnet',
  apiPort: env.data.API_PORT,
  gatewayPort: env.data.GATEWAY_PORT,
  devnetPort: env.data.DEVNET_PORT,
  metricsPorts: { ingester: 9101, projector: 9102, gateway: 9103 },
  eventsPerSecond: flags.data.sim ? flags.data.eventsPerSecond : 0,
  players: flags.data.players,
  stateDir: join(ROOT, '.devnet', 'stack'),
  log: (line) => console.log(line),
});

const missing = await stack.missing();
if (missing) fail(`GHOSTNET cannot start: a prerequisite is missing.\n${missing}`);

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping everything this command started…');
  await stack.stop();
  console.log('stopped.');
  process.exit(0);
};
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());

try {
  console.log(
    `resetting the dev stream ${env.data.STACK_STREAM} and database ${env.data.STACK_DATABASE} (the devnet chain is new on every start)`,
  );
  await stack.resetState();
  await stack.start();
} catch (error) {
  console.error(`start failed: ${(error as Error).message}`);
  await stack.stop();
  process.exit(1);
}
console.log('\nGHOSTNET is up:');
for (const [what, url] of Object.entries(stack.urls())) console.log(`  ${what.padEnd(20)} ${url}`);
console.log('\nCtrl-C stops everything.');
