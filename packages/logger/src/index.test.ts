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
