import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry };

/**
 * One registry per process, labelled with the app, with Node's default metrics (event loop lag, heap, GC).
 * Each app declares its own metrics on it; names are `ghostnet_<area>_<what>_<unit>`.
 */
export function createRegistry(app: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ app });
  collectDefaultMetrics({ register: registry, prefix: 'ghostnet_' });
  return registry;
}

export interface HealthChecks {
  /** Liveness: the process loop works. Default: always true. */
  live?: () => boolean | Promise<boolean>;
  /** Readiness: dependencies answer and the app can do its job. */
  ready?: () => boolean | Promise<boolean>;
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * A small HTTP server for Prometheus and Kubernetes: GET /metrics, /healthz (liveness), /readyz (readiness).
 * Apps without an HTTP server of their own (ingester, projector) expose these on METRICS_PORT.
 */
export function startMetricsServer(
  registry: Registry,
  options: { port: number; host?: string; health?: HealthChecks },
): Promise<MetricsServer> {
  const server: Server = createServer(async (req, res) => {
    try {
      if (req.method !== 'GET') {
        res.writeHead(405).end();
        return;
      }
      if (req.url === '/metrics') {
        const body = await registry.metrics();
        res.writeHead(200, { 'content-type': registry.contentType }).end(body);
        return;
      }
      if (req.url === '/healthz' || req.url === '/readyz') {
        const check = req.url === '/healthz' ? options.health?.live : options.health?.ready;
        const ok = check ? await check() : true;
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ ok }));
        return;
      }
      res.writeHead(404).end();
    } catch {
      res.writeHead(500).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () => new Promise((r) => server.close(() => r())),
      });
    });
  });
}

/** Reads the value of a gauge/counter sample from the text exposition (for tests). */
export function sampleValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const labelText = match[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) return Number(match[3]);
  }
  return undefined;
}

/**
 * Counts NATS connection events (reconnects, disconnects) from a client's status stream, e.g.
 * `trackNatsStatus(registry, nc.status())`.
 */
export function trackNatsStatus(registry: Registry, status: AsyncIterable<{ type: string }>): void {
  const events = new Counter({
    name: 'ghostnet_nats_connection_events_total',
    help: 'NATS client connection events by type (reconnect, disconnect, …)',
    labelNames: ['type'],
    registers: [registry],
  });
  for (const type of ['reconnect', 'disconnect']) events.inc({ type }, 0);
  void (async () => {
    for await (const s of status) events.inc({ type: s.type });
  })().catch(() => {});
}

/** A counter that mirrors a monotonically growing number read at scrape time. */
export function mirroredCounter(registry: Registry, name: string, help: string, read: () => number): Counter {
  let last = 0;
  return new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      if (now > last) this.inc(now - last);
      last = Math.max(last, now);
    },
  });
}

/** Database pool usage, for the "pool > 80%" alert: in use (acquired) and the configured size. */
export function trackDbPool(
  registry: Registry,
  state: () => { acquiredConnections: number; waitingClients: number },
  size: number,
): void {
  new Gauge({
    name: 'ghostnet_db_pool_in_use',
    help: 'Database connections checked out of the pool',
    registers: [registry],
    collect() {
      this.set(state().acquiredConnections);
    },
  });
  new Gauge({
    name: 'ghostnet_db_pool_waiting',
    help: 'Queries waiting for a database connection',
    registers: [registry],
    collect() {
      this.set(state().waitingClients);
    },
  });
  new Gauge({
    name: 'ghostnet_db_pool_size',
    help: 'Configured database pool size',
    registers: [registry],
  }).set(size);
}
