import { readFileSync } from 'node:fs';
import http from 'node:http';

/**
 * The fixed-rate load generator: requests leave at evenly spaced times (open loop), whatever the answers do,
 * and each latency is measured from the time its request was due, so a stall is charged to every request it
 * delayed. autocannon's `overallRate` is a per-second quota instead (every connection fires its share at the
 * top of each second, then waits): its "2,000 requests/s" is a burst at full speed followed by silence.
 * argv[2] is a JSON spec file; prints one JSON line with the figures.
 */
interface Spec {
  url: string;
  paths: string[];
  rate: number;
  durationSeconds: number;
  /** Most sockets open at once (keep-alive); a request waits for one when all are busy. */
  sockets?: number;
}

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Spec;
const target = new URL(spec.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: spec.sockets ?? 64 });
const latencies: number[] = [];
let non2xx = 0;
let errors = 0;
let inFlight = 0;
let sent = 0;

function send(path: string, due: number): void {
  inFlight++;
  const req = http.get(
    { host: target.hostname, port: target.port, path, agent, headers: { accept: 'application/json' } },
    (res) => {
      res.resume();
      res.on('end', () => {
        inFlight--;
        if (res.statusCode! < 200 || res.statusCode! >= 300) non2xx++;
        latencies.push(performance.now() - due);
      });
    },
  );
  req.on('error', () => {
    inFlight--;
    errors++;
  });
}

const intervalMs = 1000 / spec.rate;
const start = performance.now();
const end = start + spec.durationSeconds * 1000;
await new Promise<void>((resolve) => {
  const tick = () => {
    const now = performance.now();
    // Everything due by now, each stamped with the time it was due.
    while (sent * intervalMs + start <= Math.min(now, end)) {
      send(spec.paths[sent % spec.paths.length]!, start + sent * intervalMs);
      sent++;
    }
    // A 1 ms timer, not a spin: the generator shares the two cores with what it measures.
    if (now < end) setTimeout(tick, 1);
    else resolve();
  };
  tick();
});
while (inFlight > 0) await new Promise((r) => setTimeout(r, 5));
agent.destroy();

latencies.sort((a, b) => a - b);
const at = (q: number) =>
  Number(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(2));
console.log(
  JSON.stringify({
    requestsPerSecond: latencies.length / spec.durationSeconds,
    total: latencies.length,
    p50: at(0.5),
    p99: at(0.99),
    max: Number(latencies[latencies.length - 1]!.toFixed(2)),
    non2xx,
    errors,
    timeouts: 0,
  }),
);
