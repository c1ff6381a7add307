import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { toFeedEvents } from '@ghostnet/events';
import { sampleValue } from '@ghostnet/metrics';
import { freePort, readStream, waitFor } from '@ghostnet/test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { Stack } from './launcher.ts';

const suffix = randomBytes(3).toString('hex');
let stack: Stack;
let browser: Browser;
let page: Page;
const logs: string[] = [];

beforeAll(async () => {
  const [apiPort, gatewayPort, devnetPort, ingesterMetrics, projectorMetrics, gatewayMetrics] =
    await Promise.all(Array.from({ length: 6 }, () => freePort()));
  stack = new Stack({
    adminDatabaseUrl: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    database: `ghostnet_console_${suffix}`,
    natsUrl: process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222',
    streamName: `CONSOLE_${suffix}`,
    subjectPrefix: `console${suffix}`,
    apiPort: apiPort!,
    gatewayPort: gatewayPort!,
    devnetPort: devnetPort!,
    metricsPorts: { ingester: ingesterMetrics!, projector: projectorMetrics!, gateway: gatewayMetrics! },
    eventsPerSecond: 30,
    players: 12,
    stateDir: `/tmp/ghostnet-console-${suffix}`,
    log: (line) => logs.push(line),
  });
  await stack.resetState();
  try {
    await stack.start();
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${logs.slice(-40).join('\n')}`);
  }
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await browser.newPage();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await stack?.dropState();
});

const feedSequences = () =>
  page.$$eval('#feed li', (items) => items.map((li) => Number((li as HTMLElement).dataset.sequence)));

describe('the stack on shared servers', () => {
  it("keeps the gateway's connection leases in a bucket of its own, which it drops with its stream", async () => {
    const nc = await connect({ servers: stack.options.natsUrl });
    try {
      const jsm = await jetstreamManager(nc);
      const bucket = await jsm.streams.info(`KV_${stack.connectionsBucket}`);
      expect(bucket.config.name).toBe(`KV_CONSOLE_${suffix}_connections`);
    } finally {
      await nc.close();
    }
  });
});

describe('the live console in headless Chromium', () => {
  it('serves the typing mini-game (npm start wires the devnet signer and contracts into the API)', async () => {
    const challenge = await fetch(`http://127.0.0.1:${stack.options.apiPort}/minigame/typing/challenge`, {
      method: 'POST',
    });
    // Registered (401: sign in first), not 404 as when the API turns the mini-game off.
    expect(challenge.status).toBe(401);
  });

  it('shows simulator events with their sequence ids, stream position and projection lag', async () => {
    await page.goto(`http://localhost:${stack.options.apiPort}/console`);
    await page.waitForSelector('#feed li', { timeout: 60_000 });
    expect(await page.textContent('#connection')).toBe('live');
    const sequences = await feedSequences();
    expect(sequences.length).toBeGreaterThan(0);
    expect(sequences.every((s) => Number.isInteger(s) && s > 0)).toBe(true);
    await waitFor('stream position and projections', async () => {
      const seq = Number(await page.textContent('#stream-seq'));
      const projections = await page.$$('#projections tbody tr');
      return seq > 0 && projections.length > 0;
    });
    const scans = await page.$$('#scans tbody tr');
    expect(scans.length).toBe(5);
  }, 90_000);

  it('resumes after the gateway restarts: no gap, no duplicate', async () => {
    const before = Math.max(...(await feedSequences()));
    await stack.restart('gateway');
    await waitFor(
      'the console to reconnect and show newer events',
      async () =>
        (await page.textContent('#connection')) === 'live' &&
        Math.max(...(await feedSequences())) > before + 5,
      { timeoutMs: 120_000, intervalMs: 500 },
    ).catch(async (error: Error) => {
      throw new Error(
        `${error.message} (page: ${await page.textContent('#connection')}, newest ${Math.max(...(await feedSequences()))} vs ${before})\n${logs
          .filter((l) => l.startsWith('gateway'))
          .slice(-20)
          .join('\n')}`,
      );
    });
    // Every feed event of the stream between the first and the last one the page got, exactly once, in order.
    const received = await page.evaluate(
      () => (window as unknown as { ghostnetReceived: string[] }).ghostnetReceived,
    );
    const first = Number(received[0]!.split(':')[0]);
    // A message's feed events come as separate frames, so the newest message may be only partly received when
    // the page is read: compare up to the message before it.
    const last = Number(received[received.length - 1]!.split(':')[0]) - 1;
    const complete = received.filter((id) => Number(id.split(':')[0]) <= last);
    const nc = await connect({ servers: stack.options.natsUrl });
    try {
      const stored = await readStream(jetstream(nc), await jetstreamManager(nc), stack.options.streamName);
      const expected = stored
        .filter((s) => s.seq >= first && s.seq <= last)
        .flatMap((s) => toFeedEvents(s.message).map((_, index) => `${s.seq}:${index}`));
      expect(complete.slice(complete.indexOf(expected[0]!))).toEqual(expected);
      expect(new Set(received).size).toBe(received.length);
    } finally {
      await nc.close();
    }
  }, 150_000);
});

