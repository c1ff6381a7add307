import { privateKeyToAccount } from 'viem/accounts';
import { createSiweMessage } from 'viem/siwe';
import { describe, expect, it } from 'vitest';
import { checkSiweMessage, SiweError, type SiweExpectations, verifySiweSignature } from './siwe.ts';

const wallet = privateKeyToAccount('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d');
const other = privateKeyToAccount('0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a');
const now = Date.parse('2026-01-20T12:00:00Z');
const expect_: SiweExpectations = {
  domain: 'ghostnet.io',
  origin: 'https://ghostnet.io',
  chainId: 6343,
  maxAgeMs: 300_000,
};

function message(overrides: Partial<Parameters<typeof createSiweMessage>[0]> = {}) {
  return createSiweMessage({
    address: wallet.address,
    domain: 'ghostnet.io',
    uri: 'https://ghostnet.io/login',
    version: '1',
    chainId: 6343,
    nonce: 'abcdef0123456789',
    issuedAt: new Date(now - 1000),
    ...overrides,
  });
}

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof SiweError) return error.reason;
    throw error;
  }
  return 'accepted';
}

describe('checkSiweMessage', () => {
  it('accepts a message for us and returns its lowercase address', () => {
    const checked = checkSiweMessage(message(), expect_, now);
    expect(checked.address).toBe(wallet.address.toLowerCase());
    expect(checked.nonce).toBe('abcdef0123456789');
  });

  it('names what is wrong', () => {
    const cases: [string, string][] = [
      [message({ domain: 'evil.io' }), 'WRONG_DOMAIN'],
      [message({ uri: 'https://evil.io/login' }), 'WRONG_URI'],
      [message({ uri: 'http://ghostnet.io/login' }), 'WRONG_URI'],
      [message({ chainId: 1 }), 'WRONG_CHAIN'],
      [message({ expirationTime: new Date(now - 1) }), 'EXPIRED'],
      [message({ issuedAt: new Date(now - 3_600_000) }), 'EXPIRED'],
      [message({ notBefore: new Date(now + 60_000) }), 'NOT_YET_VALID'],
      [message({ issuedAt: new Date(now + 3_600_000) }), 'NOT_YET_VALID'],
      [message({ scheme: 'http' }), 'WRONG_DOMAIN'],
      ['hello', 'MALFORMED'],
      [message().replace('Version: 1', 'Version: 2'), 'MALFORMED'],
      [message().replace(/Issued At: .*/, 'Issued At: yesterday'), 'MALFORMED'],
      ['x'.repeat(5000), 'MALFORMED'],
    ];
    for (const [text, want] of cases)
      expect(
        reason(() => checkSiweMessage(text, expect_, now)),
        text,
      ).toBe(want);
    expect(reason(() => checkSiweMessage(message({ scheme: 'https' }), expect_, now))).toBe('accepted');
  });
});

describe('verifySiweSignature', () => {
  it("accepts the address's own signature and refuses another's or a tampered message", async () => {
    const text = message();
    const signature = await wallet.signMessage({ message: text });
    await expect(verifySiweSignature(text, wallet.address, signature)).resolves.toBeUndefined();

    const foreign = await other.signMessage({ message: text });
    await expect(verifySiweSignature(text, wallet.address, foreign)).rejects.toMatchObject({
      reason: 'BAD_SIGNATURE',
    });
    const tampered = text.replace('Nonce: abcdef0123456789', 'Nonce: abcdef0123456780');
    await expect(verifySiweSignature(tampered, wallet.address, signature)).rejects.toMatchObject({
      reason: 'BAD_SIGNATURE',
    });
    await expect(verifySiweSignature(text, wallet.address, '0x1234')).rejects.toMatchObject({
      reason: 'BAD_SIGNATURE',
    });
  });
});
