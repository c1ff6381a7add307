import {
  type Abi,
  type Address,
  type Chain,
  createPublicClient,
  createWalletClient,
  type Hex,
  http,
  type LocalAccount,
  type TransactionReceipt,
} from 'viem';
import { foundry } from 'viem/chains';

export interface ContractCall {
  address: Address;
  abi: Abi | readonly unknown[];
  functionName: string;
  args?: readonly unknown[];
}

/** Over the node's estimate, as wallets send it: the estimate is exact for the state it was made on. */
const GAS_HEADROOM_PERCENT = 30n;

/**
 * Sends a contract call as a player's wallet does and waits for it to be mined. It is simulated first, so a
 * call the contract refuses throws viem's error with the custom error's name. A call mined reverted all the
 * same (seen on loaded CI machines, for jackIns that had simulated fine) throws with the gas it used and what
 * anvil's trace says of the revert, instead of a bare `status: reverted`.
 */
export async function sendContractCall(
  rpcUrl: string,
  account: LocalAccount,
  call: ContractCall,
  chain: Chain = foundry,
): Promise<TransactionReceipt> {
  const client = createPublicClient({ chain, transport: http(rpcUrl) });
  // On the pending block, as the transaction will run: a time moved on with evm_increaseTime counts there.
  const request = { account, ...call, args: call.args ?? [], blockTag: 'pending' } as never;
  await client.simulateContract(request);
  const estimate = await client.estimateContractGas(request);
  const gas = (estimate * (100n + GAS_HEADROOM_PERCENT)) / 100n;
  const hash = await createWalletClient({ account, chain, transport: http(rpcUrl) }).writeContract({
    account,
    ...call,
    args: call.args ?? [],
    gas,
  } as never);
  const receipt = await client.waitForTransactionReceipt({ hash });
  if (receipt.status !== 'success') {
    const trace = await traceOf(client, hash);
    throw new Error(
      `${call.functionName} from ${account.address} mined reverted in block ${receipt.blockNumber}: ` +
        `gas used ${receipt.gasUsed} of ${gas} (estimate ${estimate}); trace: ${trace}`,
    );
  }
  return receipt;
}

async function traceOf(client: ReturnType<typeof createPublicClient>, hash: Hex): Promise<string> {
  try {
    const trace = (await client.request({
      method: 'debug_traceTransaction',
      params: [hash, { tracer: 'callTracer' }],
    } as never)) as { error?: string; revertReason?: string; output?: string };
    return JSON.stringify({ error: trace.error, revertReason: trace.revertReason, output: trace.output });
  } catch (error) {
    return `unavailable (${(error as Error).message.split('\n')[0]})`;
  }
}
