import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

/**
 * The load generator, run as its own process so that it does not share an event loop with what it measures.
 * argv[2] is a JSON spec file; prints one JSON line with the figures.
 */
interface Spec {
  url: string;
  paths: string[];
  connections: number;
  durationSeconds: number;
  /** Fixed offered load (requests/s over all connections); unset = as fast as possible. */
  rate?: number;
}

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Spec;
let i = 0;
const result = await autocannon({
  url: spec.url,
  connections: spec.connections,
  duration: spec.durationSeconds,
  ...(spec.rate ? { overallRate: spec.rate } : {}),
  requests: [
    {
      method: 'GET',
      setupRequest: (request) => ({ ...request, path: spec.paths[i++ % spec.paths.length]! }),
    },
  ],
});
console.log(
  JSON.stringify({
    requestsPerSecond: result.requests.average,
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  }),
);
