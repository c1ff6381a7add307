import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The processes the tests start over and over (SIGKILL loops, failover, chaos). */
export const APP_ENTRIES = [
  'apps/ingester/src/main.ts',
  'apps/projector/src/main.ts',
  'apps/gateway/src/main.ts',
  'apps/api/src/main.ts',
] as const;

/** Set by the test run's global setup: the directory holding this run's bundles. */
export const APP_BUNDLES_ENV = 'GHOSTNET_TEST_APP_BUNDLES';

const bundleName = (entry: string) =>
  `${relative(ROOT, entry).replaceAll('/', '__').replace(/\.ts$/, '')}.mjs`;

/**
 * Bundles each app's own code (the workspace packages, TypeScript) into one ESM file, for the tests that start
 * an app dozens of times. Under `--import tsx` a start spends about 1.5 s of CPU resolving and loading a few
 * hundred modules through tsx's loader thread; the bundle starts in about half of that. The transform is the
 * one tsx applies (esbuild), so the code under test is the same:
 * - npm packages stay external and load from the repository's node_modules (the directory is inside it), as
 *   they do under tsx; native addons (uWebSockets.js) and CommonJS keep their own loading;
 * - `import.meta.url` in our sources is pinned to the source file, so paths built from it (migrations, the
 *   stream config, the OpenAPI file) resolve as they do under tsx.
 */
export async function buildAppBundles(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  // Loaded here, not at import: the dev launchers import this module for appNodeArgs alone.
  const { build } = await import('esbuild');
  await Promise.all(
    APP_ENTRIES.map((entry) =>
      build({
        entryPoints: [join(ROOT, entry)],
        outfile: join(dir, bundleName(join(ROOT, entry))),
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        logLevel: 'warning',
        plugins: [
          {
            name: 'ghostnet-sources',
            setup(b) {
              b.onResolve({ filter: /^[^./]/ }, (args) =>
                args.path.startsWith('@ghostnet/') ? undefined : { path: args.path, external: true },
              );
              b.onLoad({ filter: /\.ts$/ }, async (args) => ({
                loader: 'ts',
                contents: (await readFile(args.path, 'utf8')).replaceAll(
                  'import.meta.url',
                  JSON.stringify(pathToFileURL(args.path).href),
                ),
              }));
            },
          },
        ],
      }),
    ),
  );
}

const BUNDLES_ROOT = join(ROOT, 'node_modules', '.cache', 'ghostnet-app-bundles');

/**
 * A directory for one run's bundles, inside node_modules so that the bundles resolve npm packages. Those of
 * runs whose process is gone (killed before their teardown) are removed.
 */
export function appBundlesDir(): string {
  for (const entry of existsSync(BUNDLES_ROOT) ? readdirSync(BUNDLES_ROOT) : []) {
    const pid = Number(/^run-(\d+)$/.exec(entry)?.[1]);
    if (pid && pid !== process.pid && !alive(pid))
      rmSync(join(BUNDLES_ROOT, entry), { recursive: true, force: true });
  }
  return join(BUNDLES_ROOT, `run-${process.pid}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function removeAppBundles(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Node arguments that run an app's entry (a path, absolute or from the repository root): this run's bundle when
 * the global setup built one, else the TypeScript source through tsx (benches, scripts run outside vitest).
 */
export function appNodeArgs(entry: string): string[] {
  const absolute = entry.startsWith('/') ? entry : join(ROOT, entry);
  const dir = process.env[APP_BUNDLES_ENV];
  if (dir) {
    const bundle = join(dir, bundleName(absolute));
    if (existsSync(bundle)) return [bundle];
  }
  return ['--import', 'tsx', absolute];
}
