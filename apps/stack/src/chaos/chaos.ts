import { runSimulation, type SimulationSummary } from '@ghostnet/sim';
import { readStream, type Stored, waitFor } from '@ghostnet/test';
import { jetstream } from '@nats-io/jetstream';
import {
  chainLogIds,
  checkClients,
  checkTablesAgainstReplay,
  describe,
  isSame,
  streamVersusChain,
} from './checks.ts';
import { Cleanup } from './cleanup.ts';
import { ClientFleet } from './clients.ts';
import type { AppProcess } from './components.ts';
import { between, seededRandom, shuffleBag } from './random.ts';
import type { ChaosReport, KillRecord } from './report.ts';
import { ChaosSystem, STREAM_NAME } from './system.ts';

export interface ChaosOptions {
  /** Length of the kill phase. */
  chaosMs: number;
  seed: string;
  clients: number;
  eventsPerSecond: number;
  log?: (line: string) => void;
  /** Abort (Ctrl-C): the run stops where it is, skips the checks and cleans up. */
  signal?: AbortSignal;
  /** Tests: the cleanup list, to kill synchronously on a second Ctrl-C. */
  cleanup?: Cleanup;
}

/** How long a component may take to be healthy again before the kill counts as not recovered. */
const RECOVERY_LIMIT_MS = 90_000;
const CATCH_UP_LIMIT_MS = 120_000;

class Aborted extends Error {
  override name = 'Aborted';
}

