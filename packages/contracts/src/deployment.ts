import { readFileSync } from 'node:fs';
import { z } from 'zod';

const Address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte address')
  .transform((a) => a.toLowerCase() as `0x${string}`);

/** An anvil dev account: its index in anvil's well-known mnemonic, never its key. */
const DevAccount = z.object({ index: z.number().int().min(0), address: Address });

/** What `npm run devnet` writes and the apps read (`DEPLOYMENT_FILE`). */
export const Deployment = z.object({
  chainId: z.number().int().positive(),
  rpcUrl: z.url(),
  wsUrl: z.url(),
  addresses: z.object({ GhostCore: Address, TraceScan: Address, DataToken: Address }),
  deployBlock: z.number().int().nonnegative(),
  deployedAt: z.number().int().nonnegative().optional(),
  boostSigner: Address,
  /** Anvil dev accounts by role; their keys follow from anvil's public mnemonic and index. */
  accounts: z
    .object({
      deployer: DevAccount,
      boostSigner: DevAccount.optional(),
      testWallets: z.array(DevAccount).default([]),
    })
    .optional(),
});
export type Deployment = z.infer<typeof Deployment>;

export class DeploymentFileError extends Error {
  override name = 'DeploymentFileError';
}

export function parseDeployment(value: unknown, source = 'deployment'): Deployment {
  const result = Deployment.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (i) => `  - ${i.path.map(String).join('.') || '(root)'}: ${i.message}`,
  );
  throw new DeploymentFileError(`invalid ${source}:\n${problems.join('\n')}`);
}

export function readDeployment(file: string): Deployment {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new DeploymentFileError(
      `cannot read deployment file ${file}: ${(error as Error).message}. Start the devnet: npm run devnet`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new DeploymentFileError(`deployment file ${file} is not JSON`);
  }
  return parseDeployment(json, `deployment file ${file}`);
}
