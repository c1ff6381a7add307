import type { Secret } from '@ghostnet/config';
import { type BoostMessage, randomBoostNonce, signBoost } from '@ghostnet/contracts';
import type { Address, Hex, LocalAccount } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';

/**
 * Signs boosts on the exact EIP-712 domain GhostCore verifies (name GHOSTNET, version 1, chain id,
 * verifyingContract = GhostCore). The private key is read from its Secret once, here, and lives only inside
 * the viem account: this object prints as "[redacted]" and exposes the signer's address, never the key.
 */
export class BoostSigner {
  readonly #account: LocalAccount;
  readonly address: Address;

  constructor(
    key: Secret,
    readonly chainId: number,
    readonly ghostCore: Address,
  ) {
    const raw = key.reveal();
    if (!/^0x[0-9a-fA-F]{64}$/.test(raw))
      throw new Error('BOOST_SIGNER_PRIVATE_KEY is not a 32-byte hex key');
    this.#account = privateKeyToAccount(raw as Hex);
    this.address = this.#account.address;
  }

  sign(message: BoostMessage): Promise<Hex> {
    return signBoost({ signer: this.#account, chainId: this.chainId, ghostCore: this.ghostCore, message });
  }

  static nonce(): Hex {
    return randomBoostNonce();
  }

  toString(): string {
    return `BoostSigner(${this.address})`;
  }

  toJSON(): string {
    return this.toString();
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}
