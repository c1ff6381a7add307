import { readFileSync } from 'node:fs';
import { ALL_PROJECTIONS } from '@ghostnet/projections';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const Rules = z.object({
  groups: z.array(z.object({ rules: z.array(z.object({ alert: z.string(), expr: z.string() })) })),
});

describe('alert rules', () => {
  it('ProjectionNotApplied watches every projection the projector runs, and nothing else', () => {
    const file = readFileSync(new URL('../../../infra/prometheus/alerts.yml', import.meta.url), 'utf8');
    const rule = Rules.parse(parseYaml(file))
      .groups.flatMap((g) => g.rules)
      .find((r) => r.alert === 'ProjectionNotApplied');
    expect(rule).toBeDefined();
    const watched = [
      ...rule!.expr.matchAll(/absent\(ghostnet_projection_last_sequence\{projection="([a-z]+)"\}\)/g),
    ];
    expect(watched.map((m) => m[1]).sort()).toEqual(ALL_PROJECTIONS.map((p) => p.name).sort());
  });
});
