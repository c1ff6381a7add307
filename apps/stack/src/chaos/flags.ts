import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { z } from 'zod';

export const USAGE = `usage: npm run chaos -- [--minutes N] [--seed S] [--clients K] [--events-per-second R]

Starts a GHOSTNET of its own on loopback (private nats-server and PostgreSQL on free ports, anvil with our
contracts, ingester, projector, two gateways, API), K SDK clients and simulator traffic; for N minutes kills a
random component (SIGKILL; immediate stop for PostgreSQL) and restarts it after a short random delay; then lets
everything catch up and checks: stream = chain, tables = a fresh replay, every client got every event once.
Prints a report and exits 1 if a check fails. Ctrl-C stops everything it started.

  --minutes N              chaos phase length (default 2; fractions allowed)
  --seed S                 picks the kills, delays and simulator run (default: random, printed)
  --clients K              SDK clients through the two gateways (default 20)
  --events-per-second R    simulator pace (default 25)
  --help                   this text`;

export const ChaosFlags = z.object({
  minutes: z.coerce
    .number({ error: 'must be a number of minutes' })
    .positive('must be positive')
    .max(24 * 60, 'must be at most a day')
    .default(2),
  seed: z
    .string()
    .min(1)
    .default(() => randomBytes(4).toString('hex')),
  clients: z.coerce
    .number({ error: 'must be a whole number' })
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(2_000, 'must be at most 2000')
    .default(20),
  eventsPerSecond: z.coerce
    .number({ error: 'must be a number' })
    .positive('must be positive')
    .max(1_000, 'must be at most 1000 (a modest load is the point)')
    .default(25),
  help: z.boolean().default(false),
});
export type ChaosFlags = z.infer<typeof ChaosFlags>;

export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseChaosFlags(argv: string[]): ChaosFlags {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        minutes: { type: 'string' },
        seed: { type: 'string' },
        clients: { type: 'string' },
        'events-per-second': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const parsed = ChaosFlags.safeParse({
    minutes: values.minutes,
    seed: values.seed,
    clients: values.clients,
    eventsPerSecond: values['events-per-second'],
    help: values.help ?? false,
  });
  if (!parsed.success) {
    const names: Record<string, string> = { eventsPerSecond: '--events-per-second' };
    throw new UsageError(
      parsed.error.issues
        .map((i) => `${names[String(i.path[0])] ?? `--${String(i.path[0])}`} ${i.message}`)
        .join('\n'),
    );
  }
  return parsed.data;
}
