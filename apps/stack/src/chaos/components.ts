import { join } from 'node:path';
import type { PrivateNats, PrivatePostgres, Started } from '@ghostnet/test';
import { appNodeArgs, startProcess } from '@ghostnet/test';
import { ROOT } from '../launcher.ts';

export type ComponentKind = 'ingester' | 'projector' | 'gateway' | 'api' | 'nats-server' | 'postgres';
export const COMPONENT_KINDS: readonly ComponentKind[] = [
  'ingester',
  'projector',
  'gateway',
  'api',
  'nats-server',
  'postgres',
];

/** Something the chaos loop can crash and bring back. */
export interface Component {
  name: string;
  kind: ComponentKind;
  /** The crash: SIGKILL (immediate stop for PostgreSQL). */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** Graceful stop at the end of the run. */
  stop(): Promise<void>;
  /** PIDs alive now (for the last-resort synchronous cleanup). */
  pids(): number[];
}

/** An exit nobody asked for: what a supervisor (Kubernetes) would restart, and what the report lists. */
export interface Crash {
  component: string;
  atMs: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines the process printed. */
  tail: string;
}

/**
 * One app process (`node --import tsx <script>`), restartable with the same env and port. An exit it did not
 * cause is reported and the process restarted after `restartDelayMs`, as an orchestrator would.
 */
export class AppProcess implements Component {
  process: Started | null = null;
  #expectExit = false;
  #closed = false;
  #restartTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly name: string,
    readonly kind: ComponentKind,
    readonly script: string,
    readonly env: Record<string, string>,
    readonly supervise: {
      onCrash: (crash: Omit<Crash, 'atMs'>) => void;
      restartDelayMs: number;
    },
  ) {}

  async start(): Promise<void> {
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    this.#restartTimer = null;
    if (this.running()) return;
    this.#expectExit = false;
    const started = startProcess(process.execPath, appNodeArgs(join(ROOT, this.script)), {
      cwd: ROOT,
      env: { ...process.env, ...this.env },
    });
    this.process = started;
    started.child.once('exit', (code, signal) => {
      if (this.#expectExit || this.#closed || this.process !== started) return;
      this.supervise.onCrash({ component: this.name, code, signal, tail: lastLines(started.output(), 8) });
      this.#restartTimer = setTimeout(() => {
        this.#restartTimer = null;
        if (!this.#closed && !this.#expectExit) void this.start();
      }, this.supervise.restartDelayMs);
    });
  }

  running(): boolean {
    const child = this.process?.child;
    return !!child && child.exitCode === null && child.signalCode === null;
  }

  async kill(): Promise<void> {
    this.#expectExit = true;
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    this.#restartTimer = null;
    await this.process?.kill();
  }

  async stop(): Promise<void> {
    this.#closed = true;
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    this.#restartTimer = null;
    await this.process?.stop(10_000);
  }

  pids(): number[] {
    return this.running() && this.process ? [this.process.pid] : [];
  }

  output(): string {
    return this.process?.output() ?? '';
  }
}

/** The private nats-server: SIGKILL, then the same port and store directory again. */
export class NatsComponent implements Component {
  readonly name = 'nats-server';
  readonly kind = 'nats-server' as const;
  constructor(readonly server: PrivateNats) {}
  async kill(): Promise<void> {
    await this.server.process.kill();
  }
  async start(): Promise<void> {
    // restart() stops what is running (nothing, after a kill) and launches on the same port and store.
    await this.server.restart();
  }
  async stop(): Promise<void> {
    await this.server.stop();
  }
  pids(): number[] {
    const child = this.server.process.child;
    return child.exitCode === null && child.signalCode === null ? [this.server.process.pid] : [];
  }
}

/** The private PostgreSQL: `pg_ctl -m immediate` (no checkpoint, crash recovery on start). */
export class PostgresComponent implements Component {
  readonly name = 'postgres';
  readonly kind = 'postgres' as const;
  constructor(readonly server: PrivatePostgres) {}
  async kill(): Promise<void> {
    await this.server.kill();
  }
  async start(): Promise<void> {
    await this.server.start();
  }
  async stop(): Promise<void> {
    await this.server.stop();
  }
  /** pg_ctl daemonizes: there is no child PID of ours; stop() goes through pg_ctl. */
  pids(): number[] {
    return [];
  }
}

export function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}
