import { describe, expect, it } from 'vitest';
import { parseDevnetFlags, UsageError } from './flags.ts';

describe('devnet flags', () => {
  it('has defaults for a local devnet', () => {
    expect(parseDevnetFlags([], {})).toEqual({
      port: 8545,
      host: '127.0.0.1',
      chainId: 31337,
      out: '.devnet/deployment.json',
      help: false,
    });
  });

  it('takes flags over the environment', () => {
    const env = { DEVNET_PORT: '9000', DEVNET_BLOCK_TIME: '2', DEPLOYMENT_FILE: 'env.json' };
    expect(parseDevnetFlags([], env)).toMatchObject({ port: 9000, blockTime: 2, out: 'env.json' });
    expect(parseDevnetFlags(['--port', '9100', '--out', 'flag.json'], env)).toMatchObject({
      port: 9100,
      blockTime: 2,
      out: 'flag.json',
    });
  });

  it('names every bad flag in one readable message', () => {
    let error: unknown;
    try {
      parseDevnetFlags(['--port', 'eighty', '--block-time', '0', '--attach', 'nope'], {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    const message = (error as Error).message;
    expect(message).toContain('--port: must be a port number');
    expect(message).toContain('--block-time: must be a positive number of seconds');
    expect(message).toContain('--attach: must be an http(s):// or ws(s):// URL');
  });

  it('rejects unknown flags and contradictions', () => {
    expect(() => parseDevnetFlags(['--blocktime', '1'], {})).toThrow(UsageError);
    expect(() => parseDevnetFlags(['--attach', 'http://127.0.0.1:8545', '--block-time', '1'], {})).toThrow(
      /--block-time: cannot be set with --attach/,
    );
    expect(() => parseDevnetFlags(['--ws-url', 'ws://x:1'], {})).toThrow(/--ws-url: only with --attach/);
  });
});
