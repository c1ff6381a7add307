import {
  type Address,
  createPublicClient,
  createWalletClient,
  defineChain,
  encodeDeployData,
  encodeFunctionData,
  getContractAddress,
  type Hex,
  http,
  type LocalAccount,
  maxUint256,
  type PublicClient,
} from 'viem';
import { anvilAccount, DEV_ACCOUNT_ROLES } from './anvilAccounts.ts';
import { dataTokenAbi, dataTokenBytecode } from './artifacts/DataToken.ts';
import { ghostCoreAbi, ghostCoreBytecode } from './artifacts/GhostCore.ts';
import { traceScanAbi, traceScanBytecode } from './artifacts/TraceScan.ts';

const DATA = 10n ** 18n;

export interface DeployGhostnetOptions {
  rpcUrl: string;
  /** Owner of all three contracts; default anvil dev account 0. */
  deployer?: LocalAccount;
  /** Address whose EIP-712 signatures applyBoost accepts; default anvil dev account 9. */
  boostSigner?: Address;
  /** Receives the protocol share of cascades and resets; default the deployer. */
  treasury?: Address;
  /** DATA minted to the deployer and approved to GhostCore, for addEmissions. Default 100M DATA. */
  ownerSupply?: bigint;
  /** Mixed into TraceScan's seeds (default zero: same seeds on every fresh deployment). */
  seedSalt?: Hex;
  /**
   * Wallets to fund with `amount` DATA and approve GhostCore from (each signs its own approve, so it needs
   * ETH: anvil's dev accounts have it; `eth` sets a balance with anvil_setBalance first).
   */
  fund?: { accounts: LocalAccount[]; amount: bigint; eth?: bigint };
  /** How often to poll for receipts (ms); keep small on automine, it costs nothing. */
  pollingIntervalMs?: number;
}

export interface GhostnetDeployment {
  chainId: number;
  addresses: { GhostCore: Address; TraceScan: Address; DataToken: Address };
  /** Block of the GhostCore deployment: no game event can come from an earlier one. */
  deployBlock: number;
  deployer: Address;
  boostSigner: Address;
  treasury: Address;
  funded: Address[];
}

interface PlannedTx {
  what: string;
  from: LocalAccount;
  to?: Address;
  data: Hex;
  gas: bigint;
}

/**
 * Deploys DataToken, GhostCore and TraceScan, wires them and funds wallets. Every transaction is sent up
 * front with explicit nonces and gas (addresses follow from the deployer's nonce), so it takes the same few
 * blocks on automine, with a block time, or attached to a node someone else mines.
 */
