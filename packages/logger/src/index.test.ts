import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './index.ts';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, logger: createLogger({ name: 'test', level: 'trace', destination }) };
}

describe('createLogger', () => {
  it('redacts keys, tokens and signatures at the top level and one level down', () => {
    const { lines, logger } = capture();
    logger.info(
      {
        token: 'jwt-abc',
        signature: '0xsig',
        boost: { signature: '0xsig2', nonce: '0x01' },
        config: { privateKey: '0xkey' },
        req: { headers: { authorization: 'Bearer x', cookie: 'session=y' } },
      },
      'hello',
    );
    const text = lines.join('');
    for (const secret of ['jwt-abc', '0xsig', '0xsig2', '0xkey', 'Bearer x', 'session=y']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('0x01');
  });

  it("keeps an RPC provider's key out of logged errors (viem quotes the URL it failed on)", () => {
    const { lines, logger } = capture();
    const error = Object.assign(
      new Error(
        'HTTP request failed.\n\nURL: https://eth-mainnet.g.alchemy.com/v2/SECRETKEY1\nDetails: timeout',
      ),
      { url: 'https://user:PASSWORD2@rpc.example:8545/path?apikey=SECRETKEY3', status: 504 },
    );
    logger.warn({ err: error }, 'chain read failed');
    logger.error({ error: new Error('ws failed: wss://mainnet.megaeth.com/ws/SECRETKEY4') }, 'subscription');
    const text = lines.join('');
    for (const secret of ['SECRETKEY1', 'PASSWORD2', 'SECRETKEY3', 'SECRETKEY4', '/v2/']) {
      expect(text).not.toContain(secret);
    }
    const line = JSON.parse(lines[0]!);
    expect(line.err.message).toContain('URL: https://eth-mainnet.g.alchemy.com/…');
    expect(line.err).toMatchObject({ url: 'https://rpc.example:8545/…', status: 504, type: 'Error' });
  });

  it('writes the fields of the spec example as JSON', () => {
    const { lines, logger } = capture();
    logger.info(
      { eventType: 'JackedIn', blockNumber: 12345, user: '0xab', processingTime: 45 },
      'Event indexed',
    );
    const line = JSON.parse(lines[0]!);
    expect(line).toMatchObject({
      level: 'info',
      service: 'test',
      msg: 'Event indexed',
      eventType: 'JackedIn',
      blockNumber: 12345,
      user: '0xab',
      processingTime: 45,
    });
  });
});
