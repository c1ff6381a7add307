import { fileURLToPath } from 'node:url';
import { issueSessionToken, keyringFromEnv } from '@ghostnet/auth';
import { Secret } from '@ghostnet/config';
import {
  appNodeArgs,
  freePort,
  listeningPorts,
  type Started,
  startProcess,
  type TestStream,
  waitFor,
} from '@ghostnet/test';

/** Test-only: the API as a separate process, as deployed. Shared by this package's and issue 8's tests. */
export const API_MAIN = fileURLToPath(new URL('../../../../apps/api/src/main.ts', import.meta.url));

export const TEST_JWT = {
  JWT_KEYS: `k1:${'s'.repeat(40)}`,
  JWT_ACTIVE_KID: 'k1',
  JWT_ISSUER: 'ghostnet-api',
  JWT_AUDIENCE: 'ghostnet',
  JWT_TTL_SECONDS: 86_400,
};
export const TEST_SIWE = { domain: 'localhost:5173', origin: 'http://localhost:5173' };

export interface RunningApi {
  url: string;
  port: number;
  process: Started;
  stop(): Promise<void>;
}

export async function startApi(options: {
  databaseUrl: string;
  stream: Pick<TestStream, 'natsUrl' | 'name' | 'prefix' | 'chainId'>;
  env?: Record<string, string>;
  port?: number;
  /** Wait for /health/live (default); false for a process expected to die early. */
  waitReady?: boolean;
  /** Extra node flags (e.g. --cpu-prof when profiling the bench). */
  nodeArgs?: string[];
}): Promise<RunningApi> {
  const port = options.port ?? (await freePort());
  const child = startProcess(process.execPath, [...(options.nodeArgs ?? []), ...appNodeArgs(API_MAIN)], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: options.databaseUrl,
      NATS_URL: options.stream.natsUrl,
      STREAM_NAME: options.stream.name,
      SUBJECT_PREFIX: options.stream.prefix,
      CHAIN_ID: String(options.stream.chainId),
      SIWE_DOMAIN: TEST_SIWE.domain,
      SIWE_ORIGIN: TEST_SIWE.origin,
      CORS_ORIGINS: TEST_SIWE.origin,
      OUTBOX_POLL_MS: '100',
      ...Object.fromEntries(Object.entries(TEST_JWT).map(([k, v]) => [k, String(v)])),
      ...options.env,
    },
  });
  const url = `http://127.0.0.1:${port}`;
  if (options.waitReady !== false) {
    await waitFor(
      'the API to listen',
      async () => {
        if (child.child.exitCode !== null) throw new Error(`API exited:\n${child.output()}`);
        // Ours must be the API that answers (another test's could hold a port chosen beforehand).
        if (!listeningPorts(child.pid).includes(port)) return false;
        const res = await fetch(`${url}/health/live`).catch(() => null);
        return res?.ok ?? false;
      },
      { timeoutMs: 120_000, intervalMs: 100 },
    ).catch((error) => {
      throw new Error(`${(error as Error).message}\n${child.output()}`);
    });
  }
  return { url, port, process: child, stop: () => child.stop() };
}

/** A session token as the API would issue after a SIWE login (same keys), for tests that need many players. */
export async function testToken(address: string, chainId: number): Promise<string> {
  const keyring = keyringFromEnv({ ...TEST_JWT, JWT_KEYS: new Secret(TEST_JWT.JWT_KEYS) });
  return (await issueSessionToken(keyring, { address: address.toLowerCase(), chainId })).token;
}

export async function call(
  base: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  // biome-ignore lint/suspicious/noExplicitAny: tests probe response bodies freely
): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body, headers: res.headers };
}
