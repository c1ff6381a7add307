import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@ghostnet/config';
import { appNodeArgs } from '@ghostnet/test';
import { afterAll, describe, expect, it } from 'vitest';
import { IngesterEnv, loadConfig } from './env.ts';

const dir = mkdtempSync(join(tmpdir(), 'ingester-env-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const deployment = {
  chainId: 31337,
  rpcUrl: 'http://127.0.0.1:8545',
  addresses: { GhostCore: `0x${'AB'.repeat(20)}`, TraceScan: `0x${'cd'.repeat(20)}` },
  deployBlock: 3,
};

const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The ConfigError loadConfig throws, or fails the test. */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('loadConfig accepted it');
}

describe('ingester config: DEPLOYMENT_FILE', () => {
  it('supplies the chain settings; env variables override them', () => {
    const path = file('ok.json', JSON.stringify(deployment));
    expect(loadConfig({ DEPLOYMENT_FILE: path })).toMatchObject({
      chainId: 31337,
      rpcUrl: 'http://127.0.0.1:8545',
      addresses: { GhostCore: `0x${'ab'.repeat(20)}`, TraceScan: `0x${'cd'.repeat(20)}` },
      startBlock: 3,
    });
    expect(loadConfig({ DEPLOYMENT_FILE: path, START_BLOCK: '0' }).startBlock).toBe(0);
  });

  it('missing, a directory, empty or not JSON: one ConfigError naming the variable, the file and the problem', () => {
    const missing = join(dir, 'nope.json');
    expect(configError({ DEPLOYMENT_FILE: missing }).problems).toEqual([
      `DEPLOYMENT_FILE (${missing}): cannot be read: no such file`,
    ]);
    const folder = join(dir, 'folder');
    mkdirSync(folder);
    expect(configError({ DEPLOYMENT_FILE: folder }).problems).toEqual([
      `DEPLOYMENT_FILE (${folder}): cannot be read: it is a directory`,
    ]);
    const empty = file('empty.json', '\n');
    expect(configError({ DEPLOYMENT_FILE: empty }).problems).toEqual([
      `DEPLOYMENT_FILE (${empty}): is empty, expected JSON`,
    ]);
    // The contents are not quoted back (the variable may name the wrong file, one with secrets in it).
    const notJson = file('secret.env', 'JWT_KEYS=k1:hunter2hunter2');
    const error = configError({ DEPLOYMENT_FILE: notJson });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(
      new RegExp(`^DEPLOYMENT_FILE \\(${escaped(notJson)}\\): is not valid JSON`),
    );
    expect(error.message).toContain('invalid configuration for ingester');
    expect(error.message).not.toContain('hunter2');
  });

  it('JSON of the wrong shape: every field that is wrong, by its path', () => {
    const path = file(
      'wrong.json',
      JSON.stringify({ ...deployment, addresses: { GhostCore: '0x1234' }, deployBlock: undefined }),
    );
    const problems = configError({ DEPLOYMENT_FILE: path }).problems;
    expect(problems).toHaveLength(3);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          new RegExp(`^DEPLOYMENT_FILE \\(${escaped(path)}\\): addresses\\.GhostCore: .*address`),
        ),
        expect.stringMatching(/: addresses\.TraceScan: /),
        expect.stringMatching(/: deployBlock: /),
      ]),
    );
    expect(problems.join('\n')).not.toContain('0x1234');
  });

  it('the process exits 78 with that one message, not a stack trace', () => {
    const missing = join(dir, 'absent', 'deployment.json');
    const main = fileURLToPath(new URL('./main.ts', import.meta.url));
    const result = spawnSync(process.execPath, appNodeArgs(main), {
      env: { PATH: process.env.PATH, DEPLOYMENT_FILE: missing },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(78);
    expect(result.stderr.trim()).toBe(
      `invalid configuration for ingester:\n  - DEPLOYMENT_FILE (${missing}): cannot be read: no such file`,
    );
  });
});

describe('apps/ingester/README.md', () => {
  it('lists every variable the ingester reads, and none it does not', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const table = readme.split('\n').filter((line) => /^\| `[A-Z]/.test(line));
    const listed = table.flatMap((line) =>
      [...line.split('|')[1]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]),
    );
    expect(listed.sort()).toEqual(Object.keys(IngesterEnv.shape).sort());
  });
});
