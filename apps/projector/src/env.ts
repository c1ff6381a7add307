import { bool, chainEnv, databaseEnv, logEnv, natsEnv, parseEnv } from '@ghostnet/config';
import { ALL_PROJECTIONS } from '@ghostnet/projections';
import { z } from 'zod';

const NAMES = ALL_PROJECTIONS.map((p) => p.name);

/**
 * Which projections this process runs. Leases are per projection generation, so replicas with different lists
 * split the work between them, each list held by its own replicas (a replica stands by only for its own list).
 */
const projectionList = z
  .string()
  .transform((list) => list.split(',').map((name) => name.trim()))
  .superRefine((names, ctx) => {
    for (const name of names) {
      if (!NAMES.includes(name))
        ctx.addIssue({
          code: 'custom',
          message: `unknown projection '${name}' (known: ${NAMES.join(', ')})`,
        });
    }
    const repeated = names.filter((name, i) => names.indexOf(name) !== i);
    if (repeated.length) ctx.addIssue({ code: 'custom', message: `named twice: ${repeated.join(', ')}` });
  });

export const ProjectorEnv = z
  .object({
    ...databaseEnv,
    ...natsEnv,
    ...logEnv,
    CHAIN_ID: chainEnv.CHAIN_ID,
    /** Comma-separated projection names this process runs (default: every one). */
    PROJECTOR_PROJECTIONS: projectionList.default([...NAMES]),
    /** Stream messages per transaction. */
    PROJECTOR_BATCH_SIZE: z.coerce.number().int().min(1).max(5_000).default(1_000),
    /** After a batch's first message, how long to wait for more (0: take what is buffered). */
    PROJECTOR_BATCH_WAIT_MS: z.coerce.number().int().min(0).max(10_000).default(0),
    /** Lease and generation bookkeeping period; a standby takes over within about this long. */
    PROJECTOR_POLL_MS: z.coerce.number().int().min(100).max(60_000).default(1_000),
    /** Batches delivered with fewer messages after them than this keep undo data for reorgs. */
    PROJECTOR_UNDO_WINDOW: z.coerce.number().int().min(0).default(10_000),
    /**
     * Run the projector's repeated statements as named prepared statements (Postgres plans each once per
     * connection). False behind a pooler that cannot keep them, such as PgBouncer in transaction mode before
     * 1.21 (or without max_prepared_statements).
     */
    PROJECTOR_PREPARE_STATEMENTS: bool.default(true),
    /** Publish `derived.ScanSurvivors` (the SURVIVED feed events); one replica at a time does, under a lease. */
    DERIVE_SURVIVORS: bool.default(true),
    /**
     * Until the stream holds a first ScanSurvivors, scans finalized at or below this sequence are not derived:
     * set it to the stream's last sequence when enabling the publisher on a deployment with history, with
     * DERIVED_FROM_EPOCH.
     */
    DERIVED_FROM_SEQUENCE: z.coerce.number().int().min(0).default(0),
    /** The epoch (creation time) of the stream DERIVED_FROM_SEQUENCE is for, as `ghostnet stream info` prints it. */
    DERIVED_FROM_EPOCH: z.string().min(1).optional(),
    /** Serve /metrics, /healthz and /readyz on this port. */
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  })
  .superRefine((env, ctx) => {
    // A stream sequence means nothing in another stream: a recreated one would have its first scans skipped.
    if (env.DERIVED_FROM_SEQUENCE > 0 && !env.DERIVED_FROM_EPOCH) {
      ctx.addIssue({
        code: 'custom',
        path: ['DERIVED_FROM_EPOCH'],
        message:
          'required with DERIVED_FROM_SEQUENCE: the epoch of its stream, as `ghostnet stream info` prints it',
      });
    }
  });
export type ProjectorEnv = z.infer<typeof ProjectorEnv>;

export function projectorEnv(env: Record<string, string | undefined> = process.env): ProjectorEnv {
  return parseEnv('projector', ProjectorEnv, env);
}
