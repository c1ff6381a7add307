import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DatabasePool } from '@ghostnet/db';
import { createLogger } from '@ghostnet/logger';
import type { ApiContext, ZodApp } from './context.ts';
import { minigameRoutes } from './minigame/routes.ts';
import { SharedQuota } from './rateLimit/sharedQuota.ts';
import { buildApp } from './server.ts';

/** schemas/openapi.json: generated from the routes' zod schemas (`npm run openapi -w @ghostnet/api`). */
export const OPENAPI_FILE = fileURLToPath(new URL('../../../schemas/openapi.json', import.meta.url));

/** The OpenAPI document the API serves at /docs/json, built without a database or NATS. */
/** Routes the API serves when configured (the mini-game), over stub dependencies: registering calls none. */
const documentedRoutes = [
  minigameRoutes({ signer: null as never, boostContext: null as never, challengeTtlMs: 300_000 }),
];

export async function renderOpenApi(
  routes: ((app: ZodApp, context: ApiContext) => void)[] = documentedRoutes,
): Promise<string> {
  const logger = createLogger({ name: 'openapi', level: 'silent' });
  const context = { logger, keyring: null, chainId: 0 } as unknown as ApiContext;
  const app = await buildApp(
    context,
    {
      CHAIN_ID: 0,
      CORS_ORIGINS: [],
      TRUST_PROXY_HOPS: 0,
      BODY_LIMIT_BYTES: 16_384,
      DOCS_ENABLED: true,
      RATE_LIMIT_ANON_PER_MINUTE: 100,
      RATE_LIMIT_USER_PER_MINUTE: 1000,
    },
    new SharedQuota({ pool: {} as DatabasePool }),
    routes,
  );
  const document = app.swagger();
  await app.close();
  return `${JSON.stringify(document, null, 2)}\n`;
}

export async function writeOpenApi(file = OPENAPI_FILE): Promise<string> {
  writeFileSync(file, await renderOpenApi());
  return file;
}

export async function openApiIsStale(file = OPENAPI_FILE): Promise<boolean> {
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    return true;
  }
  return current !== (await renderOpenApi());
}
