import { consoleRoutes } from '@ghostnet/console';
import type { DatabasePool } from '@ghostnet/db';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';

/** The live console is served by the API when it knows where the gateway is (`npm start` sets this). */
const ConsoleEnv = z.object({
  CONSOLE_GATEWAY_URL: z.url({ protocol: /^wss?$/ }).optional(),
  CONSOLE_GATEWAY_METRICS_URL: z.url().optional(),
});

export async function consoleFromEnv(
  deps: { jsm: JetStreamManager; pool: DatabasePool; streamName: string },
  source: Record<string, string | undefined> = process.env,
): Promise<((app: FastifyInstance) => void) | null> {
  const env = ConsoleEnv.parse(source);
  if (!env.CONSOLE_GATEWAY_URL) return null;
  return consoleRoutes({
    gatewayUrl: env.CONSOLE_GATEWAY_URL,
    gatewayMetricsUrl: env.CONSOLE_GATEWAY_METRICS_URL,
    ...deps,
  });
}
