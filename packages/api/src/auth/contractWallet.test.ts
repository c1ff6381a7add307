import { createRequire } from 'node:module';
import {
  type Anvil,
  createTestDatabase,
  createTestStream,
  startAnvil,
  type TestDatabase,
  type TestStream,
} from '@ghostnet/test';
import { createPublicClient, createWalletClient, type Hex, http } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { foundry } from 'viem/chains';
import { createSiweMessage } from 'viem/siwe';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, type RunningApi, startApi, TEST_SIWE } from '../testing/apiProcess.ts';

// Each file starts API processes: slow to start on a loaded machine, never a reason to fail.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

const require = createRequire(import.meta.url);

/** A minimal ERC-1271 smart-contract wallet: valid when its owner signed the hash. */
const SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
contract OwnedWallet {
  address public immutable owner;
  constructor(address o) { owner = o; }
  function isValidSignature(bytes32 h, bytes calldata sig) external view returns (bytes4) {
    if (sig.length != 65) return 0xffffffff;
    bytes32 r = bytes32(sig[0:32]);
    bytes32 s = bytes32(sig[32:64]);
    uint8 v = uint8(sig[64]);
    return ecrecover(h, v, r, s) == owner ? bytes4(0x1626ba7e) : bytes4(0xffffffff);
  }
}`;

function compile(): { abi: unknown[]; bytecode: Hex } {
  const solc = require('solc');
  const output = JSON.parse(
    solc.compile(
      JSON.stringify({
        language: 'Solidity',
        sources: { 'OwnedWallet.sol': { content: SOURCE } },
        settings: { outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } },
      }),
    ),
  );
  const contract = output.contracts['OwnedWallet.sol'].OwnedWallet;
  return { abi: contract.abi, bytecode: `0x${contract.evm.bytecode.object}` };
}

// anvil's first default account
const owner = privateKeyToAccount('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80');
let anvil: Anvil;
let db: TestDatabase;
let stream: TestStream;
let withRpc: RunningApi;
let withoutRpc: RunningApi;
let wallet: `0x${string}`;

beforeAll(async () => {
  [anvil, db, stream] = await Promise.all([startAnvil(), createTestDatabase(), createTestStream()]);
  const { abi, bytecode } = compile();
  const client = createWalletClient({ account: owner, chain: foundry, transport: http(anvil.rpcUrl) });
  const publicClient = createPublicClient({ chain: foundry, transport: http(anvil.rpcUrl) });
  const hash = await client.deployContract({ abi, bytecode, args: [owner.address] });
  wallet = (await publicClient.waitForTransactionReceipt({ hash })).contractAddress!;
  const env = { RATE_LIMIT_ANON_PER_MINUTE: '10000' };
  [withRpc, withoutRpc] = await Promise.all([
    startApi({ databaseUrl: db.url, stream, env: { ...env, RPC_URL: anvil.rpcUrl } }),
    startApi({ databaseUrl: db.url, stream, env }),
  ]);
});

afterAll(async () => {
  await Promise.all([withRpc?.stop(), withoutRpc?.stop(), anvil?.stop()]);
  await Promise.all([db?.drop(), stream?.destroy()]);
});

async function login(api: RunningApi, signer = owner) {
  const { nonce } = (await call(api.url, 'GET', '/auth/nonce')).body;
  const message = createSiweMessage({
    address: wallet,
    domain: TEST_SIWE.domain,
    uri: TEST_SIWE.origin,
    version: '1',
    chainId: stream.chainId,
    nonce,
    issuedAt: new Date(),
  });
  return call(api.url, 'POST', '/auth/verify', {
    body: { message, signature: await signer.signMessage({ message }) },
  });
}

describe('SIWE with a smart-contract wallet (ERC-1271) through the chain RPC', () => {
  it('signs in the contract address when its owner signed, with RPC_URL configured', async () => {
    const res = await login(withRpc);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.address).toBe(wallet.toLowerCase());
  });

  it('refuses a signature the wallet does not accept, and contract wallets without an RPC', async () => {
    const stranger = privateKeyToAccount(
      '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
    );
    expect((await login(withRpc, stranger)).body.error.code).toBe('SIWE_BAD_SIGNATURE');
    expect((await login(withoutRpc)).body.error.code).toBe('SIWE_BAD_SIGNATURE');
  });
});
