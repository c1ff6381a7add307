import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DatabasePool } from '@ghostnet/db';
import { projectionStatus, readLevelStats } from '@ghostnet/projections';
import type { JetStreamManager } from '@nats-io/jetstream';
import { build } from 'esbuild';
import type { FastifyInstance } from 'fastify';

const here = (file: string) => fileURLToPath(new URL(`./browser/${file}`, import.meta.url));

export interface ConsoleOptions {
  /** The gateway the page connects to (the browser's view of it). */
  gatewayUrl: string;
  /** Where the server reads the gateway's /metrics for the connected-clients count; optional. */
  gatewayMetricsUrl?: string;
  jsm: JetStreamManager;
  streamName: string;
  pool: DatabasePool;
}

/**
 * The live console: a static page plus the SDK bundled for the browser once, at start-up, from the same
 * source the frontend uses. Returns a route registrar for the API's `routes` option.
 */
export async function consoleRoutes(options: ConsoleOptions): Promise<(app: FastifyInstance) => void> {
  const bundle = await build({
    entryPoints: [here('console.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
  });
  const script = bundle.outputFiles[0]!.text;
  const html = readFileSync(here('console.html'), 'utf8');
  const css = readFileSync(here('console.css'), 'utf8');
  const gatewayOrigin = new URL(options.gatewayUrl).origin;
  // helmet's default CSP allows only 'self'; the page must also reach the gateway's WebSocket.
  const csp = `default-src 'self'; connect-src 'self' ${gatewayOrigin}; style-src 'self'; script-src 'self'; img-src 'self' data:; frame-ancestors 'none'`;

  return (app) => {
    const hide = { schema: { hide: true } };
    app.get('/console', hide, async (_req, reply) =>
      reply.header('content-security-policy', csp).type('text/html; charset=utf-8').send(html),
    );
    app.get('/console/console.js', hide, async (_req, reply) =>
      reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(script),
    );
    app.get('/console/console.css', hide, async (_req, reply) =>
      reply.type('text/css; charset=utf-8').send(css),
    );
    app.get('/console/status', hide, async (_req, reply) =>
      reply.header('cache-control', 'no-store').send(await status(options)),
    );
  };
}

async function status(options: ConsoleOptions) {
  const info = await options.jsm.streams.info(options.streamName).catch(() => null);
  const [projections, levels, clients] = await Promise.all([
    info
      ? projectionStatus({ pool: options.pool, jsm: options.jsm, streamName: options.streamName }).catch(
          () => [],
        )
      : [],
    readLevelStats(options.pool).catch(() => null),
    connectedClients(options.gatewayMetricsUrl),
  ]);
  return {
    gatewayUrl: options.gatewayUrl,
    stream: info
      ? { lastSequence: info.state.last_seq, messages: info.state.messages, epoch: info.created }
      : null,
    projections: projections.map((p) => ({
      projection: p.projection,
      version: p.version,
      status: p.status,
      lastSequence: p.lastSequence,
      lag: p.lag,
    })),
    clients,
    nextScans: Object.fromEntries((levels?.levels ?? []).map((l) => [l.level, l.nextScanTimestamp])),
  };
}

async function connectedClients(url: string | undefined): Promise<number | null> {
  if (!url) return null;
  try {
    const text = await (await fetch(url, { signal: AbortSignal.timeout(1_000) })).text();
    const line = text.split('\n').find((l) => l.startsWith('ghostnet_gateway_connections'));
    return line ? Number(line.split(/\s+/).pop()) : null;
  } catch {
    return null;
  }
}
