import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { NATS_SERVER_BIN } from './natsServer.ts';
import { freePort, listeningPorts, waitFor } from './ports.ts';
import { type Started, startProcess } from './process.ts';

export interface ClusterNode {
  name: string;
  port: number;
  clusterPort: number;
  url: string;
  process: Started;
}

export interface NatsCluster {
  nodes: ClusterNode[];
  /** All client URLs, comma-separated, as NATS_URL takes them. */
  url: string;
  kill(name: string): Promise<void>;
  restart(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** A JetStream cluster of `size` nats-server processes on loopback, each with its own store; ours to kill. */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const base = mkdtempSync(join(tmpdir(), 'ghostnet-cluster-'));
  const ports = await Promise.all(Array.from({ length: size * 2 }, () => freePort()));
  const specs = Array.from({ length: size }, (_, i) => ({
    name: `n${i + 1}`,
    port: ports[i * 2]!,
    clusterPort: ports[i * 2 + 1]!,
  }));
  const routes = specs.map((s) => `nats://127.0.0.1:${s.clusterPort}`).join(',');
  const launch = (spec: (typeof specs)[number]) =>
    startProcess(NATS_SERVER_BIN, [
      '-a',
      '127.0.0.1',
      '-p',
      String(spec.port),
      '-n',
      spec.name,
      '-js',
      '-sd',
      join(base, spec.name),
      '--cluster_name',
      'ghostnet-test',
      '--cluster',
      `nats://127.0.0.1:${spec.clusterPort}`,
      '--routes',
      routes,
    ]);
  const nodes: ClusterNode[] = specs.map((spec) => ({
    ...spec,
    url: `nats://127.0.0.1:${spec.port}`,
    process: launch(spec),
  }));
  const url = nodes.map((n) => n.url).join(',');
  // Ready when every node listens on its own ports (one chosen beforehand can be taken by another test's
  // server, which would then answer for ours) and a stream can be placed on every node: a meta leader alone is
  // not enough, the peers it has not heard of yet refuse an R3 stream ("no suitable peers for placement").
  const state = await waitFor(
    'JetStream cluster to elect a meta leader',
    async () => {
      for (const n of nodes) {
        // An exit ends the wait at once (a throw inside the probe would only be reported at the timeout).
        if (n.process.child.exitCode !== null || n.process.child.signalCode !== null) return n;
        const mine = listeningPorts(n.process.pid);
        if (!mine.includes(n.port) || !mine.includes(n.clusterPort)) return false;
      }
      const nc = await connect({ servers: url, timeout: 1_000, maxReconnectAttempts: 0 });
      try {
        const jsm = await jetstreamManager(nc, { timeout: 2_000 });
        await jsm.getAccountInfo();
        const probe = 'READY_PROBE';
        const placed = await jsm.streams
          .add({ name: probe, subjects: ['ready-probe.>'], num_replicas: size, storage: StorageType.Memory })
          .then(() => true)
          .catch(() => false);
        if (!placed) return false;
        await jsm.streams.delete(probe);
        return 'ready';
      } finally {
        await nc.close();
      }
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  );
  if (state !== 'ready') {
    for (const n of nodes) await n.process.stop();
    throw new Error(`nats-server ${state.name} exited: ${state.process.output().slice(-300)}`);
  }
  return {
    nodes,
    url,
    async kill(name) {
      await nodes.find((n) => n.name === name)!.process.kill();
    },
    async restart(name) {
      const node = nodes.find((n) => n.name === name)!;
      await node.process.stop();
      node.process = launch(node);
    },
    async stop() {
      for (const n of nodes) await n.process.stop();
      rmSync(base, { recursive: true, force: true });
    },
  };
}
