import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, openSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import {
  anvilAccount,
  DEV_ACCOUNT_ROLES,
  type Deployment,
  deployGhostnet,
  type GhostnetDeployment,
  parseDeployment,
} from '@ghostnet/contracts';
import type { DevnetFlags } from './flags.ts';

const require = createRequire(import.meta.url);
const DATA = 10n ** 18n;
/** DATA each test wallet gets (and approves GhostCore for). */
export const TEST_WALLET_DATA = 1_000_000n * DATA;

export class DevnetError extends Error {
  override name = 'DevnetError';
}

/** The anvil binary from npm. `npx anvil` would leave it running when killed, so we run it directly. */
export function anvilBinary(): string {
  const pkg = `@foundry-rs/anvil-${process.platform}-${process.arch === 'x64' ? 'amd64' : process.arch}`;
  try {
    return require.resolve(`${pkg}/bin/anvil`);
  } catch {
    throw new DevnetError(`anvil binary not found (${pkg}): run npm ci`);
  }
}

export interface RunningDevnet {
  deployment: Deployment;
  file: string;
  /** The anvil we started (undefined with --attach). */
  anvil?: { pid: number; logFile: string };
  deployed: GhostnetDeployment;
  /** Resolves with anvil's exit code if it dies on its own. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

async function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

async function rpcReady(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(1000),
    });
    return response.ok;
  } catch {
    return false;
  }
}

function stopChild(child: ChildProcess, exited: Promise<number | null>, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined)
    return Promise.resolve();
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => child.pid !== undefined && child.kill('SIGKILL'), graceMs);
  return exited.then(() => clearTimeout(timer));
}

/** Starts anvil (unless attaching), deploys, funds the test wallets and writes the deployment file. */
export async function startDevnet(flags: DevnetFlags): Promise<RunningDevnet> {
  const file = resolve(flags.out);
  let child: ChildProcess | undefined;
  let exited: Promise<number | null> = new Promise(() => {});
  let logFile = '';
  let rpcUrl: string;
  let wsUrl: string;

  if (flags.attach) {
    rpcUrl = flags.attach;
    wsUrl = flags.wsUrl ?? flags.attach.replace(/^http/, 'ws');
    if (!(await rpcReady(rpcUrl))) throw new DevnetError(`no JSON-RPC node answers at ${rpcUrl}`);
  } else {
    if (!(await portFree(flags.host, flags.port))) {
      throw new DevnetError(
        `port ${flags.port} on ${flags.host} is in use (another devnet?): pass --port N, or --attach http://${flags.host}:${flags.port}`,
      );
    }
    mkdirSync(dirname(file), { recursive: true });
    logFile = resolve(dirname(file), 'anvil.log');
    const log = openSync(logFile, 'w');
    const args = ['--host', flags.host, '--port', String(flags.port), '--chain-id', String(flags.chainId)];
    if (flags.blockTime !== undefined) args.push('--block-time', String(flags.blockTime));
    child = spawn(anvilBinary(), args, { stdio: ['ignore', log, log] });
    const started = child;
    exited = new Promise((resolve) => started.once('exit', (code) => resolve(code)));
    const host = flags.host === '0.0.0.0' ? '127.0.0.1' : flags.host;
    rpcUrl = `http://${host}:${flags.port}`;
    wsUrl = `ws://${host}:${flags.port}`;
    const deadline = Date.now() + 20_000;
    let dead = false;
    void exited.then(() => {
      dead = true;
    });
    while (!(await rpcReady(rpcUrl))) {
      if (dead) throw new DevnetError(`anvil exited while starting; see ${logFile}`);
      if (Date.now() > deadline) {
        await stopChild(started, exited);
        throw new DevnetError(`anvil did not answer on ${rpcUrl} within 20 s; see ${logFile}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const stopAnvil = child ? () => stopChild(child, exited) : async () => {};
  try {
    const wallets = DEV_ACCOUNT_ROLES.testWallets.map((i) => anvilAccount(i));
    const deployed = await deployGhostnet({
      rpcUrl,
      fund: { accounts: wallets, amount: TEST_WALLET_DATA },
    });
    if (deployed.chainId !== flags.chainId && !flags.attach) {
      throw new DevnetError(`anvil reports chain ${deployed.chainId}, expected ${flags.chainId}`);
    }
    const deployment = parseDeployment({
      chainId: deployed.chainId,
      rpcUrl,
      wsUrl,
      addresses: deployed.addresses,
      deployBlock: deployed.deployBlock,
      deployedAt: Date.now(),
      boostSigner: deployed.boostSigner,
      accounts: {
        deployer: { index: DEV_ACCOUNT_ROLES.deployer, address: deployed.deployer },
        boostSigner: { index: DEV_ACCOUNT_ROLES.boostSigner, address: deployed.boostSigner },
        testWallets: wallets.map((w, k) => ({
          index: DEV_ACCOUNT_ROLES.testWallets[k]!,
          address: w.address,
        })),
      },
    });
    mkdirSync(dirname(file), { recursive: true });
    // Written whole, then renamed: a reader never sees half a file.
    writeFileSync(`${file}.tmp`, `${JSON.stringify(deployment, null, 2)}\n`);
    renameSync(`${file}.tmp`, file);
    return {
      deployment,
      file,
      deployed,
      exited,
      ...(child?.pid === undefined ? {} : { anvil: { pid: child.pid, logFile } }),
      stop: stopAnvil,
    };
  } catch (error) {
    await stopAnvil();
    throw error;
  }
}
