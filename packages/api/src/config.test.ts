import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { contractAddresses } from './config.ts';

const dir = mkdtempSync(join(tmpdir(), 'api-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const core = '0x00000000000000000000000000000000000000c0';
const scan = '0x00000000000000000000000000000000000000c1';
const file = join(dir, 'deployment.json');
writeFileSync(
  file,
  JSON.stringify({
    chainId: 31337,
    rpcUrl: 'http://127.0.0.1:8545',
    wsUrl: 'ws://127.0.0.1:8545',
    addresses: {
      GhostCore: '0x00000000000000000000000000000000000000AA',
      TraceScan: '0x00000000000000000000000000000000000000bb',
      DataToken: '0x00000000000000000000000000000000000000cc',
    },
    deployBlock: 1,
    boostSigner: '0x00000000000000000000000000000000000000dd',
  }),
);

describe('contractAddresses', () => {
  it('takes the explicit addresses, else the deployment file the devnet writes, else none', () => {
    expect(
      contractAddresses({ GHOST_CORE_ADDRESS: core, TRACE_SCAN_ADDRESS: scan, DEPLOYMENT_FILE: file }),
    ).toEqual({ GhostCore: core, TraceScan: scan });
    expect(contractAddresses({ DEPLOYMENT_FILE: file })).toEqual({
      GhostCore: '0x00000000000000000000000000000000000000aa',
      TraceScan: '0x00000000000000000000000000000000000000bb',
    });
    expect(contractAddresses({})).toBeNull();
    // Never one address from the environment and the other from a devnet file.
    expect(() => contractAddresses({ GHOST_CORE_ADDRESS: core, DEPLOYMENT_FILE: file })).toThrow(
      /both GHOST_CORE_ADDRESS and TRACE_SCAN_ADDRESS/,
    );
  });

  it('says how to get a deployment file when the one named is missing or invalid', () => {
    expect(() => contractAddresses({ DEPLOYMENT_FILE: join(dir, 'nope.json') })).toThrow(/npm run devnet/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ chainId: 1 }));
    expect(() => contractAddresses({ DEPLOYMENT_FILE: bad })).toThrow(/addresses/);
  });
});
