import { Writable } from 'node:stream';
import { createLogger } from '@ghostnet/logger';
import Fastify, { type FastifyBaseLogger, LogController } from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import { lazyChildLogger } from './requestLogger.ts';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(JSON.parse(String(chunk)));
      callback();
    },
  });
  return { lines, logger: createLogger({ name: 'api', level, destination }) };
}

const appWith = (logger: FastifyBaseLogger) =>
  Fastify({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: lazyChildLogger,
  });

describe('the request logger', () => {
  it('makes no child for a request that logs nothing, or only below the level', async () => {
    const { lines, logger } = capture('info');
    const app = appWith(logger as FastifyBaseLogger);
    app.get('/quiet', async (request) => {
      request.log.debug('not written at info');
      return { level: request.log.level };
    });
    await app.ready();
    // Fastify makes children of its own while starting; from here on, only requests could.
    const child = vi.spyOn(logger, 'child');
    const response = await app.inject('/quiet');
    expect(response.json()).toEqual({ level: 'info' });
    expect(child).not.toHaveBeenCalled();
    expect(lines).toEqual([]);
    await app.close();
  });

  it("writes a request's lines with its reqId, redacted like every other line", async () => {
    const { lines, logger } = capture('info');
    const app = appWith(logger as FastifyBaseLogger);
    app.get('/loud', async (request) => {
      request.log.warn({ token: 'secret-token' }, 'first');
      request.log.child({ step: 2 }).error('second');
      return {};
    });
    await app.inject('/loud');
    await app.inject('/loud');
    expect(lines.map((l) => [l.msg, l.reqId, l.token, l.step])).toEqual([
      ['first', 'req-1', '[redacted]', undefined],
      ['second', 'req-1', undefined, 2],
      ['first', 'req-2', '[redacted]', undefined],
      ['second', 'req-2', undefined, 2],
    ]);
    await app.close();
  });

  it('writes what a route with a lower level of its own logs', async () => {
    const { lines, logger } = capture('info');
    const app = appWith(logger as FastifyBaseLogger);
    app.get('/verbose', { logLevel: 'debug' }, async (request) => {
      request.log.debug('detail');
      return {};
    });
    await app.inject('/verbose');
    expect(lines.map((l) => [l.msg, l.level])).toEqual([['detail', 'debug']]);
    await app.close();
  });
});