/**
 * The chaos run: a private GHOSTNET under simulator load and K SDK clients; one component killed at a time
 * (chosen by a seeded shuffle bag, so each kind dies once before any dies twice), restarted after a short
 * random delay, its recovery timed; then load stopped, catch-up, and the three checks. Everything started is
 * stopped in the finally block.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => {});
  const cleanup = options.cleanup ?? new Cleanup();
  const random = seededRandom(options.seed);
  const sleep = (ms: number) =>
    new Promise<void>((resolve, reject) => {
      if (options.signal?.aborted) return reject(new Aborted('aborted'));
      const timer = setTimeout(() => {
        options.signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(new Aborted('aborted'));
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  const checkAbort = () => {
    if (options.signal?.aborted) throw new Aborted('aborted');
  };

  const report: ChaosReport = {
    seed: options.seed,
    chaosMs: 0,
    clients: options.clients,
    eventsPerSecond: options.eventsPerSecond,
    kills: [],
    crashes: [],
    simulation: { events: 0, blocks: 0, failed: 0, mismatches: 0, error: null },
    stream: { head: 0, messages: 0, chainEvents: 0, reorgNotices: 0, epochUnchanged: false, vsChain: null },
    tables: null,
    clientCheck: null,
    failures: [],
    ok: false,
  };

  try {
    const system = await ChaosSystem.start(cleanup, log);
    report.crashes = system.crashes;
    checkAbort();
    const epoch = await system.streamEpoch();

    // Load: the simulator in this process, paced; stopped through its signal at the end.
    const stopSim = new AbortController();
    let simError: string | null = null;
    const simulation: Promise<SimulationSummary | null> = runSimulation({
      rpcUrl: system.anvil.rpcUrl,
      deployment: system.deployment,
      players: 30,
      seed: `chaos:${options.seed}`,
      durationMs: 24 * 3600_000,
      eventsPerSecond: options.eventsPerSecond,
      txsPerBlock: 10,
      culling: { level: 5, maxPositions: 4 },
      systemResetEveryBlocks: 150,
      signal: stopSim.signal,
    }).catch((error) => {
      simError = (error as Error).message.split('\n')[0]!;
      return null;
    });
    cleanup.add(async () => {
      stopSim.abort();
      await simulation;
    });

    await waitFor('projected state', async () => (await system.projectorCheckpoint()) > 0, {
      timeoutMs: 60_000,
      intervalMs: 250,
    });
    const fleet = new ClientFleet(system.gatewayUrls, (a) => system.token(a));
    cleanup.add(async () => fleet.close());
    fleet.add(options.clients, { sequenceId: await system.streamHead(), epoch });
    await waitFor('every SDK client live', async () => fleet.allLive(), {
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    log(`${options.clients} SDK clients live on ${system.gatewayUrls.join(' and ')}; chaos starts`);

    // The kill phase.
    const next = shuffleBag(system.components, random);
    const chaosStart = Date.now();
    let lastHead = await system.streamHead();
    while (Date.now() - chaosStart < options.chaosMs) {
      checkAbort();
      const component = next();
      lastHead = await system.streamHead().catch(() => lastHead);
      const disconnectsBefore = fleet.disconnects();
      const killedAt = Date.now();
      const atMs = system.now();
      const clients = watchFleet(fleet);
      await component.kill();
      log(`${(atMs / 1000).toFixed(1)}s kill ${component.name}`);
      await sleep(between(random, 500, 3_000));
      // The head the restarted component must reach (or pass, for the ingester); while NATS itself is down,
      // the last one seen before the kill.
      const since =
        component.kind === 'nats-server' ? lastHead : await system.streamHead().catch(() => lastHead);
      const restartedAt = Date.now();
      await component.start();
      const downMs = restartedAt - killedAt;
      // Each part of "healthy again" timed on its own (for the servers: every app); recovery is the slowest.
      const parts = Object.fromEntries(
        await Promise.all(
          Object.entries(system.healthProbe(component, since)).map(async ([part, probe]) => [
            part,
            await waitFor(`${part} healthy`, probe, { timeoutMs: RECOVERY_LIMIT_MS, intervalMs: 100 })
              .then(() => Date.now() - restartedAt)
              .catch(() => null),
          ]),
        ),
      ) as Record<string, number | null>;
      const times = Object.values(parts);
      const recoveryMs = times.some((t) => t === null) ? null : Math.max(...(times as number[]));
      const clientsLive = await waitFor('clients live', async () => fleet.allLive(), {
        timeoutMs: RECOVERY_LIMIT_MS,
        intervalMs: 100,
      })
        .then(() => true)
        .catch(() => false);
      clients.stop();
      const clientsLiveMs = !clientsLive ? null : clients.backAt === null ? 0 : clients.backAt - killedAt;
      const record: KillRecord = {
        component: component.name,
        kind: component.kind,
        atMs,
        downMs,
        recoveryMs,
        parts,
        clientDrops: fleet.disconnects() - disconnectsBefore,
        clientsLiveMs,
      };
      report.kills.push(record);
      log(
        `${(system.now() / 1000).toFixed(1)}s ${component.name} ${recoveryMs === null ? 'did NOT recover' : `recovered in ${(recoveryMs / 1000).toFixed(1)}s`} (down ${(downMs / 1000).toFixed(1)}s)`,
      );
      await sleep(between(random, 1_000, 4_000));
    }
    report.chaosMs = Date.now() - chaosStart;

    // Stop the load, let everything catch up.
    log('chaos over: stopping the load, waiting for catch-up');
    for (const app of system.apps) if (!app.running()) await app.start();
    stopSim.abort();
    const summary = await simulation;
    report.simulation = {
      events: summary?.events ?? 0,
      blocks: summary?.blocks ?? 0,
      failed: summary?.failed ?? 0,
      mismatches: summary?.mismatches ?? 0,
      error: simError,
    };
    const js = jetstream(system.nc);
    const chainIds = await chainLogIds(
      system.anvil.rpcUrl,
      system.chainId,
      system.deployment.addresses,
      system.deployment.deployBlock,
    );
    let stored: Stored[] = [];
    await waitFor(
      'the stream to hold every chain log',
      async () => {
        checkAbort();
        stored = await readStream(js, system.jsm, STREAM_NAME);
        return isSame(streamVersusChain(stored, chainIds));
      },
      { timeoutMs: CATCH_UP_LIMIT_MS, intervalMs: 2_000 },
    ).catch(() => {});
    stored = await readStream(js, system.jsm, STREAM_NAME);
    const head = stored.at(-1)?.seq ?? 0;
    await waitFor(
      'the projector to reach the head',
      async () => (await system.projectorCheckpoint()) >= head,
      {
        timeoutMs: CATCH_UP_LIMIT_MS,
        intervalMs: 250,
      },
    ).catch(() => report.failures.push(`projector did not reach the stream head ${head}`));
    await waitFor('every client to reach the head', async () => fleet.caughtUp(head), {
      timeoutMs: CATCH_UP_LIMIT_MS,
      intervalMs: 250,
    }).catch(() => {
      const behind = fleet.clients.filter((c) => (c.client.cursor?.sequenceId ?? -1) < head);
      report.failures.push(
        `${behind.length} clients did not reach the stream head ${head} (e.g. client ${behind[0]?.id}: ${behind[0]?.client.status}, cursor ${behind[0]?.client.cursor?.sequenceId})`,
      );
    });
    checkAbort();

    // (1) stream = chain
    const vsChain = streamVersusChain(stored, chainIds);
    report.stream = {
      head,
      messages: stored.length,
      chainEvents: stored.filter((s) => s.message.kind === 'chain').length,
      reorgNotices: stored.filter((s) => s.message.kind === 'reorg').length,
      epochUnchanged: (await system.streamEpoch()) === epoch,
      vsChain,
    };
    if (!isSame(vsChain)) report.failures.push(`stream ≠ chain: ${describe(vsChain)}`);
    if (!report.stream.epochUnchanged) report.failures.push('the stream was recreated (epoch changed)');

    // (3) every client got every event once, in order
    report.clientCheck = checkClients(fleet, stored, epoch);
    const c = report.clientCheck;
    if (c.lost + c.doubled + c.extra + c.outOfOrder + c.wrongCounts + c.wrongEpoch > 0 || c.failures.length)
      report.failures.push(
        `clients: lost ${c.lost}, doubled ${c.doubled}, unexpected ${c.extra}, out of order ${c.outOfOrder}, wrong counts ${c.wrongCounts}, wrong epoch ${c.wrongEpoch}`,
      );
    fleet.close();

    // (2) tables = replay, with the projector stopped (the replay uses the same durable consumer names).
    const projector = system.apps.find((a) => a.kind === 'projector') as AppProcess;
    await projector.stop();
    report.tables = await checkTablesAgainstReplay({
      adminUrl: system.postgres.url,
      liveDatabaseUrl: system.database.url,
      nc: system.nc,
      chainId: system.chainId,
      head,
    });
    if (!report.tables.equal)
      report.failures.push(`tables ≠ replay: ${report.tables.differences.join('; ')}`);

    if (report.kills.some((k) => k.recoveryMs === null))
      report.failures.push(
        `not recovered within ${RECOVERY_LIMIT_MS / 1000}s: ${report.kills
          .filter((k) => k.recoveryMs === null)
          .map((k) => `${k.component} at ${(k.atMs / 1000).toFixed(1)}s`)
          .join(', ')}`,
      );
    if (report.kills.some((k) => k.clientsLiveMs === null))
      report.failures.push('SDK clients not all live again within the limit after a kill');
    if (simError) report.failures.push(`simulator failed: ${simError}`);
    report.ok = report.failures.length === 0;
    return report;
  } catch (error) {
    report.failures.push(error instanceof Aborted ? 'aborted' : `run failed: ${(error as Error).message}`);
    report.ok = false;
    return report;
  } finally {
    log('stopping everything this run started');
    await cleanup.run(log);
  }
}

/**
 * Watches the SDK clients from a kill on: `backAt` is when all were live again after the last moment one was
 * not (null if none dropped, or not all are back).
 */
function watchFleet(fleet: ClientFleet): { backAt: number | null; stop(): void } {
  let down = false;
  const watch = {
    backAt: null as number | null,
    stop: () => clearInterval(timer),
  };
  const timer = setInterval(() => {
    if (!fleet.allLive()) {
      down = true;
      watch.backAt = null;
    } else if (down && watch.backAt === null) watch.backAt = Date.now();
  }, 20);
  return watch;
}
