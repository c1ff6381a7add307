import { runChaos } from './chaos.ts';
import { Cleanup } from './cleanup.ts';
import { parseChaosFlags, USAGE, UsageError } from './flags.ts';
import { formatReport } from './report.ts';

let flags: ReturnType<typeof parseChaosFlags>;
try {
  flags = parseChaosFlags(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  process.stderr.write(`chaos: ${error.message}\n\n${USAGE}\n`);
  process.exit(2);
}
if (flags.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const started = Date.now();
const log = (line: string) =>
  process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
const controller = new AbortController();
const cleanup = new Cleanup();
const onSignal = () => {
  if (controller.signal.aborted) {
    // Second Ctrl-C: no more waiting for graceful stops.
    cleanup.killNow();
    process.exit(130);
  }
  process.stderr.write('\nstopping: cleaning up everything the run started (Ctrl-C again to kill at once)\n');
  controller.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

log(
  `chaos: ${flags.minutes} min, seed ${flags.seed}, ${flags.clients} clients, ${flags.eventsPerSecond} events/s (repeat with --seed ${flags.seed})`,
);
const report = await runChaos({
  chaosMs: flags.minutes * 60_000,
  seed: flags.seed,
  clients: flags.clients,
  eventsPerSecond: flags.eventsPerSecond,
  log,
  signal: controller.signal,
  cleanup,
});
process.stdout.write(`\n${formatReport(report)}\n`);
process.exit(controller.signal.aborted ? 130 : report.ok ? 0 : 1);
