import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { ConfigError } from './env.ts';

/**
 * Reads the JSON file an env variable names (e.g. DEPLOYMENT_FILE) and parses it with `schema`. Whatever is
 * wrong (missing, unreadable, not JSON, a field of the wrong shape) is a ConfigError naming the variable, the
 * file and each problem, so that the app exits 78 with one message instead of a stack trace. The file's
 * contents are never quoted: a variable pointing at the wrong file could point at one holding secrets.
 */
export function readJsonConfigFile<S extends z.ZodType>(
  app: string,
  variable: string,
  path: string,
  schema: S,
): z.infer<S> {
  const where = `${variable} (${path})`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(app, [`${where}: cannot be read: ${describeFsError(error)}`]);
  }
  if (text.trim() === '') throw new ConfigError(app, [`${where}: is empty, expected JSON`]);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    // V8's message may quote the text; only the position is kept.
    const at = /at position (\d+)/.exec(String((error as Error).message))?.[1];
    throw new ConfigError(app, [`${where}: is not valid JSON${at ? ` (at character ${at})` : ''}`]);
  }
  const result = schema.safeParse(raw, { reportInput: false });
  if (result.success) return result.data;
  throw new ConfigError(
    app,
    result.error.issues.map(
      (issue) => `${where}: ${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`,
    ),
  );
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return code ?? String((error as Error).message);
}
