import { spawnSync } from 'node:child_process';
import { cpSync, type Dirent, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnv } from '@ghostnet/config';
import { STREAM_CONFIG_FILE } from '@ghostnet/stream';
import { freePort, startProcess, waitFor } from '@ghostnet/test';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseDevnetFlags } from '../../apps/devnet/src/flags.ts';
import { loadConfig } from '../../apps/ingester/src/env.ts';
import { contractAddresses } from '../../packages/api/src/config.ts';
import { OPENAPI_FILE } from '../../packages/api/src/openapi.ts';
import {
  APPS,
  envSchema,
  PENDING_ENV,
  REPO_ROOT,
  requiredKeys,
  SAMPLE_VALUES,
  schemaKeys,
} from '../appEnv.ts';
import { render } from '../k8s/render.ts';

const DIR = fileURLToPath(new URL('.', import.meta.url));
const dockerfile = readFileSync(join(DIR, 'Dockerfile'), 'utf8');
const ignore = readFileSync(join(DIR, 'Dockerfile.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
/** Whether .dockerignore keeps this repository path out of the build context (the patterns it uses). */
const ignored = (path: string) =>
  ignore.some((pattern) =>
    pattern.startsWith('**/')
      ? path.split('/').includes(pattern.slice(3))
      : path === pattern || path.startsWith(`${pattern}/`),
  );
// biome-ignore lint/suspicious/noExplicitAny: compose YAML, checked field by field
const compose = parse(readFileSync(join(DIR, 'compose.yaml'), 'utf8'), { merge: true }) as any;
const k8sBase = render('base');

interface Instruction {
  op: string;
  args: string;
  stage: string;
}

/** Dockerfile instructions with continuation lines joined, each tagged with its stage. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = '';
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  for (const line of lines) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const [op, ...rest] = trimmed.split(/\s+/);
    const args = rest.join(' ');
    if (op!.toUpperCase() === 'FROM') stage = args.split(/\s+AS\s+/i)[1] ?? '';
    out.push({ op: op!.toUpperCase(), args, stage });
  }
  return out;
}
const steps = instructions(dockerfile);
const stages = steps.filter((s) => s.op === 'FROM');
const stageNames = stages.map((s) => s.stage);
const copies = steps.filter((s) => s.op === 'COPY' && !s.args.startsWith('--from'));
const copySources = copies.flatMap((c) => c.args.split(/\s+/).slice(0, -1));
const cmdOf = (stage: string) =>
  JSON.parse(steps.filter((s) => s.op === 'CMD' && s.stage === stage).at(-1)!.args) as string[];
const exposed = (stage: string) =>
  steps.filter((s) => s.op === 'EXPOSE' && s.stage === stage).flatMap((s) => s.args.split(/\s+/).map(Number));
const covered = (path: string) =>
  copySources.some(
    (src) => path === src.replace(/\/$/, '') || path.startsWith(src.endsWith('/') ? src : `${src}/`),
  );

describe('infra/docker/Dockerfile (static)', () => {
  it('builds every app from node:20-bookworm-slim with npm ci, one target each', () => {
    expect(stages.map((s) => s.args).slice(0, 2)).toEqual([
      'node:20-bookworm-slim AS manifests',
      'node:20-bookworm-slim AS base',
    ]);
    expect(stageNames).toEqual(expect.arrayContaining(['base', ...APPS, 'tools']));
    for (const stage of stages.slice(2)) expect(stage.args.split(/\s+/)[0]).toBe('base');
    const npmCi = steps.findIndex((s) => s.op === 'RUN' && /\bnpm ci\b/.test(s.args));
    expect(npmCi).toBeGreaterThan(0);
    expect(steps[npmCi]!.stage).toBe('base');
    // tsx runs the apps: the install must keep the root devDependencies (no --omit=dev, NODE_ENV set after).
    expect(steps[npmCi]!.args).not.toMatch(/--omit|--production/);
    const nodeEnv = steps.findIndex((s) => s.op === 'ENV' && /NODE_ENV=production/.test(s.args));
    expect(nodeEnv).toBeGreaterThan(npmCi);
    const root = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    expect({ ...root.dependencies, ...root.devDependencies }).toHaveProperty('tsx');
    // Before npm ci the base stage gets the lockfile and the manifests only, so that a source change reuses
    // the dependency layer; the sources come after it.
    const inBase = steps.filter((s) => s.stage === 'base' && s.op === 'COPY');
    const before = inBase.filter((c) => steps.indexOf(c) < npmCi).map((c) => c.args);
    expect(before).toEqual(['package.json package-lock.json ./', '--from=manifests /app/ ./']);
    const after = inBase
      .filter((c) => steps.indexOf(c) > npmCi)
      .flatMap((c) => c.args.split(/\s+/).slice(0, -1));
    expect(after).toEqual(expect.arrayContaining(['packages/', 'apps/']));
    expect(steps.some((s) => s.op === 'USER' && s.args === 'node')).toBe(true);
  });

  it('the manifests stage keeps every workspace package.json and the bins they name, and nothing else', () => {
    const stage = steps.filter((s) => s.stage === 'manifests');
    const copied = stage.filter((s) => s.op === 'COPY').map((c) => c.args);
    expect(copied).toEqual(['packages/ ./packages/', 'apps/ ./apps/']);
    const run = stage.filter((s) => s.op === 'RUN');
    expect(run).toHaveLength(1);
    // The same RUN over a copy of the context's packages/ and apps/ (what .dockerignore lets through).
    const dir = mkdtempSync(join(tmpdir(), 'ghostnet-manifests-'));
    try {
      for (const top of ['packages', 'apps']) {
        cpSync(join(REPO_ROOT, top), join(dir, top), {
          recursive: true,
          filter: (src) => !ignored(relative(REPO_ROOT, src)),
        });
      }
      const result = spawnSync('sh', ['-c', run[0]!.args], { cwd: dir, encoding: 'utf8' });
      expect(result.status, result.stderr).toBe(0);
      const kept = (readdirSync(dir, { recursive: true, withFileTypes: true }) as Dirent[])
        .filter((e) => e.isFile())
        .map((e) => relative(dir, join(e.parentPath, e.name)))
        .sort();
      const root = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
        workspaces: string[];
      };
      const workspaces = root.workspaces.flatMap((glob) => {
        const parent = glob.replace(/\/\*$/, '');
        return readdirSync(join(REPO_ROOT, parent))
          .map((name) => `${parent}/${name}`)
          .filter((ws) => existsSync(join(REPO_ROOT, ws, 'package.json')));
      });
      const expected = workspaces.flatMap((ws) => {
        const manifest = JSON.parse(readFileSync(join(REPO_ROOT, ws, 'package.json'), 'utf8')) as {
          bin?: string | Record<string, string>;
        };
        const bins = typeof manifest.bin === 'string' ? [manifest.bin] : Object.values(manifest.bin ?? {});
        return [`${ws}/package.json`, ...bins.map((b) => join(ws, b))];
      });
      expect(kept).toEqual(expected.sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('copies only paths that exist, and everything the apps read at run time', () => {
    for (const src of copySources) expect(existsSync(join(REPO_ROOT, src)), `COPY ${src}`).toBe(true);
    const runtimeFiles = [
      relative(REPO_ROOT, STREAM_CONFIG_FILE),
      relative(REPO_ROOT, OPENAPI_FILE),
      'packages/db/migrations',
      'infra/nats/applyStream.ts',
      'apps/devnet/src/cli.ts',
    ];
    for (const file of runtimeFiles) {
      expect(existsSync(join(REPO_ROOT, file)), file).toBe(true);
      expect(covered(file), `${file} is not copied into the image`).toBe(true);
    }
    // The ignore file keeps dependencies and history out, and none of what is copied.
    expect(ignore).toEqual(expect.arrayContaining(['**/node_modules', '.git']));
    for (const src of copySources) {
      for (const pattern of ignore)
        expect(src.startsWith(pattern.replace(/\/$/, '')), `${src} ignored by ${pattern}`).toBe(false);
    }
  });

  it.each([...APPS, 'tools'])('%s: the command runs a file that exists, with tsx', (stage) => {
    const cmd = cmdOf(stage);
    expect(cmd.slice(0, 3)).toEqual(['node', '--import', 'tsx']);
    expect(existsSync(join(REPO_ROOT, cmd[3]!)), cmd[3]).toBe(true);
    if (stage !== 'tools') expect(cmd[3]).toBe(`apps/${stage}/src/main.ts`);
  });

  it.each(APPS)('%s: exposes the ports its Kubernetes container declares', (app) => {
    const deployment = k8sBase.find((o) => o.kind === 'Deployment' && o.metadata.name === app)!;
    const container = deployment.spec.template.spec.containers[0];
    const ports = (container.ports ?? []).map((p: { containerPort: number }) => p.containerPort).sort();
    expect(exposed(app).sort()).toEqual(ports);
    // uid 1000 is the node image's `node` user: the pods run as it.
    expect(deployment.spec.template.spec.securityContext.runAsUser).toBe(1000);
  });
});

