import { type HDAccount, mnemonicToAccount } from 'viem/accounts';

/** anvil's public dev mnemonic: these accounts exist on every fresh anvil, funded with 10,000 ETH each. */
export const ANVIL_MNEMONIC = 'test test test test test test test test test test test junk';

/** Roles the devnet gives anvil's dev accounts (by index, so no key is ever written anywhere). */
export const DEV_ACCOUNT_ROLES = {
  deployer: 0,
  keeper: 1,
  testWallets: [2, 3, 4, 5, 6, 7, 8],
  boostSigner: 9,
} as const;

const cache = new Map<number, HDAccount>();

/** Anvil dev account `index` (m/44'/60'/0'/0/index of ANVIL_MNEMONIC). */
export function anvilAccount(index: number): HDAccount {
  let account = cache.get(index);
  if (!account) {
    account = mnemonicToAccount(ANVIL_MNEMONIC, { addressIndex: index });
    cache.set(index, account);
  }
  return account;
}
