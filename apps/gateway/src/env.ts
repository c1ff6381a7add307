import { jwtEnv } from '@ghostnet/auth';
import { bool, chainEnv, databaseEnv, httpEnv, logEnv, natsEnv, parseEnv } from '@ghostnet/config';
import { DEFAULT_LIMITS } from '@ghostnet/gateway';
import { z } from 'zod';

const int = (min: number) => z.coerce.number().int().min(min);

export const GatewayEnv = z.object({
  ...logEnv,
  ...natsEnv,
  ...databaseEnv,
  ...jwtEnv,
  ...httpEnv,
  CHAIN_ID: chainEnv.CHAIN_ID,
  /** Browser origins allowed to open a socket (comma-separated, exact `scheme://host[:port]`). */
  ALLOWED_ORIGINS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.url()))
    // Browsers send `scheme://host[:port]` with no path or trailing slash: compare in that form.
    .transform((origins) => origins.map((o) => new URL(o).origin)),
  SESSION_COOKIE: z.string().default('ghostnet_session'),
  MAX_CONNECTIONS_PER_USER: int(1).default(DEFAULT_LIMITS.maxConnectionsPerUser),
  ALLOW_ANONYMOUS_FEED: bool.default(false),
  /** JetStream KV bucket of connection leases, shared by all instances of a deployment. */
  CONNECTIONS_BUCKET: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default('gateway_connections'),
  /** Replicas of the bucket when this gateway creates it: 3 on a 3-node JetStream cluster, like the stream. */
  CONNECTIONS_REPLICAS: int(1).max(5).default(1),
  LEASE_SECONDS: int(3).default(DEFAULT_LIMITS.leaseMs / 1000),
  HEARTBEAT_SECONDS: int(4).default(DEFAULT_LIMITS.heartbeatSeconds),
  AUTH_TIMEOUT_MS: int(100).default(DEFAULT_LIMITS.authTimeoutMs),
  MAX_PAYLOAD_BYTES: int(512).default(DEFAULT_LIMITS.maxPayloadBytes),
  MAX_BUFFERED_BYTES: int(16 * 1024).default(DEFAULT_LIMITS.maxBufferedBytes),
  REPLAY_WINDOW: int(1).default(DEFAULT_LIMITS.replayWindow),
  REPLAY_LIMIT: int(1).default(DEFAULT_LIMITS.replayLimit),
  /** A JACK_IN of at least this many wei also raises WHALE_ALERT (must match the API's feed). */
  WHALE_THRESHOLD_WEI: z
    .string()
    .regex(/^[0-9]+$/)
    .optional(),
  INSTANCE_ID: z.string().optional(),
});
export type GatewayEnv = z.infer<typeof GatewayEnv>;

export function loadEnv(env: Record<string, string | undefined> = process.env): GatewayEnv {
  return parseEnv('gateway', GatewayEnv, env);
}
