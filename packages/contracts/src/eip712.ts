import {
  type Address,
  concat,
  encodeAbiParameters,
  type Hex,
  hashDomain,
  keccak256,
  type LocalAccount,
  type TypedDataDomain,
  toHex,
} from 'viem';

/**
 * The boost signature GhostCore.applyBoost verifies (facts file, "Boost signatures"). The API's mini-game
 * signs with these; tests and the simulator too, so the domain and type live here only.
 */

export const BOOST_DOMAIN_NAME = 'GHOSTNET';
export const BOOST_DOMAIN_VERSION = '1';

export const boostTypes = {
  Boost: [
    { name: 'user', type: 'address' },
    { name: 'boostType', type: 'uint8' },
    { name: 'valueBps', type: 'uint16' },
    { name: 'expiry', type: 'uint64' },
    { name: 'nonce', type: 'bytes32' },
  ],
} as const;

/** keccak256("Boost(address user,uint8 boostType,uint16 valueBps,uint64 expiry,bytes32 nonce)"). */
export const BOOST_TYPEHASH: Hex = '0xbcb43ccd3472f7bfbe72f88216949a882b86b513bb0d4152d0eb9564a08b67fb';

export const BoostType = { DEATH_REDUCTION: 0, YIELD_MULTIPLIER: 1 } as const;
export type BoostTypeValue = (typeof BoostType)[keyof typeof BoostType];

export interface BoostMessage {
  /** The player: `msg.sender` of applyBoost. */
  user: Address;
  boostType: BoostTypeValue;
  valueBps: number;
  /** Unix seconds; applyBoost requires `expiry > block.timestamp`. */
  expiry: bigint;
  /** bytes32, unique across all users (GhostCore keeps one global set). */
  nonce: Hex;
}

/** `verifyingContract` is the GhostCore address the boost will be applied on. */
export function boostDomain(chainId: number, ghostCore: Address) {
  return {
    name: BOOST_DOMAIN_NAME,
    version: BOOST_DOMAIN_VERSION,
    chainId,
    verifyingContract: ghostCore,
  } as const satisfies TypedDataDomain;
}

export function boostDomainSeparator(chainId: number, ghostCore: Address): Hex {
  return hashDomain({
    domain: { ...boostDomain(chainId, ghostCore), chainId: BigInt(chainId) },
    types: {
      EIP712Domain: [
        { name: 'name', type: 'string' },
        { name: 'version', type: 'string' },
        { name: 'chainId', type: 'uint256' },
        { name: 'verifyingContract', type: 'address' },
      ],
    },
  });
}

const separators = new Map<string, Hex>();
const BOOST_FIELDS = [
  { type: 'bytes32' },
  { type: 'address' },
  { type: 'uint8' },
  { type: 'uint16' },
  { type: 'uint64' },
  { type: 'bytes32' },
] as const;

/**
 * The digest the signer signs (and GhostCore.hashBoost returns). Encoded by hand rather than with viem's
 * hashTypedData, which re-derives the type encoding on every call (~3x slower); a test pins both to the
 * facts file's known answer and to viem's signature recovery.
 */
export function boostDigest(chainId: number, ghostCore: Address, message: BoostMessage): Hex {
  const key = `${chainId}:${ghostCore.toLowerCase()}`;
  let separator = separators.get(key);
  if (!separator) {
    separator = boostDomainSeparator(chainId, ghostCore);
    separators.set(key, separator);
  }
  const structHash = keccak256(
    encodeAbiParameters(BOOST_FIELDS, [
      BOOST_TYPEHASH,
      message.user,
      message.boostType,
      message.valueBps,
      message.expiry,
      message.nonce,
    ]),
  );
  return keccak256(concat(['0x1901', separator, structHash]));
}

export interface SignBoostParams {
  /** The boost signer's account (viem LocalAccount: privateKeyToAccount, mnemonicToAccount, …). */
  signer: LocalAccount;
  chainId: number;
  ghostCore: Address;
  message: BoostMessage;
}

/** A 65-byte, low-s signature (viem's), as applyBoost requires. */
export function signBoost({ signer, chainId, ghostCore, message }: SignBoostParams): Promise<Hex> {
  // Signing the digest directly is what signTypedData does, minus its slow type encoding.
  if (signer.sign) return signer.sign({ hash: boostDigest(chainId, ghostCore, message) });
  return signer.signTypedData({
    domain: boostDomain(chainId, ghostCore),
    types: boostTypes,
    primaryType: 'Boost',
    message,
  });
}

/** A fresh random nonce. Deterministic callers (the simulator) derive theirs with `boostNonce(...)`. */
export function randomBoostNonce(): Hex {
  return toHex(crypto.getRandomValues(new Uint8Array(32)));
}

/** A nonce derived from a namespace and a counter: reproducible, and unique while the pair is. */
export function boostNonce(namespace: string, counter: number | bigint): Hex {
  return keccak256(toHex(`${namespace}:${counter}`));
}
