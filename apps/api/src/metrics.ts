import type { DatabasePool } from '@ghostnet/db';
import { Counter, createRegistry, Histogram, type Registry, trackDbPool } from '@ghostnet/metrics';
import type { FastifyInstance } from 'fastify';

/**
 * Request latency and outcome by route (the route pattern, never the raw URL, so cardinality stays bounded),
 * database pool usage; GET /metrics on the API's own port only when `servedOnApiPort` (no METRICS_PORT, as in
 * development): in a deployment the public port must not show them.
 */
export function apiMetrics(
  pool: DatabasePool,
  poolSize: number,
  servedOnApiPort = true,
): { registry: Registry; routes: (app: FastifyInstance) => void } {
  const registry = createRegistry('api');
  const labelNames = ['method', 'route', 'status'] as const;
  const duration = new Histogram({
    name: 'ghostnet_http_request_duration_seconds',
    help: 'API request latency',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const requests = new Counter({
    name: 'ghostnet_http_requests_total',
    help: 'API requests',
    labelNames,
    registers: [registry],
  });
  trackDbPool(registry, () => pool.state(), poolSize);

  return {
    registry,
    routes(app) {
      app.addHook('onResponse', (request, reply, done) => {
        const route = request.routeOptions.url ?? 'unmatched';
        if (route !== '/metrics') {
          const labels = { method: request.method, route, status: String(reply.statusCode) };
          duration.observe(labels, reply.elapsedTime / 1000);
          requests.inc(labels);
        }
        done();
      });
      if (!servedOnApiPort) return;
      app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
        reply.type(registry.contentType).send(await registry.metrics()),
      );
    },
  };
}
