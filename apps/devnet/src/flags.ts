import { parseArgs } from 'node:util';
import { z } from 'zod';

export const USAGE = `usage: npm run devnet -- [options]

Starts anvil, deploys DataToken, GhostCore and TraceScan, sets the boost signer, funds and approves the
test wallets and writes the deployment file the apps read. Ctrl-C stops what it started.

  --port N          anvil's port (default 8545; env DEVNET_PORT)
  --host HOST       interface anvil listens on (default 127.0.0.1; env DEVNET_HOST)
  --block-time N    mine a block every N seconds instead of one per transaction (env DEVNET_BLOCK_TIME)
  --chain-id N      chain id (default 31337)
  --attach URL      deploy onto a node already running at URL instead of starting anvil (env DEVNET_ATTACH)
  --ws-url URL      its WebSocket URL, with --attach (default: the http URL as ws://)
  --out FILE        where to write the deployment (default .devnet/deployment.json; env DEPLOYMENT_FILE)
  --help            this text`;

const port = z.coerce
  .number({ error: 'must be a port number' })
  .int('must be a port number')
  .min(1, 'must be a port number')
  .max(65535, 'must be a port number');
const url = z.url({ protocol: /^(https?|wss?)$/, error: 'must be an http(s):// or ws(s):// URL' });

export const DevnetFlags = z
  .object({
    port: port.default(8545),
    host: z.string().min(1).default('127.0.0.1'),
    blockTime: z.coerce
      .number({ error: 'must be a positive number of seconds' })
      .positive('must be a positive number of seconds')
      .optional(),
    chainId: z.coerce
      .number({ error: 'must be a positive integer' })
      .int('must be a positive integer')
      .positive('must be a positive integer')
      .default(31337),
    attach: url.optional(),
    wsUrl: url.optional(),
    out: z.string().min(1).default('.devnet/deployment.json'),
    help: z.boolean().default(false),
  })
  .superRefine((flags, ctx) => {
    if (flags.attach && flags.blockTime !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['blockTime'],
        message: 'cannot be set with --attach (the node mines)',
      });
    }
    if (flags.wsUrl && !flags.attach) {
      ctx.addIssue({ code: 'custom', path: ['wsUrl'], message: 'only with --attach' });
    }
  });
export type DevnetFlags = z.infer<typeof DevnetFlags>;

export class UsageError extends Error {
  override name = 'UsageError';
}

const FLAG_NAMES: Record<string, string> = {
  port: '--port',
  host: '--host',
  blockTime: '--block-time',
  chainId: '--chain-id',
  attach: '--attach',
  wsUrl: '--ws-url',
  out: '--out',
};

/** Flags win over the environment; every problem is reported at once, by flag name. */
export function parseDevnetFlags(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
): DevnetFlags {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'block-time': { type: 'string' },
        'chain-id': { type: 'string' },
        attach: { type: 'string' },
        'ws-url': { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const pick = (flag: string | boolean | undefined, envName: string) =>
    flag ?? (env[envName] === '' ? undefined : env[envName]);
  const result = DevnetFlags.safeParse({
    port: pick(values.port, 'DEVNET_PORT'),
    host: pick(values.host, 'DEVNET_HOST'),
    blockTime: pick(values['block-time'], 'DEVNET_BLOCK_TIME'),
    chainId: values['chain-id'],
    attach: pick(values.attach, 'DEVNET_ATTACH'),
    wsUrl: values['ws-url'],
    out: pick(values.out, 'DEPLOYMENT_FILE'),
    help: values.help,
  });
  if (result.success) return result.data;
  throw new UsageError(
    result.error.issues
      .map((i) => `${FLAG_NAMES[String(i.path[0])] ?? String(i.path[0] ?? 'flags')}: ${i.message}`)
      .join('\n'),
  );
}
