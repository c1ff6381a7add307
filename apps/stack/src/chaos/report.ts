import type { ClientCheck, Difference, TableCheck } from './checks.ts';
import { describe, isSame } from './checks.ts';
import { COMPONENT_KINDS, type ComponentKind, type Crash } from './components.ts';

export interface KillRecord {
  component: string;
  kind: ComponentKind;
  /** When it was killed, ms after the system came up. */
  atMs: number;
  /** Kill to restart (the random delay, plus the restart command itself for the servers). */
  downMs: number;
  /** Restart to healthy (see ChaosSystem.healthProbe); null when it did not recover within the limit. */
  recoveryMs: number | null;
  /** Restart to healthy of each part (for nats-server and PostgreSQL: every app), null = not within the limit. */
  parts: Record<string, number | null>;
  /** SDK client disconnects between the kill and the recovery. */
  clientDrops: number;
  /** Kill until every SDK client was live again (0: none dropped); null when some were not within the limit. */
  clientsLiveMs: number | null;
}

export interface ChaosReport {
  seed: string;
  chaosMs: number;
  clients: number;
  eventsPerSecond: number;
  kills: KillRecord[];
  /** Exits nobody caused (restarted by the supervisor like an orchestrator would). */
  crashes: Crash[];
  simulation: {
    events: number;
    blocks: number;
    failed: number;
    mismatches: number;
    error: string | null;
  };
  stream: {
    head: number;
    messages: number;
    chainEvents: number;
    reorgNotices: number;
    epochUnchanged: boolean;
    vsChain: Difference | null;
  };
  tables: TableCheck | null;
  clientCheck: ClientCheck | null;
  /** Every failed check in one line each; empty = the run passed. */
  failures: string[];
  ok: boolean;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

export function formatReport(r: ChaosReport): string {
  const lines: string[] = [];
  lines.push(
    `chaos report (seed ${r.seed}, ${secs(r.chaosMs)} of chaos, ${r.clients} SDK clients, ~${r.eventsPerSecond} events/s)`,
  );
  lines.push('');
  lines.push(
    `  ${'component'.padEnd(12)} ${'kills'.padStart(5)} ${'recovered'.padStart(9)}   recovery min / p50 / max     down p50   client drops, all live again p50 / max`,
  );
  for (const kind of COMPONENT_KINDS) {
    const kills = r.kills.filter((k) => k.kind === kind);
    const rec = kills
      .map((k) => k.recoveryMs)
      .filter((v): v is number => v !== null)
      .sort((a, b) => a - b);
    const down = kills.map((k) => k.downMs).sort((a, b) => a - b);
    const drops = kills.reduce((n, k) => n + k.clientDrops, 0);
    const live = kills
      .map((k) => k.clientsLiveMs)
      .filter((v) => v !== 0)
      .filter((v): v is number => v !== null)
      .sort((a, b) => a - b);
    const recovery = rec.length
      ? `${secs(rec[0]!)} / ${secs(percentile(rec, 0.5))} / ${secs(rec.at(-1)!)}`
      : '-';
    lines.push(
      `  ${kind.padEnd(12)} ${String(kills.length).padStart(5)} ${String(rec.length).padStart(9)}   ${recovery.padEnd(26)}   ${(down.length ? secs(percentile(down, 0.5)) : '-').padStart(8)}   ${drops}${live.length ? `, ${secs(percentile(live, 0.5))} / ${secs(live.at(-1)!)}` : ''}`,
    );
  }
  lines.push(`  total kills ${r.kills.length}`);
  lines.push('');
  lines.push('  kills in order:');
  for (const k of r.kills)
    lines.push(
      `    ${secs(k.atMs).padStart(7)}  ${k.component.padEnd(11)} down ${secs(k.downMs).padStart(5)}  recovered ${k.recoveryMs === null ? 'NOT within the limit' : `in ${secs(k.recoveryMs)}`}${
        Object.keys(k.parts).length > 1
          ? ` (${Object.entries(k.parts)
              .map(([part, ms]) => `${part} ${ms === null ? 'never' : secs(ms)}`)
              .join(', ')})`
          : ''
      }${k.clientsLiveMs === 0 ? '' : `; ${k.clientDrops} client drops, all live again ${k.clientsLiveMs === null ? 'NOT within the limit' : `${secs(k.clientsLiveMs)} after the kill`}`}`,
    );
  lines.push('');
  lines.push(`  unplanned exits (restarted by the supervisor): ${r.crashes.length}`);
  for (const c of r.crashes)
    lines.push(
      `    ${secs(c.atMs).padStart(7)}  ${c.component} exited (${c.signal ?? c.code}): ${c.tail.split('\n').at(-1)?.slice(0, 160) ?? ''}`,
    );
  lines.push('');
  const s = r.simulation;
  lines.push(
    `  simulator: ${s.events} game events in ${s.blocks} blocks, ${s.failed} failed txs, ${s.mismatches} belief mismatches${s.error ? `, ERROR ${s.error}` : ''}`,
  );
  if (r.stream.vsChain === null) lines.push('  stream: not read (the run stopped before the checks)');
  else
    lines.push(
      `  stream: ${r.stream.messages} messages (head ${r.stream.head}), ${r.stream.chainEvents} chain events, ${r.stream.reorgNotices} reorg notices, epoch ${r.stream.epochUnchanged ? 'unchanged' : 'CHANGED'}`,
    );
  lines.push('');
  lines.push('  checks:');
  const v = r.stream.vsChain;
  lines.push(
    `    stream = chain      ${v ? (isSame(v) ? `ok (${v.expected} chain logs, each once, in order)` : `FAIL: ${describe(v)}`) : 'not run'}`,
  );
  const t = r.tables;
  lines.push(
    `    tables = replay     ${t ? (t.equal ? `ok (${t.tables} tables, ${t.rows} rows identical to a fresh projection)` : `FAIL: ${t.differences.join('; ')}`) : 'not run'}`,
  );
  const c = r.clientCheck;
  if (c) {
    const bad =
      c.lost + c.doubled + c.extra + c.outOfOrder + c.wrongCounts + c.wrongEpoch + c.failures.length;
    lines.push(
      `    clients exactly-once ${bad === 0 ? 'ok' : 'FAIL'} (${c.clients} clients, ${c.delivered} feed events delivered; lost ${c.lost}, doubled ${c.doubled}, unexpected ${c.extra}, out of order ${c.outOfOrder}, wrong counts ${c.wrongCounts}, wrong epoch ${c.wrongEpoch})`,
    );
    lines.push(
      `      ${c.disconnects} disconnects (close codes ${
        Object.entries(c.closeCodes)
          .map(([code, n]) => `${code}×${n}`)
          .join(', ') || 'none'
      }), ${c.fullSyncs} FULL_SYNCs of which ${c.resyncs} after a gap beyond the replay limit`,
    );
    for (const f of c.failures.slice(0, 10)) lines.push(`      ${f}`);
  } else lines.push('    clients exactly-once not run');
  lines.push('');
  lines.push(r.ok ? 'RESULT: PASS' : `RESULT: FAIL\n${r.failures.map((f) => `  - ${f}`).join('\n')}`);
  return lines.join('\n');
}
