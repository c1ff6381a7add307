import { type DatabasePool, sql } from '@ghostnet/db';
import type { JetStreamManager } from '@nats-io/jetstream';
import { z } from 'zod';
import { ALL_PROJECTIONS } from '../projections/index.ts';
import { clearFailure, type Generation, listGenerations, requestRebuild } from '../runtime/generations.ts';
import { leaseLockRow } from '../runtime/lease.ts';
import type { Projection } from '../runtime/types.ts';

export interface CommandContext {
  pool: DatabasePool;
  jsm: JetStreamManager;
  streamName: string;
  projections?: readonly Projection[];
  out: (line: string) => void;
}

export interface GenerationReport extends Generation {
  /** Messages in the stream after the checkpoint. */
  lag: number;
  streamLastSequence: number;
  updatedAt: number | null;
  /** application_name of the process holding the lease, if any. */
  holder: string | null;
}

const Extra = z.object({
  projection: z.string(),
  version: z.number(),
  updated_at: z.number().nullable(),
  holder: z.string().nullable(),
});

/** Every generation with its position, lag behind the stream and lease holder. */
export async function projectionStatus(
  ctx: Pick<CommandContext, 'pool' | 'jsm' | 'streamName'>,
): Promise<GenerationReport[]> {
  const info = await ctx.jsm.streams.info(ctx.streamName);
  const last = info.state.last_seq;
  const generations = await listGenerations(ctx.pool);
  const extra = await ctx.pool.any(sql.type(Extra)`
    SELECT v.projection, v.version, c.updated_at,
      (SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE ${leaseLockRow(sql.fragment`v.projection || ':' || v.version`)}
       LIMIT 1) AS holder
    FROM projection_versions v
    LEFT JOIN projection_checkpoints c ON c.projection = v.projection AND c.version = v.version`);
  const byKey = new Map(extra.map((e) => [`${e.projection}:${e.version}`, e]));
  return generations.map((g) => {
    const e = byKey.get(`${g.projection}:${g.version}`);
    return {
      ...g,
      streamLastSequence: last,
      lag: Math.max(0, last - g.lastSequence),
      updatedAt: e?.updated_at ?? null,
      holder: e?.holder ?? null,
    };
  });
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}

const USAGE = `usage: projections list | status [--json] | rebuild NAME [--wait] | resume NAME`;

/**
 * `ghostnet projections …`. Returns the exit code. `rebuild` only asks for a new generation: the running
 * projectors build it beside the live one and switch readers when it has caught up (`--wait` follows it).
 */
export async function runProjectionsCommand(args: readonly string[], ctx: CommandContext): Promise<number> {
  const projections = ctx.projections ?? ALL_PROJECTIONS;
  const [command, name, ...flags] = args;
  const find = () => {
    const projection = projections.find((p) => p.name === name);
    if (!projection) {
      ctx.out(
        `unknown projection ${JSON.stringify(name)}; known: ${projections.map((p) => p.name).join(', ')}`,
      );
    }
    return projection;
  };
  switch (command) {
    case 'list': {
      const generations = await listGenerations(ctx.pool);
      const rows = [['PROJECTION', 'CODE', 'GENERATIONS']];
      for (const p of projections) {
        const mine = generations.filter((g) => g.projection === p.name);
        rows.push([
          p.name,
          `v${p.codeVersion}`,
          mine.map((g) => `v${g.version} ${g.status}`).join(', ') || '(none yet)',
        ]);
      }
      for (const line of table(rows)) ctx.out(line);
      return 0;
    }
    case 'status': {
      const status = await projectionStatus(ctx);
      if (args.includes('--json')) {
        ctx.out(JSON.stringify(status, null, 2));
        return 0;
      }
      const rows = [['PROJECTION', 'GEN', 'STATUS', 'SEQUENCE', 'LAG', 'UPDATED', 'HOLDER', 'ERROR']];
      for (const s of status) {
        rows.push([
          s.projection,
          `v${s.version}`,
          s.status,
          String(s.lastSequence),
          String(s.lag),
          s.updatedAt ? `${Math.round((Date.now() - s.updatedAt) / 1000)}s ago` : '-',
          s.holder ?? '-',
          s.failedSequence !== null ? `stopped at ${s.failedSequence}: ${s.failedError}` : '',
        ]);
      }
      for (const line of table(rows)) ctx.out(line);
      return status.some((s) => s.failedSequence !== null && s.status !== 'retired') ? 2 : 0;
    }
    case 'rebuild': {
      const projection = find();
      if (!projection) return 64;
      const info = await ctx.jsm.streams.info(ctx.streamName);
      const generation = await requestRebuild(ctx.pool, projection, info.created);
      ctx.out(
        `${projection.name} v${generation.version} is ${generation.status}; the projectors build it from sequence 1`,
      );
      if (!flags.includes('--wait')) return 0;
      for (;;) {
        await new Promise((r) => setTimeout(r, 1_000));
        const now = (await projectionStatus(ctx)).find(
          (g) => g.projection === projection.name && g.version === generation.version,
        );
        if (!now) {
          ctx.out('the generation disappeared');
          return 1;
        }
        if (now.failedSequence !== null) {
          ctx.out(`stopped at ${now.failedSequence}: ${now.failedError}`);
          return 2;
        }
        ctx.out(`${projection.name} v${now.version} ${now.status} at ${now.lastSequence}, lag ${now.lag}`);
        if (now.status === 'active') return 0;
      }
    }
    case 'resume': {
      const projection = find();
      if (!projection) return 64;
      const n = await clearFailure(ctx.pool, projection.name);
      ctx.out(
        n
          ? `${projection.name}: failure cleared; the projectors retry from its checkpoint`
          : `${projection.name} was not stopped`,
      );
      return 0;
    }
    default:
      ctx.out(USAGE);
      return 64;
  }
}
