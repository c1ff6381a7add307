import { hashTypedData, keccak256, recoverTypedDataAddress, toHex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { describe, expect, it } from 'vitest';
import {
  BOOST_TYPEHASH,
  type BoostMessage,
  boostDigest,
  boostDomain,
  boostDomainSeparator,
  boostNonce,
  boostTypes,
  signBoost,
} from './eip712.ts';

// Known-answer vector from ghostnet-game-facts.md.
const KAT = {
  chainId: 31337,
  ghostCore: '0xDc64a140Aa3E981100a9becA4E685f962f0cF6C9',
  message: {
    user: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
    boostType: 0,
    valueBps: 1500,
    expiry: 1705794000n,
    nonce: `0x${'00'.repeat(31)}01`,
  } satisfies BoostMessage,
  domainSeparator: '0x00d968d0bd6aee46748f6a3d7bc88847e27041482efc75ea544726a828b3104f',
  digest: '0xba868a9a2ea42a3486bb2d1f56302af60f505a74b4434c7631541e4906fbc2fe',
} as const;

describe('boost EIP-712', () => {
  it('has the facts-file typehash', () => {
    expect(BOOST_TYPEHASH).toBe(
      keccak256(toHex('Boost(address user,uint8 boostType,uint16 valueBps,uint64 expiry,bytes32 nonce)')),
    );
  });

  it('reproduces the known-answer domain separator and digest', () => {
    expect(boostDomainSeparator(KAT.chainId, KAT.ghostCore)).toBe(KAT.domainSeparator);
    expect(boostDigest(KAT.chainId, KAT.ghostCore, KAT.message)).toBe(KAT.digest);
  });

  it('computes the same digest as viem hashTypedData, and signs what viem recovers to the signer', async () => {
    const signer = privateKeyToAccount(keccak256(toHex('boost signer')));
    for (let i = 0; i < 4; i++) {
      const message = { ...KAT.message, valueBps: 500 * i, nonce: boostNonce('v', i) };
      const typed = {
        domain: boostDomain(KAT.chainId, KAT.ghostCore),
        types: boostTypes,
        primaryType: 'Boost',
        message,
      } as const;
      expect(boostDigest(KAT.chainId, KAT.ghostCore, message)).toBe(hashTypedData(typed));
      const signature = await signBoost({ signer, chainId: KAT.chainId, ghostCore: KAT.ghostCore, message });
      expect(await recoverTypedDataAddress({ ...typed, signature })).toBe(signer.address);
    }
  });

  it('changes the digest with every field of the domain and the message', () => {
    const other = [
      boostDigest(1, KAT.ghostCore, KAT.message),
      boostDigest(KAT.chainId, '0x5FC8d32690cc91D4c39d9d3abcBD16989F875707', KAT.message),
      boostDigest(KAT.chainId, KAT.ghostCore, { ...KAT.message, valueBps: 1501 }),
      boostDigest(KAT.chainId, KAT.ghostCore, { ...KAT.message, boostType: 1 }),
      boostDigest(KAT.chainId, KAT.ghostCore, { ...KAT.message, expiry: 1705794001n }),
      boostDigest(KAT.chainId, KAT.ghostCore, { ...KAT.message, nonce: boostNonce('x', 1) }),
    ];
    for (const digest of other) expect(digest).not.toBe(KAT.digest);
  });

  it('signs 65-byte low-s signatures', async () => {
    const signer = privateKeyToAccount(keccak256(toHex('boost signer')));
    for (let i = 0; i < 8; i++) {
      const signature = await signBoost({
        signer,
        chainId: KAT.chainId,
        ghostCore: KAT.ghostCore,
        message: { ...KAT.message, nonce: boostNonce('t', i) },
      });
      expect(signature).toMatch(/^0x[0-9a-f]{130}$/);
      const s = BigInt(`0x${signature.slice(66, 130)}`);
      expect(s <= 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n).toBe(true);
      expect(['1b', '1c']).toContain(signature.slice(130));
    }
  });
});
