import { writeFileSync } from 'node:fs';
import { DeploymentFileError, readDeployment } from '@ghostnet/contracts';
import { GAME_EVENT_NAMES, runSimulation, type SimulationSummary } from '@ghostnet/sim';
import { parseSimFlags, USAGE, UsageError } from './flags.ts';

function fail(message: string, code: number): never {
  process.stderr.write(`sim: ${message}\n`);
  process.exit(code);
}

let flags: ReturnType<typeof parseSimFlags>;
try {
  flags = parseSimFlags(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) fail(`${error.message}\n\n${USAGE}`, 2);
  throw error;
}
if (flags.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

let deployment: ReturnType<typeof readDeployment>;
try {
  deployment = readDeployment(flags.deployment);
} catch (error) {
  if (error instanceof DeploymentFileError) fail(error.message, 1);
  throw error;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const controller = new AbortController();
process.on('SIGINT', () => {
  if (controller.signal.aborted) process.exit(130);
  process.stderr.write('\nstopping after this block (Ctrl-C again to quit now)\n');
  controller.abort();
});

const log = (line: string) => {
  if (!flags.json && !flags.quiet) process.stdout.write(`${line}\n`);
};
const rpcUrl = flags.rpcUrl ?? deployment.rpcUrl;
log(
  `simulating ${flags.players} players on ${rpcUrl} (chain ${deployment.chainId}, GhostCore ${deployment.addresses.GhostCore}), seed ${flags.seed}`,
);

let summary: SimulationSummary;
try {
  summary = await runSimulation({
    rpcUrl,
    deployment,
    players: flags.players,
    seed: flags.seed,
    ...(flags.duration === undefined ? {} : { durationMs: flags.duration * 1000 }),
    ...(flags.maxEvents === undefined ? {} : { maxEvents: flags.maxEvents }),
    ...(flags.maxBlocks === undefined ? {} : { maxBlocks: flags.maxBlocks }),
    ...(flags.eventsPerSecond === undefined ? {} : { eventsPerSecond: flags.eventsPerSecond }),
    secondsPerBlock: flags.secondsPerBlock,
    txsPerBlock: flags.txsPerBlock,
    boosts: flags.boosts,
    signal: controller.signal,
    onProgress: (p) =>
      log(`  blocks ${fmt(p.blocks)} · events ${fmt(p.events)} · ${fmt(p.eventsPerSecond)} events/s`),
  });
} catch (error) {
  fail((error as Error).message.split('\n')[0]!, 1);
}

const { players, ...rest } = summary;
if (flags.out) {
  writeFileSync(
    flags.out,
    `${JSON.stringify(summary, (_key, value) => (typeof value === 'bigint' ? value.toString() : value), 2)}\n`,
  );
}
if (flags.json) {
  process.stdout.write(`${JSON.stringify(rest)}\n`);
} else {
  const width = Math.max(...GAME_EVENT_NAMES.map((n) => n.length));
  const byStatus = new Map<string, number>();
  for (const p of players) byStatus.set(p.status, (byStatus.get(p.status) ?? 0) + 1);
  process.stdout.write(
    [
      `done: ${fmt(summary.events)} game events in ${fmt(summary.blocks)} blocks (${summary.fromBlock}-${summary.toBlock}), ${(summary.elapsedMs / 1000).toFixed(1)} s`,
      `achieved ${fmt(summary.eventsPerSecond)} events/s · ${fmt(summary.transactions)} transactions, ${summary.failed} failed · ${summary.scans} scans · ${summary.resets} system resets`,
      ...GAME_EVENT_NAMES.map((n) => `  ${n.padEnd(width)}  ${fmt(summary.countsByType[n]).padStart(9)}`),
      `wallets: ${summary.wallets} (${[...byStatus].map(([s, n]) => `${n} ${s}`).join(', ')})`,
      ...(flags.out ? [`summary with every player's state: ${flags.out}`] : []),
    ].join('\n') + '\n',
  );
}
if (summary.failed > 0 || summary.mismatches > 0) {
  fail(`${summary.failed} transactions failed, ${summary.mismatches} blocks differed from the plan`, 1);
}
