import { rmSync } from 'node:fs';
import { relative } from 'node:path';
import { formatUnits } from 'viem';
import { DevnetError, startDevnet, TEST_WALLET_DATA } from './devnet.ts';
import { parseDevnetFlags, USAGE, UsageError } from './flags.ts';

/** Paths under the working directory print relative, others absolute. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') ? path : rel;
}

function fail(message: string, code: number): never {
  process.stderr.write(`devnet: ${message}\n`);
  process.exit(code);
}

let flags: ReturnType<typeof parseDevnetFlags>;
try {
  flags = parseDevnetFlags(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) fail(`${error.message}\n\n${USAGE}`, 2);
  throw error;
}
if (flags.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

let devnet: Awaited<ReturnType<typeof startDevnet>>;
try {
  devnet = await startDevnet(flags);
} catch (error) {
  if (error instanceof DevnetError) fail(error.message, 1);
  fail(`deployment failed: ${(error as Error).message.split('\n')[0]}`, 1);
}

const { deployment } = devnet;
const rows: [string, string][] = [
  ['chain id', String(deployment.chainId)],
  ['RPC (http)', deployment.rpcUrl],
  ['RPC (ws)', deployment.wsUrl],
  ['GhostCore', deployment.addresses.GhostCore],
  ['TraceScan', deployment.addresses.TraceScan],
  ['DataToken', deployment.addresses.DataToken],
  ['deploy block', String(deployment.deployBlock)],
  [
    'boost signer',
    `${deployment.boostSigner} (anvil dev account ${deployment.accounts?.boostSigner?.index})`,
  ],
  ['owner', `${deployment.accounts?.deployer.address} (anvil dev account 0)`],
];
const width = Math.max(...rows.map(([k]) => k.length));
const lines = [
  devnet.anvil
    ? `anvil started (pid ${devnet.anvil.pid}${flags.blockTime ? `, a block every ${flags.blockTime} s` : ', automine'}; log ${shown(devnet.anvil.logFile)})`
    : `attached to ${deployment.rpcUrl}`,
  'deployed DataToken, GhostCore, TraceScan; TraceScan wired to GhostCore; boost signer set',
  ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
  `funded ${deployment.accounts?.testWallets.length} test wallets (anvil dev accounts ${deployment.accounts?.testWallets.map((w) => w.index).join(', ')}) with ${formatUnits(TEST_WALLET_DATA, 18)} DATA each, GhostCore approved:`,
  ...(deployment.accounts?.testWallets ?? []).map((w) => `  #${w.index}  ${w.address}`),
  `deployment written to ${shown(devnet.file)} (DEPLOYMENT_FILE for the apps)`,
  devnet.anvil
    ? 'simulate players: npm run sim -- --players 50 --duration 30    ·    Ctrl-C stops anvil'
    : '',
];
process.stdout.write(`${lines.filter(Boolean).join('\n')}\n`);

if (!devnet.anvil) process.exit(0);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`\n${signal}: stopping anvil (pid ${devnet.anvil?.pid})\n`);
  await devnet.stop();
  // The chain is gone with anvil: a deployment file pointing at it would only mislead the apps.
  rmSync(devnet.file, { force: true });
  process.stdout.write(`stopped; removed ${shown(devnet.file)}\n`);
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
void devnet.exited.then((code) => {
  if (!stopping) fail(`anvil exited on its own (code ${code}); see ${devnet.anvil?.logFile}`, 1);
});
