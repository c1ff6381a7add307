import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ghostCoreEventsAbi, submitDeathsAbi, traceScanEventsAbi } from '@ghostnet/events';
import { type AbiEvent, type AbiFunction, toEventSignature, toFunctionSignature } from 'viem';
import { describe, expect, it } from 'vitest';
import { ARTIFACTS_DIR, compileContracts, renderArtifacts } from './build/compile.ts';
import { ghostCoreAbi, traceScanAbi } from './index.ts';

describe('committed artifacts', () => {
  it('are what solc makes of the sources today (else: npm run contracts:build)', () => {
    const rendered = renderArtifacts(compileContracts());
    for (const [file, content] of Object.entries(rendered)) {
      expect(readFileSync(join(ARTIFACTS_DIR, file), 'utf8'), `${file} is stale`).toBe(content);
    }
  });
});

type Shape = { signature: string; indexed: boolean[] };
const shape = (event: AbiEvent): Shape => ({
  signature: toEventSignature(event),
  indexed: event.inputs.map((p) => !!p.indexed),
});
const eventsOf = (abi: readonly unknown[]) =>
  (abi as readonly { type: string }[]).filter((e): e is AbiEvent => e.type === 'event');
const byName = (shapes: Shape[]) => shapes.sort((a, b) => a.signature.localeCompare(b.signature));

describe('the event model and the contracts', () => {
  it('agree on every GhostCore event: signature, parameter names and indexed flags', () => {
    expect(byName(eventsOf(ghostCoreAbi).map(shape))).toEqual(byName(ghostCoreEventsAbi.map(shape)));
    expect(eventsOf(ghostCoreAbi).map((e) => e.inputs.map((p) => p.name))).toEqual(
      eventsOf(ghostCoreAbi).map((e) =>
        ghostCoreEventsAbi.find((x) => x.name === e.name)!.inputs.map((p) => p.name),
      ),
    );
  });

  it('agree on every TraceScan event', () => {
    expect(byName(eventsOf(traceScanAbi).map(shape))).toEqual(byName(traceScanEventsAbi.map(shape)));
    expect(eventsOf(traceScanAbi).map((e) => e.inputs.map((p) => p.name))).toEqual(
      eventsOf(traceScanAbi).map((e) =>
        traceScanEventsAbi.find((x) => x.name === e.name)!.inputs.map((p) => p.name),
      ),
    );
  });

  it('agree on submitDeaths, whose input names the victims', () => {
    const fn = (traceScanAbi as readonly { type: string; name?: string }[]).find(
      (e) => e.type === 'function' && e.name === 'submitDeaths',
    ) as AbiFunction;
    expect(toFunctionSignature(fn)).toBe(toFunctionSignature(submitDeathsAbi[0]));
  });
});
