import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { Secret } from '@ghostnet/config';
import { boostDigest } from '@ghostnet/contracts';
import { createLogger } from '@ghostnet/logger';
import { recoverAddress } from 'viem';
import { describe, expect, it } from 'vitest';
import { BoostSigner } from './boostSigner.ts';

// anvil dev account 9 (a public test key).
const KEY = '0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6';

describe('BoostSigner', () => {
  it('signs the facts file known answer: the digest GhostCore computes, recoverable to the signer', async () => {
    const signer = new BoostSigner(new Secret(KEY), 31337, '0xDc64a140Aa3E981100a9becA4E685f962f0cF6C9');
    const message = {
      user: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
      boostType: 0,
      valueBps: 1500,
      expiry: 1705794000n,
      nonce: `0x${'00'.repeat(31)}01`,
    } as const;
    const digest = boostDigest(31337, signer.ghostCore, message);
    expect(digest).toBe('0xba868a9a2ea42a3486bb2d1f56302af60f505a74b4434c7631541e4906fbc2fe');
    const signature = await signer.sign(message);
    expect(signature).toMatch(/^0x[0-9a-f]{130}$/);
    expect(await recoverAddress({ hash: digest, signature })).toBe(signer.address);
  });

  it('never shows its key: not printed, not serialized, not logged at any level, not in its errors', () => {
    const signer = new BoostSigner(new Secret(KEY), 31337, `0x${'11'.repeat(20)}`);
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger({ name: 'test', level: 'trace', destination });
    for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const) {
      logger[level]({ signer, key: new Secret(KEY), err: new Error('boom') }, 'signing');
    }
    let refusal = '';
    try {
      new BoostSigner(new Secret(`${KEY}ff`), 1, signer.ghostCore);
    } catch (error) {
      refusal = `${(error as Error).message} ${inspect(error)}`;
    }
    const printed = [
      String(signer),
      JSON.stringify({ signer }),
      inspect(signer, { depth: 5 }),
      refusal,
      ...lines,
    ].join('\n');
    expect(lines).toHaveLength(6);
    expect(refusal).toContain('not a 32-byte hex key');
    expect(printed.toLowerCase()).not.toContain(KEY.slice(2));
  });
});
