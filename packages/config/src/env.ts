import type { z } from 'zod';
import { Secret } from './secret.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly app: string,
    readonly problems: string[],
  ) {
    super(`invalid configuration for ${app}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** A string env var that is then only reachable through Secret.reveal(). */
export function secret<S extends z.ZodType<string>>(schema: S) {
  return schema.transform((value) => new Secret(value));
}

/**
 * Parses the environment once, at start-up. Every problem is reported in one error, by variable name, and
 * never with the value that was found: a mistyped secret must not land in a crash log.
 */
export function parseEnv<S extends z.ZodObject>(
  app: string,
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  // Empty strings count as unset: `FOO= app` should say FOO is missing, not that "" is invalid.
  const input = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(input, { reportInput: false });
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const key = issue.path.map(String).join('.') || '(environment)';
    const missing = issue.code === 'invalid_type' && !(issue.path[0] !== undefined && issue.path[0] in input);
    return missing ? `${key}: required but not set` : `${key}: ${issue.message}`;
  });
  throw new ConfigError(app, problems);
}

/** Runs `main`, turning a ConfigError into one readable stderr message and exit code 78 (EX_CONFIG). */
export function exitOnConfigError(error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(78);
  }
  throw error;
}
