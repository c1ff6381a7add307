import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deployGhostnet, parseDeployment } from '@ghostnet/contracts';
import { type Anvil, startAnvil, startProcess } from '@ghostnet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSimFlags, UsageError } from './flags.ts';

const dir = mkdtempSync(join(tmpdir(), 'ghostnet-sim-'));
let anvil: Anvil;
let deploymentFile: string;

beforeAll(async () => {
  anvil = await startAnvil();
  const deployed = await deployGhostnet({ rpcUrl: anvil.rpcUrl });
  deploymentFile = join(dir, 'deployment.json');
  writeFileSync(
    deploymentFile,
    JSON.stringify(
      parseDeployment({
        chainId: deployed.chainId,
        rpcUrl: anvil.rpcUrl,
        wsUrl: anvil.wsUrl,
        addresses: deployed.addresses,
        deployBlock: deployed.deployBlock,
        boostSigner: deployed.boostSigner,
      }),
    ),
  );
});

afterAll(async () => {
  await anvil?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const cli = (args: string[]) =>
  startProcess(process.execPath, ['--import', 'tsx', 'apps/sim/src/cli.ts', ...args], {
    cwd: new URL('../../..', import.meta.url).pathname,
    env: { ...process.env, DEPLOYMENT_FILE: '', RPC_URL: '' },
  });

describe('npm run sim', () => {
  it('plays on the deployment and reports what it did', async () => {
    const out = join(dir, 'summary.json');
    const sim = cli([
      '--deployment',
      deploymentFile,
      '--players',
      '12',
      '--max-blocks',
      '15',
      '--seed',
      'cli',
      '--out',
      out,
    ]);
    expect(await sim.exited, sim.output()).toBe(0);
    expect(sim.output()).toMatch(/achieved [\d,]+ events\/s/);
    expect(sim.output()).toMatch(/JackedIn\s+[\d,]+/);
    const summary = JSON.parse(readFileSync(out, 'utf8'));
    expect(summary).toMatchObject({ blocks: 15, failed: 0, mismatches: 0, seed: 'cli' });
    expect(summary.players.length).toBeGreaterThanOrEqual(12);
    expect(typeof summary.players[0].amount).toBe('string');
  });

  it('points at the devnet when the deployment file is missing', async () => {
    const sim = cli(['--deployment', join(dir, 'nope.json'), '--max-blocks', '1']);
    expect(await sim.exited).toBe(1);
    expect(sim.output()).toContain('npm run devnet');
    expect(sim.output()).not.toMatch(/\n\s+at /);
  });
});

describe('sim flags', () => {
  it('parses the documented example', () => {
    expect(
      parseSimFlags(
        ['--players', '50', '--events-per-second', '1000', '--duration', '30', '--seed', '7'],
        {},
      ),
    ).toMatchObject({ players: 50, eventsPerSecond: 1000, duration: 30, seed: '7', boosts: true });
    expect(parseSimFlags(['--no-boosts'], { DEPLOYMENT_FILE: 'd.json' })).toMatchObject({
      boosts: false,
      deployment: 'd.json',
    });
  });

  it('names bad flags', () => {
    expect(() => parseSimFlags(['--players', 'many'], {})).toThrow(/--players: must be a whole number/);
    expect(() => parseSimFlags(['--seconds-per-block', '120'], {})).toThrow(
      /--seconds-per-block: must be at most 119/,
    );
    expect(() => parseSimFlags(['--rpc-url', 'ftp://x'], {})).toThrow(UsageError);
    expect(() => parseSimFlags(['--player', '3'], {})).toThrow(UsageError);
  });
});