describe('/metrics of every app under simulator load', () => {
  it('exposes the metrics the alert rules use, and they move', async () => {
    const o = stack.options;
    const urls = {
      ingester: `http://127.0.0.1:${o.metricsPorts.ingester}/metrics`,
      projector: `http://127.0.0.1:${o.metricsPorts.projector}/metrics`,
      gateway: `http://127.0.0.1:${o.metricsPorts.gateway}/metrics`,
      api: `http://127.0.0.1:${o.apiPort}/metrics`,
    };
    const scrape = async () =>
      Object.fromEntries(
        await Promise.all(
          Object.entries(urls).map(async ([app, url]) => [app, await (await fetch(url)).text()]),
        ),
      ) as Record<keyof typeof urls, string>;
    await fetch(`http://127.0.0.1:${o.apiPort}/leaderboard?type=extracted&period=all&limit=5`);
    const before = await scrape();
    await new Promise((r) => setTimeout(r, 4_000));
    await fetch(`http://127.0.0.1:${o.apiPort}/leaderboard?type=streak&period=all&limit=5`);
    await fetch(`http://127.0.0.1:${o.apiPort}/users/not-an-address`);
    const after = await scrape();

    const value = (text: string, name: string, labels: Record<string, string> = {}) =>
      sampleValue(text, name, labels) ?? 0;
    expect(value(after.ingester, 'ghostnet_ingester_events_appended_total')).toBeGreaterThan(
      value(before.ingester, 'ghostnet_ingester_events_appended_total'),
    );
    expect(sampleValue(after.ingester, 'ghostnet_ingester_lag_blocks')).toBeDefined();
    const applied = (t: string) =>
      t
        .split('\n')
        .filter((l) => l.startsWith('ghostnet_projection_events_applied_total'))
        .reduce((a, l) => a + Number(l.split(' ').pop()), 0);
    expect(applied(after.projector)).toBeGreaterThan(applied(before.projector));
    expect(after.projector).toContain('ghostnet_projection_lag_messages{');
    expect(value(after.gateway, 'ghostnet_gateway_connections')).toBeGreaterThanOrEqual(1);
    expect(sampleValue(after.gateway, 'ghostnet_gateway_checkpoint_listener_up')).toBe(1);
    expect(value(after.gateway, 'ghostnet_gateway_frames_published_total')).toBeGreaterThan(
      value(before.gateway, 'ghostnet_gateway_frames_published_total'),
    );
    expect(
      value(after.api, 'ghostnet_http_requests_total', { route: '/users/:address', status: '400' }),
    ).toBeGreaterThanOrEqual(1);
    expect(after.api).toContain('ghostnet_http_request_duration_seconds_bucket{');
    for (const text of Object.values(after)) {
      expect(text).toContain('ghostnet_nats_connection_events_total');
    }
    for (const app of ['projector', 'gateway', 'api'] as const) {
      expect(sampleValue(after[app], 'ghostnet_db_pool_size')).toBeGreaterThan(0);
      expect(after[app]).toContain('ghostnet_db_pool_in_use');
    }
    // Every metric the alert rules name is exposed by some app.
    const rules = readFileSync(new URL('../../../infra/prometheus/alerts.yml', import.meta.url), 'utf8');
    // And the file is rules Prometheus can load: every rule named, with an expression, a severity, a summary.
    const AlertRules = z.object({
      groups: z.array(
        z.object({
          name: z.string(),
          rules: z.array(
            z.strictObject({
              alert: z.string().regex(/^[A-Z][A-Za-z]+$/),
              expr: z.string().min(1),
              for: z
                .string()
                .regex(/^\d+[smh]$/)
                .optional(),
              labels: z.object({ severity: z.enum(['warning', 'critical']) }),
              annotations: z.object({ summary: z.string().min(1), runbook: z.string().optional() }),
            }),
          ),
        }),
      ),
    });
    const parsed = AlertRules.parse(parseYaml(rules));
    const alerts = parsed.groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(new Set(alerts).size).toBe(alerts.length);
    expect(alerts).toEqual(expect.arrayContaining(['ProjectionFailed', 'ProjectionLagging', 'IngesterDown']));
    const all = Object.values(after).join('\n');
    const names = new Set([...rules.matchAll(/ghostnet_[a-z_]+/g)].map((m) => m[0].replace(/_bucket$/, '')));
    for (const name of names) expect(all, name).toContain(name);
  }, 60_000);
});
