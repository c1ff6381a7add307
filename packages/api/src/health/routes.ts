import { sql } from '@ghostnet/db';
import { z } from 'zod';
import type { ApiContext, ZodApp } from '../context.ts';
import { errorBody } from '../http/errors.ts';

const CHECK_TIMEOUT_MS = 2_000;

async function within(probe: () => Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await Promise.race([
      probe().then((v) => v !== false),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), CHECK_TIMEOUT_MS);
      }),
    ]);
    return result;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes(app: ZodApp, ctx: ApiContext): void {
  app.get(
    '/health/live',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness: the process serves requests',
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/health/ready',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: Postgres and NATS (with the stream) answer',
        response: {
          200: z.object({
            status: z.literal('ready'),
            checks: z.object({ postgres: z.boolean(), nats: z.boolean() }),
          }),
          503: z.object({
            error: z.object({
              code: z.string(),
              message: z.string(),
              details: z.object({ postgres: z.boolean(), nats: z.boolean() }),
            }),
          }),
        },
      },
    },
    async (_request, reply) => {
      const [postgres, nats] = await Promise.all([
        within(() => ctx.pool.query(sql.unsafe`SELECT 1`)),
        within(ctx.natsReady),
      ]);
      if (postgres && nats) return { status: 'ready' as const, checks: { postgres, nats } };
      return reply
        .code(503)
        .send(errorBody('NOT_READY', 'dependencies unavailable', { postgres, nats }) as never);
    },
  );
}
