import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { freePort, listeningPorts, waitFor } from './ports.ts';
import { type Started, startProcess } from './process.ts';

export const NATS_SERVER_BIN = '/usr/sbin/nats-server';

export interface PrivateNats {
  url: string;
  port: number;
  storeDir: string;
  process: Started;
  /** Start it again on the same port and store after a kill. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** A nats-server of the test's own, for tests that kill or restart it; never the shared one. */
export async function startPrivateNats(extraArgs: string[] = []): Promise<PrivateNats> {
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'ghostnet-nats-'));
  const url = `nats://127.0.0.1:${port}`;
  const launch = async () => {
    const started = startProcess(NATS_SERVER_BIN, [
      '-a',
      '127.0.0.1',
      '-p',
      String(port),
      '-js',
      '-sd',
      storeDir,
      ...extraArgs,
    ]);
    // Ours must be the server that answers: a port chosen beforehand can be taken by another test's server.
    const state = await waitFor('private nats-server', async () => {
      if (started.child.exitCode !== null || started.child.signalCode !== null) return 'exited';
      if (!listeningPorts(started.pid).includes(port)) return false;
      const nc = await connect({ servers: url, timeout: 500, maxReconnectAttempts: 0 });
      await nc.close();
      return 'ready';
    });
    if (state === 'exited') throw new Error(`nats-server exited: ${started.output().slice(-300)}`);
    return started;
  };
  const handle: PrivateNats = {
    url,
    port,
    storeDir,
    process: await launch(),
    async restart() {
      await handle.process.stop();
      handle.process = await launch();
    },
    async stop() {
      await handle.process.stop();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
  return handle;
}