/** `${VAR:-default}` → default, `${VAR}` → a sample value: what compose passes when the shell sets nothing. */
function interpolate(value: string): string | undefined {
  const m = /^\$\{([A-Z0-9_]+)(?::-(.*))?\}$/.exec(value);
  if (!m) return value;
  return m[2] ?? SAMPLE_VALUES[m[1]!];
}

const services = compose.services as Record<
  string,
  Record<string, unknown> & { environment?: Record<string, string> }
>;

describe('infra/docker/compose.yaml (static)', () => {
  it("is the spec's development stack with NATS JetStream in place of Redis", () => {
    expect(Object.keys(services).sort()).toEqual([
      'api',
      'devnet',
      'gateway',
      'ingester',
      'nats',
      'postgres',
      'projector',
    ]);
    expect(JSON.stringify(compose)).not.toMatch(/redis/i);
    expect(services.postgres!.image).toBe('postgres:15');
    expect(services.nats!.command).toContain('-js');
    const natsImage = k8sBase.find((o) => o.kind === 'StatefulSet')!.spec.template.spec.containers[0].image;
    expect(services.nats!.image, 'the same NATS as the cluster').toBe(natsImage);
    for (const [name, service] of Object.entries(services)) {
      const deps = service.depends_on ?? [];
      for (const dep of Array.isArray(deps) ? deps : Object.keys(deps as object))
        expect(Object.keys(services), `${name} depends on ${dep}`).toContain(dep);
      const build = service.build as { context: string; dockerfile: string; target: string } | undefined;
      if (!build) continue;
      expect(join(DIR, build.context, build.dockerfile)).toBe(join(DIR, 'Dockerfile'));
      expect(stageNames).toContain(build.target);
      const command = (service.command as string[] | undefined) ?? cmdOf(build.target);
      const file = command.find((part) => /\.(ts|js)$|\/bin\//.test(part));
      if (file) expect(existsSync(join(REPO_ROOT, file)), `${name}: ${file}`).toBe(true);
    }
  });

  it.each(APPS)("%s: env names are the app's, required ones set, and the app parses them", async (app) => {
    const schema = (await envSchema(app))!;
    const service = services[app]!;
    expect((service.build as { target: string }).target).toBe(app);
    const env = Object.fromEntries(
      Object.entries(service.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]),
    );
    const keys = schemaKeys(schema);
    expect(Object.keys(env).filter((k) => !keys.has(k) && !PENDING_ENV[app].includes(k))).toEqual([]);
    expect(requiredKeys(schema).filter((k) => !(k in env))).toEqual([]);
    const parsed = parseEnv(app, schema, env) as Record<string, unknown>;
    // Wired to the stack's own services.
    expect(env.NATS_URL).toBe('nats://nats:4222');
    if (env.DATABASE_URL) {
      const url = new URL(env.DATABASE_URL);
      expect(url.hostname).toBe('postgres');
      expect(url.pathname).toBe(`/${(services.postgres!.environment as Record<string, string>).POSTGRES_DB}`);
      expect(url.password).toBe((services.postgres!.environment as Record<string, string>).POSTGRES_PASSWORD);
    }
    if (env.RPC_URL) expect(new URL(env.RPC_URL).hostname).toBe('devnet');
    // Published ports are the ones the app listens on.
    if (parsed.PORT !== undefined) expect(service.ports).toContain(`${parsed.PORT}:${parsed.PORT}`);
    expect(String(parsed.CHAIN_ID ?? '31337')).toBe('31337');
  });
});

