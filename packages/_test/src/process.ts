import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';

export interface Started {
  pid: number;
  child: ChildProcess;
  /** Everything it printed, for a failing test's message. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL now: the crash the tests inject. */
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

/** Starts a process we own and stop by its PID. */
export function startProcess(command: string, args: string[], options: SpawnOptions = {}): Started {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  const pid = child.pid;
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-64_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    pid,
    child,
    exited,
    output: () => output,
    async stop(graceMs = 5_000) {
      if (!alive()) return;
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => alive() && process.kill(pid, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (alive()) process.kill(pid, 'SIGKILL');
      await exited;
    },
  };
}
