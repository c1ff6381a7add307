import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { StreamConfig } from '@nats-io/jetstream';
import { z } from 'zod';

/** infra/nats/stream.json is the one definition; `nats stream add --config` takes the same file. */
export const STREAM_CONFIG_FILE = fileURLToPath(new URL('../../../infra/nats/stream.json', import.meta.url));

const StreamConfigFile = z
  .object({
    name: z.string(),
    subjects: z.array(z.string()).min(1),
    retention: z.enum(['limits', 'interest', 'workqueue']),
    storage: z.enum(['file', 'memory']),
    max_age: z.number(),
    duplicate_window: z.number().int().positive(),
    deny_delete: z.boolean(),
    deny_purge: z.boolean(),
    allow_direct: z.boolean(),
    num_replicas: z.number().int().min(1).max(5),
  })
  .loose();

export interface StreamTarget {
  name: string;
  /** `<prefix>.<chainId>`: the stream takes `<root>.>`. */
  subjectRoot: string;
  replicas?: number;
}

/** The checked-in config, with this deployment's name, subjects and replica count. */
export function streamConfigFor(target: StreamTarget, file = STREAM_CONFIG_FILE): StreamConfig {
  const base = StreamConfigFile.parse(JSON.parse(readFileSync(file, 'utf8')));
  return {
    ...base,
    name: target.name,
    subjects: [`${target.subjectRoot}.>`],
    num_replicas: target.replicas ?? base.num_replicas,
  } as unknown as StreamConfig;
}

/** Fields whose difference changes what the stream guarantees; anything else is the server's to default. */
export const GUARDED_FIELDS = [
  'subjects',
  'retention',
  'storage',
  'max_age',
  'max_msgs',
  'max_bytes',
  'discard',
  'duplicate_window',
  'deny_delete',
  'deny_purge',
  'allow_direct',
  'num_replicas',
] as const;

export interface Drift {
  field: string;
  expected: unknown;
  actual: unknown;
}

export function configDrift(expected: StreamConfig, actual: StreamConfig): Drift[] {
  const drift: Drift[] = [];
  for (const field of GUARDED_FIELDS) {
    const want = (expected as unknown as Record<string, unknown>)[field];
    const have = (actual as unknown as Record<string, unknown>)[field];
    if (want !== undefined && JSON.stringify(want) !== JSON.stringify(have)) {
      drift.push({ field, expected: want, actual: have });
    }
  }
  return drift;
}