describe('the compose devnet service (npm run devnet) feeding the compose ingester', () => {
  it('takes the flags the service passes, writes the deployment file, and the ingester starts from it', async () => {
    const devnet = services.devnet!;
    const command = devnet.command as string[];
    expect(command.slice(0, 4)).toEqual(['node', '--import', 'tsx', 'apps/devnet/src/cli.ts']);
    const flags = parseDevnetFlags(command.slice(4), {});
    expect(flags).toMatchObject({ host: '0.0.0.0', port: 8545, out: '/devnet/deployment.json' });
    expect(devnet.ports).toContain(`${flags.port}:${flags.port}`);
    const ingester = services.ingester!;
    expect(ingester.environment?.DEPLOYMENT_FILE).toBe(flags.out);
    // The API reads the same file for the mini-game's contracts.
    expect(services.api!.environment?.DEPLOYMENT_FILE).toBe(flags.out);
    expect(services.api!.volumes).toContain('devnet:/devnet:ro');
    expect(new URL(ingester.environment!.RPC_URL!).port).toBe(String(flags.port));

    // The same command on this machine (loopback, a free port, a temp file), then the ingester's loader.
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'ghostnet-compose-devnet-'));
    const file = join(dir, 'deployment.json');
    const args = [...command.slice(1, 4), '--host', '127.0.0.1', '--port', String(port), '--out', file];
    const started = startProcess('node', args, { cwd: REPO_ROOT });
    try {
      await waitFor(
        'the deployment file',
        async () => existsSync(file) && readFileSync(file, 'utf8').length > 0,
        {
          timeoutMs: 40_000,
          intervalMs: 200,
        },
      );
      const rpc = `http://127.0.0.1:${port}`;
      const config = loadConfig({ DEPLOYMENT_FILE: file, RPC_URL: rpc, NATS_URL: 'nats://nats:4222' });
      expect(config.chainId).toBe(31337);
      expect(config.rpcUrl).toBe(rpc);
      expect(config.addresses.GhostCore).toMatch(/^0x[0-9a-f]{40}$/);
      expect(config.startBlock).toBeGreaterThan(0);
      expect(contractAddresses({ DEPLOYMENT_FILE: file })).toEqual({
        GhostCore: config.addresses.GhostCore.toLowerCase(),
        TraceScan: config.addresses.TraceScan.toLowerCase(),
      });
    } finally {
      await started.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