export async function deployGhostnet(options: DeployGhostnetOptions): Promise<GhostnetDeployment> {
  const transport = http(options.rpcUrl, { retryCount: 0, timeout: 30_000 });
  const probe = createPublicClient({ transport });
  const chainId = await probe.getChainId();
  const chain = defineChain({
    id: chainId,
    name: `ghostnet-local-${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [options.rpcUrl] } },
  });
  const client = createPublicClient({ chain, transport, pollingInterval: options.pollingIntervalMs ?? 50 });

  const deployer = options.deployer ?? anvilAccount(DEV_ACCOUNT_ROLES.deployer);
  const boostSigner = options.boostSigner ?? anvilAccount(DEV_ACCOUNT_ROLES.boostSigner).address;
  const treasury = options.treasury ?? deployer.address;
  const ownerSupply = options.ownerSupply ?? 100_000_000n * DATA;
  const funded = options.fund?.accounts ?? [];

  if (options.fund?.eth !== undefined) {
    for (const account of funded) {
      await client.request({
        method: 'anvil_setBalance' as never,
        params: [account.address, `0x${options.fund.eth.toString(16)}`] as never,
      });
    }
  }

  const nonce = await client.getTransactionCount({ address: deployer.address, blockTag: 'pending' });
  const DataToken = getContractAddress({ from: deployer.address, nonce: BigInt(nonce) });
  const GhostCore = getContractAddress({ from: deployer.address, nonce: BigInt(nonce + 1) });
  const TraceScan = getContractAddress({ from: deployer.address, nonce: BigInt(nonce + 2) });

  const deploys: PlannedTx[] = [
    {
      what: 'deploy DataToken',
      from: deployer,
      data: encodeDeployData({ abi: dataTokenAbi, bytecode: dataTokenBytecode }),
      gas: 0n,
    },
    {
      what: 'deploy GhostCore',
      from: deployer,
      data: encodeDeployData({
        abi: ghostCoreAbi,
        bytecode: ghostCoreBytecode,
        args: [DataToken, treasury, boostSigner],
      }),
      gas: 0n,
    },
    {
      what: 'deploy TraceScan',
      from: deployer,
      data: encodeDeployData({ abi: traceScanAbi, bytecode: traceScanBytecode, args: [GhostCore] }),
      gas: 0n,
    },
  ];
  // Constructors call nothing, so deployments estimate fine before their predecessors are mined.
  for (const tx of deploys) {
    tx.gas = ((await client.estimateGas({ account: deployer.address, data: tx.data })) * 12n) / 10n;
  }

  const calls: PlannedTx[] = [
    {
      what: 'GhostCore.setTraceScan',
      from: deployer,
      to: GhostCore,
      data: encodeFunctionData({ abi: ghostCoreAbi, functionName: 'setTraceScan', args: [TraceScan] }),
      gas: 100_000n,
    },
    {
      what: 'DataToken.mint (owner supply)',
      from: deployer,
      to: DataToken,
      data: encodeFunctionData({
        abi: dataTokenAbi,
        functionName: 'mint',
        args: [deployer.address, ownerSupply],
      }),
      gas: 150_000n,
    },
    approve(deployer, DataToken, GhostCore),
  ];
  if (options.seedSalt) {
    calls.push({
      what: 'TraceScan.setSeedSalt',
      from: deployer,
      to: TraceScan,
      data: encodeFunctionData({ abi: traceScanAbi, functionName: 'setSeedSalt', args: [options.seedSalt] }),
      gas: 100_000n,
    });
  }
  if (funded.length > 0) {
    calls.push({
      what: 'DataToken.mintBatch (wallets)',
      from: deployer,
      to: DataToken,
      data: encodeFunctionData({
        abi: dataTokenAbi,
        functionName: 'mintBatch',
        args: [funded.map((a) => a.address), options.fund!.amount],
      }),
      gas: 100_000n + 60_000n * BigInt(funded.length),
    });
  }

  const hashes: { what: string; hash: Hex }[] = [];
  const nonces = new Map<Address, number>([[deployer.address, nonce]]);
  const send = async (tx: PlannedTx) => {
    const wallet = createWalletClient({ account: tx.from, chain, transport });
    let next = nonces.get(tx.from.address);
    if (next === undefined) {
      next = await client.getTransactionCount({ address: tx.from.address, blockTag: 'pending' });
    }
    nonces.set(tx.from.address, next + 1);
    const hash = await wallet.sendTransaction({
      account: tx.from,
      chain,
      to: tx.to ?? null,
      data: tx.data,
      gas: tx.gas,
      nonce: next,
    });
    hashes.push({ what: tx.what, hash });
  };
  for (const tx of [...deploys, ...calls]) await send(tx);
  // Approvals need the mint to be ordered first only for balances, not allowances: send them right away.
  for (const account of funded) await send(approve(account, DataToken, GhostCore));

  const receipts = await Promise.all(
    hashes.map(async ({ what, hash }) => {
      const receipt = await client.waitForTransactionReceipt({ hash, timeout: 120_000 });
      if (receipt.status !== 'success') throw new Error(`deployGhostnet: ${what} reverted (tx ${hash})`);
      return receipt;
    }),
  );
  const deployBlock = Number(receipts[1]!.blockNumber);
  await assertCode(client, { DataToken, GhostCore, TraceScan });

  return {
    chainId,
    addresses: { GhostCore: lower(GhostCore), TraceScan: lower(TraceScan), DataToken: lower(DataToken) },
    deployBlock,
    deployer: lower(deployer.address),
    boostSigner: lower(boostSigner),
    treasury: lower(treasury),
    funded: funded.map((a) => lower(a.address)),
  };
}

function approve(from: LocalAccount, token: Address, spender: Address): PlannedTx {
  return {
    what: `DataToken.approve from ${from.address}`,
    from,
    to: token,
    data: encodeFunctionData({ abi: dataTokenAbi, functionName: 'approve', args: [spender, maxUint256] }),
    gas: 80_000n,
  };
}

async function assertCode(client: Pick<PublicClient, 'getCode'>, addresses: Record<string, Address>) {
  for (const [name, address] of Object.entries(addresses)) {
    const code = await client.getCode({ address });
    if (!code || code === '0x') throw new Error(`deployGhostnet: no code at ${name} ${address}`);
  }
}

function lower(address: Address): Address {
  return address.toLowerCase() as Address;
}
