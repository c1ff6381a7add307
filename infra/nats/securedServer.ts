import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, NATS_SERVER_BIN, type Started, startProcess, waitFor } from '@ghostnet/test';
import { connect, type NatsConnection } from '@nats-io/transport-node';

export const NATS_SERVER_CONFIG = fileURLToPath(new URL('./nats-server.conf', import.meta.url));

/** The users of infra/nats/accounts.conf and the env var each one's password comes from. */
export const NATS_USERS = {
  ingester: 'NATS_INGESTER_PASSWORD',
  api: 'NATS_API_PASSWORD',
  projector: 'NATS_PROJECTOR_PASSWORD',
  gateway: 'NATS_GATEWAY_PASSWORD',
  ops: 'NATS_OPS_PASSWORD',
  admin: 'NATS_ADMIN_PASSWORD',
  sys: 'NATS_SYS_PASSWORD',
} as const;
export type NatsUser = keyof typeof NATS_USERS;

/** Fresh passwords of the shape accounts.conf asks for (a letter, then hex). */
export function generatePasswords(): Record<(typeof NATS_USERS)[NatsUser], string> {
  return Object.fromEntries(
    Object.values(NATS_USERS).map((name) => [name, `p${randomBytes(24).toString('hex')}`]),
  ) as Record<(typeof NATS_USERS)[NatsUser], string>;
}

export interface SecuredNats {
  url: string;
  process: Started;
  passwords: ReturnType<typeof generatePasswords>;
  connectAs(user: NatsUser, password?: string): Promise<NatsConnection>;
  /** Restarts on the same port and store with these passwords (the rotation runbook's server restart). */
  restart(passwords?: Partial<ReturnType<typeof generatePasswords>>): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A private nats-server running the checked-in config (infra/nats/nats-server.conf + accounts.conf) on free
 * ports with its own store directory and random passwords; never the machine's shared server.
 */
export async function startSecuredNats(config = NATS_SERVER_CONFIG): Promise<SecuredNats> {
  const [port, monitorPort] = [await freePort(), await freePort()];
  const storeDir = mkdtempSync(join(tmpdir(), 'ghostnet-nats-secured-'));
  const passwords = generatePasswords();
  const url = `nats://127.0.0.1:${port}`;
  const connectAs = (user: NatsUser, password = passwords[NATS_USERS[user]]) =>
    connect({
      servers: url,
      user,
      pass: password,
      name: `test-${user}`,
      maxReconnectAttempts: 0,
      timeout: 2_000,
    });
  const launch = async () => {
    const started = startProcess(
      NATS_SERVER_BIN,
      ['-c', config, '-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), '-sd', storeDir],
      { env: { ...process.env, ...passwords } },
    );
    try {
      await waitFor(
        'secured nats-server',
        async () => {
          if (started.child.exitCode !== null) throw new Error(`nats-server exited: ${started.output()}`);
          const nc = await connectAs('admin');
          await nc.close();
          return true;
        },
        { timeoutMs: 10_000 },
      );
    } catch (error) {
      await started.stop();
      throw error;
    }
    return started;
  };
  let started: Started;
  try {
    started = await launch();
  } catch (error) {
    rmSync(storeDir, { recursive: true, force: true });
    throw error;
  }
  const handle: SecuredNats = {
    url,
    process: started,
    passwords,
    connectAs,
    async restart(next = {}) {
      await handle.process.stop();
      Object.assign(passwords, next);
      handle.process = await launch();
    },
    async stop() {
      await handle.process.stop();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
  return handle;
}
