import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataTokenAbi, ghostCoreAbi, readDeployment } from '@ghostnet/contracts';
import { freePort, startAnvil, startProcess, waitFor } from '@ghostnet/test';
import { createPublicClient, http } from 'viem';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_WALLET_DATA } from './devnet.ts';

const dir = mkdtempSync(join(tmpdir(), 'ghostnet-devnet-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (args: string[]) =>
  startProcess(process.execPath, ['--import', 'tsx', 'apps/devnet/src/cli.ts', ...args], {
    cwd: new URL('../../..', import.meta.url).pathname,
    env: { ...process.env, DEVNET_PORT: '', DEPLOYMENT_FILE: '' },
  });

describe('npm run devnet', () => {
  it('starts anvil, deploys, funds the test wallets, writes the deployment; Ctrl-C stops it all', async () => {
    const port = await freePort();
    const out = join(dir, 'deployment.json');
    const devnet = cli(['--port', String(port), '--out', out]);
    try {
      const deployment = await waitFor(
        'the deployment file',
        async () => existsSync(out) && readDeployment(out),
        {
          timeoutMs: 30_000,
        },
      );
      expect(deployment).toMatchObject({
        chainId: 31337,
        rpcUrl: `http://127.0.0.1:${port}`,
        wsUrl: `ws://127.0.0.1:${port}`,
      });
      const client = createPublicClient({ transport: http(deployment.rpcUrl) });
      const wired = await client.readContract({
        address: deployment.addresses.GhostCore,
        abi: ghostCoreAbi,
        functionName: 'traceScan',
      });
      expect(wired.toLowerCase()).toBe(deployment.addresses.TraceScan);
      expect(
        (
          await client.readContract({
            address: deployment.addresses.GhostCore,
            abi: ghostCoreAbi,
            functionName: 'boostSigner',
          })
        ).toLowerCase(),
      ).toBe(deployment.boostSigner);
      expect(deployment.accounts?.testWallets.length).toBe(7);
      for (const wallet of deployment.accounts!.testWallets) {
        const [balance, allowance] = await Promise.all([
          client.readContract({
            address: deployment.addresses.DataToken,
            abi: dataTokenAbi,
            functionName: 'balanceOf',
            args: [wallet.address],
          }),
          client.readContract({
            address: deployment.addresses.DataToken,
            abi: dataTokenAbi,
            functionName: 'allowance',
            args: [wallet.address, deployment.addresses.GhostCore],
          }),
        ]);
        expect(balance).toBe(TEST_WALLET_DATA);
        expect(allowance).toBe(2n ** 256n - 1n);
      }
      expect(devnet.output()).toContain(deployment.addresses.GhostCore);
      expect(devnet.output()).toContain(`http://127.0.0.1:${port}`);

      devnet.child.kill('SIGINT');
      expect(await devnet.exited).toBe(0);
      // anvil went with it, and so did the file that pointed at it.
      await expect(client.getChainId()).rejects.toThrow();
      expect(existsSync(out)).toBe(false);
    } finally {
      await devnet.kill();
    }
  });

  it('deploys onto a running node with --attach and exits', async () => {
    const anvil = await startAnvil();
    try {
      const out = join(dir, 'attached.json');
      const devnet = cli(['--attach', anvil.rpcUrl, '--out', out]);
      expect(await devnet.exited, devnet.output()).toBe(0);
      const deployment = readDeployment(out);
      expect(deployment.rpcUrl).toBe(anvil.rpcUrl);
      expect(deployment.wsUrl).toBe(anvil.wsUrl);
      const code = await createPublicClient({ transport: http(anvil.rpcUrl) }).getCode({
        address: deployment.addresses.GhostCore,
      });
      expect(code?.length).toBeGreaterThan(100);
    } finally {
      await anvil.stop();
    }
  });

  it('answers a bad flag with a message and exit code 2, not a stack trace', async () => {
    const devnet = cli(['--block-time', 'soon']);
    expect(await devnet.exited).toBe(2);
    expect(devnet.output()).toContain('--block-time: must be a positive number of seconds');
    expect(devnet.output()).toContain('usage: npm run devnet');
    expect(devnet.output()).not.toMatch(/\n\s+at /);
  });
});
