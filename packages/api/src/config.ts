import { jwtEnv } from '@ghostnet/auth';
import { bool, chainEnv, databaseEnv, httpEnv, logEnv, natsEnv, secret } from '@ghostnet/config';
import { readDeployment } from '@ghostnet/contracts';
import { z } from 'zod';

const list = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

/** Everything apps/api reads from its environment, in one schema (parsed by `parseEnv`). */
export const apiEnv = {
  ...httpEnv,
  ...databaseEnv,
  ...natsEnv,
  ...chainEnv,
  ...jwtEnv,
  ...logEnv,
  /** Authority the frontend is served from; SIWE messages must name it (`ghostnet.io`, `localhost:5173`). */
  SIWE_DOMAIN: z.string().regex(/^[a-zA-Z0-9.-]+(:[0-9]{1,5})?$/, 'must be host[:port]'),
  /** Origin the SIWE `URI` must belong to; defaults to https://SIWE_DOMAIN. */
  SIWE_ORIGIN: z.url({ protocol: /^https?$/ }).optional(),
  SIWE_NONCE_TTL_SECONDS: z.coerce.number().int().min(30).max(3600).default(300),
  /** Browser origins allowed to call the API with credentials (comma-separated). */
  CORS_ORIGINS: list.default([]),
  /** Chain RPC for smart-contract wallet signatures (ERC-1271/6492); EOAs only without it. */
  RPC_URL: z.url().optional(),
  /** Ethereum mainnet RPC for ENS names; `ensName` is null without it. */
  ENS_RPC_URL: z.url().optional(),
  /** NetworkState.tvlCapacity (wei): no event carries it, the deployment configures it. */
  TVL_CAPACITY: z
    .string()
    .regex(/^(0|[1-9][0-9]{0,77})$/)
    .optional(),
  RATE_LIMIT_ANON_PER_MINUTE: z.coerce.number().int().positive().default(100),
  RATE_LIMIT_USER_PER_MINUTE: z.coerce.number().int().positive().default(1000),
  /** Behind a load balancer: the number of proxy hops to trust for the client IP (0 = none). */
  TRUST_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0),
  BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(1_048_576).default(16_384),
  OUTBOX_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(500),
  /** Serve the OpenAPI document and its UI at /docs. */
  DOCS_ENABLED: bool.default(true),
  /** Mini-game boosts: the signer GhostCore trusts (read once, never logged) and the contracts to check. */
  BOOST_SIGNER_PRIVATE_KEY: secret(
    z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'must be a 0x-prefixed 32-byte hex key'),
  ).optional(),
  GHOST_CORE_ADDRESS: z
    .string()
    .regex(/^0x[0-9a-fA-F]{40}$/)
    .optional(),
  TRACE_SCAN_ADDRESS: z
    .string()
    .regex(/^0x[0-9a-fA-F]{40}$/)
    .optional(),
  TYPING_CHALLENGE_TTL_SECONDS: z.coerce.number().int().min(30).max(3600).default(300),
  /** Test hook: die (SIGKILL) at this point of the outbox path. Refused when NODE_ENV=production. */
  API_TEST_CRASH_POINT: z.enum(['after-commit', 'after-publish']).optional(),
};

export const ApiEnv = z.object(apiEnv);
export type ApiEnv = z.infer<typeof ApiEnv>;

/**
 * The contracts the mini-game checks: GHOST_CORE_ADDRESS and TRACE_SCAN_ADDRESS (production), else the
 * deployment file the devnet writes (DEPLOYMENT_FILE, as the ingester reads it); null without either. Both
 * addresses come from the same place: one from the environment and one from a devnet file would pair
 * contracts of two deployments.
 */
export function contractAddresses(
  env: Pick<ApiEnv, 'GHOST_CORE_ADDRESS' | 'TRACE_SCAN_ADDRESS' | 'DEPLOYMENT_FILE'>,
): { GhostCore: `0x${string}`; TraceScan: `0x${string}` } | null {
  const { GHOST_CORE_ADDRESS: core, TRACE_SCAN_ADDRESS: scan } = env;
  if (core && scan) return { GhostCore: core as `0x${string}`, TraceScan: scan as `0x${string}` };
  if (core || scan)
    throw new Error('set both GHOST_CORE_ADDRESS and TRACE_SCAN_ADDRESS, or neither (then DEPLOYMENT_FILE)');
  if (!env.DEPLOYMENT_FILE) return null;
  const { addresses } = readDeployment(env.DEPLOYMENT_FILE);
  return { GhostCore: addresses.GhostCore, TraceScan: addresses.TraceScan };
}
