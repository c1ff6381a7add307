import { chainEnv, logEnv, natsEnv, parseEnv, readJsonConfigFile } from '@ghostnet/config';
import { z } from 'zod';

const address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte address')
  .transform((a) => a.toLowerCase());

export const IngesterEnv = z
  .object({
    ...logEnv,
    ...natsEnv,
    ...chainEnv,
    CHAIN_ID: z.coerce.number().int().positive().optional(),
    RPC_URL: z.string().url().optional(),
    RPC_WS_URL: z.string().url().optional(),
    GHOST_CORE_ADDRESS: address.optional(),
    TRACE_SCAN_ADDRESS: address.optional(),
    START_BLOCK: z.coerce.number().int().nonnegative().optional(),
    /** Stream replicas when the ingester creates the stream (3 on a JetStream cluster). */
    STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).optional(),
    CONFIRMATIONS: z.coerce.number().int().nonnegative().default(0),
    MAX_REORG_DEPTH: z.coerce.number().int().positive().default(64),
    POLL_INTERVAL_MS: z.coerce.number().int().positive().optional(),
    RPC_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
    /** auto: backfill through eth_getLogsWithCursor when the RPC answers it (MegaETH); off: eth_getLogs only. */
    RPC_LOGS_WITH_CURSOR: z.enum(['auto', 'off']).default('auto'),
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  })
  .superRefine(
    (env, ctx) => {
      // Either a deployment file (the devnet writes one) or the explicit chain settings.
      if (env.DEPLOYMENT_FILE) return;
      for (const key of [
        'CHAIN_ID',
        'RPC_URL',
        'GHOST_CORE_ADDRESS',
        'TRACE_SCAN_ADDRESS',
        'START_BLOCK',
      ] as const) {
        if (env[key] === undefined)
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: 'required but not set (or set DEPLOYMENT_FILE)',
          });
      }
      // Run even when other variables failed, so that one message lists every problem.
    },
    { when: () => true },
  );

const DeploymentFile = z
  .object({
    chainId: z.number().int().positive(),
    rpcUrl: z.string().url(),
    wsUrl: z.string().url().optional(),
    addresses: z.object({ GhostCore: address, TraceScan: address }).loose(),
    deployBlock: z.number().int().nonnegative(),
  })
  .loose();

export interface IngesterConfig {
  chainId: number;
  rpcUrl: string;
  wsUrl?: string;
  addresses: { GhostCore: string; TraceScan: string };
  startBlock: number;
  env: z.infer<typeof IngesterEnv>;
}

export function loadConfig(source: Record<string, string | undefined> = process.env): IngesterConfig {
  const env = parseEnv('ingester', IngesterEnv, source);
  const file = env.DEPLOYMENT_FILE
    ? readJsonConfigFile('ingester', 'DEPLOYMENT_FILE', env.DEPLOYMENT_FILE, DeploymentFile)
    : null;
  return {
    chainId: env.CHAIN_ID ?? file!.chainId,
    rpcUrl: env.RPC_URL ?? file!.rpcUrl,
    wsUrl: env.RPC_WS_URL ?? file?.wsUrl,
    addresses: {
      GhostCore: env.GHOST_CORE_ADDRESS ?? file!.addresses.GhostCore,
      TraceScan: env.TRACE_SCAN_ADDRESS ?? file!.addresses.TraceScan,
    },
    startBlock: env.START_BLOCK ?? file!.deployBlock,
    env,
  };
}
