import type { Secret } from '@ghostnet/config';
import type { Logger } from '@ghostnet/logger';
import pg from 'pg';
import { z } from 'zod';

/**
 * The projector announces every committed batch on this Postgres channel (pg_notify in the checkpoint's own
 * transaction, so the notice arrives when the rows are visible, never before). Readers that wait for a
 * checkpoint (the gateway's POSITION_UPDATE) wake on it instead of polling; a notice is only a hint: the
 * reader still reads the checkpoint, so a lost or duplicated notice changes nothing but latency.
 */
export const CHECKPOINT_CHANNEL = 'ghostnet_checkpoint';

/** Payload: `<projection>:<version>:<last sequence>`. */
export const CheckpointNotice = z
  .string()
  .regex(/^[a-z][a-z0-9_]*:\d+:\d+$/)
  .transform((s) => {
    const [projection, version, sequence] = s.split(':') as [string, string, string];
    return { projection, version: Number(version), sequence: Number(sequence) };
  });
export type CheckpointNotice = z.output<typeof CheckpointNotice>;

export interface CheckpointListener {
  stop(): Promise<void>;
  /** Connected and listening (for health and tests). */
  readonly listening: boolean;
}

/**
 * LISTENs on a connection of its own and calls `onNotice` for each well-formed notice. The connection is
 * re-established after any failure (1 s, doubling to 30 s); while it is down, readers fall back to polling.
 */
export function listenForCheckpoints(
  databaseUrl: Secret | string,
  onNotice: (notice: CheckpointNotice) => void,
  logger: Logger,
): CheckpointListener {
  let client: pg.Client | null = null;
  let stopped = false;
  let listening = false;
  let delayMs = 1_000;
  let retry: NodeJS.Timeout | null = null;

  const connect = async () => {
    if (stopped) return;
    const connectionString = typeof databaseUrl === 'string' ? databaseUrl : databaseUrl.reveal();
    const c = new pg.Client({ connectionString, application_name: 'checkpoint-listener' });
    client = c;
    const lost = (error?: Error) => {
      if (client !== c) return;
      client = null;
      listening = false;
      c.removeAllListeners();
      c.on('error', () => {});
      c.end().catch(() => {});
      if (stopped) return;
      logger.warn(
        { err: error?.message, retryMs: delayMs },
        'checkpoint notices: connection lost; polling until back',
      );
      retry = setTimeout(() => void connect(), delayMs);
      retry.unref();
      delayMs = Math.min(delayMs * 2, 30_000);
    };
    c.on('error', lost);
    c.on('end', () => lost(new Error('connection ended')));
    c.on('notification', (n) => {
      if (n.channel !== CHECKPOINT_CHANNEL) return;
      const parsed = CheckpointNotice.safeParse(n.payload ?? '');
      if (parsed.success) onNotice(parsed.data);
      else
        logger.warn({ payload: n.payload?.slice(0, 100) }, 'checkpoint notices: malformed payload ignored');
    });
    try {
      await c.connect();
      // LISTEN takes no parameter; the channel is CHECKPOINT_CHANNEL.
      await c.query('LISTEN ghostnet_checkpoint');
      if (client !== c) return;
      listening = true;
      delayMs = 1_000;
    } catch (error) {
      lost(error as Error);
    }
  };
  void connect();

  return {
    get listening() {
      return listening;
    },
    async stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      const c = client;
      client = null;
      listening = false;
      if (c) {
        c.removeAllListeners();
        c.on('error', () => {});
        await c.end().catch(() => {});
      }
    },
  };
}
