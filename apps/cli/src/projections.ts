import { createDatabasePool } from '@ghostnet/db';
import { runProjectionsCommand } from '@ghostnet/projections';
import { connectNats } from '@ghostnet/stream';
import { jetstreamManager } from '@nats-io/jetstream';
import type { CliEnv } from './env.ts';
import type { Print } from './stream.ts';

/** `ghostnet projections list|status [--json]|rebuild NAME [--wait]|resume NAME`: the projector's commands. */
export async function projections(env: CliEnv, args: string[], print: Print): Promise<number> {
  if (!env.DATABASE_URL) throw new Error('projections commands need DATABASE_URL');
  const pool = await createDatabasePool(env.DATABASE_URL, { maximumPoolSize: 2 });
  const nc = await connectNats({
    url: env.NATS_URL,
    name: 'ghostnet-cli',
    user: env.NATS_USER,
    password: env.NATS_PASSWORD,
  });
  try {
    return await runProjectionsCommand(args, {
      pool,
      jsm: await jetstreamManager(nc),
      streamName: env.STREAM_NAME,
      out: print,
    });
  } finally {
    await pool.end();
    await nc.close();
  }
}
