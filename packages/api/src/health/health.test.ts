import { createSubjects } from '@ghostnet/events';
import { ensureStream, streamConfigFor } from '@ghostnet/stream';
import {
  freePort,
  type PrivateNats,
  type PrivatePostgres,
  startPrivateNats,
  startPrivatePostgres,
  waitFor,
} from '@ghostnet/test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, type RunningApi, startApi } from '../testing/apiProcess.ts';

// Each file starts API processes: slow to start on a loaded machine, never a reason to fail.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

let pg: PrivatePostgres;
let nats: PrivateNats;
let api: RunningApi;
let metricsPort: number;
const stream = { name: 'HEALTH', prefix: 'health', chainId: 31337, natsUrl: '' };

beforeAll(async () => {
  [pg, nats] = await Promise.all([startPrivatePostgres(), startPrivateNats()]);
  stream.natsUrl = nats.url;
  const nc = await connect({ servers: nats.url });
  await ensureStream(
    await jetstreamManager(nc),
    streamConfigFor({ name: stream.name, subjectRoot: createSubjects(stream.chainId, stream.prefix).root }),
  );
  await nc.close();
  metricsPort = await freePort();
  api = await startApi({ databaseUrl: pg.url, stream, env: { METRICS_PORT: String(metricsPort) } });
});

afterAll(async () => {
  await api?.stop();
  await Promise.all([pg?.stop(), nats?.stop()]);
});

const ready = () => call(api.url, 'GET', '/health/ready');
const until = (what: string, status: number) =>
  waitFor(
    what,
    async () => {
      const res = await ready();
      return res.status === status ? res : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );

describe('health, with NATS and Postgres of the test’s own', () => {
  it('serves /metrics on METRICS_PORT (what Prometheus scrapes), not on the public port', async () => {
    await call(api.url, 'GET', '/crews');
    const scraped = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toMatch(/ghostnet_http_requests_total\{[^}]*route="\/crews"/);
    expect((await call(api.url, 'GET', '/metrics')).status).toBe(404);
  });

  it('is ready only while both Postgres and NATS answer; live all along; reads answer 503 without Postgres', async () => {
    expect((await ready()).body).toEqual({ status: 'ready', checks: { postgres: true, nats: true } });

    await nats.process.kill();
    const natsDown = await until('not ready without NATS', 503);
    expect(natsDown.body.error).toMatchObject({
      code: 'NOT_READY',
      details: { postgres: true, nats: false },
    });
    expect((await call(api.url, 'GET', '/health/live')).status).toBe(200);
    await nats.restart();
    await until('ready again with NATS back', 200);

    await pg.kill();
    const pgDown = await until('not ready without Postgres', 503);
    expect(pgDown.body.error.details).toEqual({ postgres: false, nats: true });
    expect((await call(api.url, 'GET', '/health/live')).status).toBe(200);
    // A read while the database is down: try again later, not an internal error.
    for (const path of ['/crews', `/users/0x${'ab'.repeat(20)}`, '/leaderboard?type=pnl&period=weekly']) {
      const failing = await call(api.url, 'GET', path);
      expect(failing.status, path).toBe(503);
      expect(failing.headers.get('retry-after')).toBe('2');
      expect(failing.body).toEqual({
        error: {
          code: 'UNAVAILABLE',
          message: 'the service is unavailable; try again shortly',
          details: null,
        },
      });
    }
    // One log line for the three (at most one per 10 s), not a stack per request.
    const lines = api.process
      .output()
      .split('\n')
      .filter((l) => l.includes('database unavailable'));
    expect(lines).toHaveLength(1);
    await pg.start();
    await until('ready again with Postgres back', 200);
    expect((await call(api.url, 'GET', '/crews')).status).toBe(200);
  });

  it('shuts down gracefully on SIGTERM: exit code 0, in-flight requests answered', async () => {
    const inFlight = call(api.url, 'GET', '/crews');
    process.kill(api.process.pid, 'SIGTERM');
    expect((await inFlight).status).toBe(200);
    const started = Date.now();
    expect(await api.process.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(4_000);
  });
});
