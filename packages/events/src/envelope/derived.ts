import { z } from 'zod';
import { LevelName } from '../enums.ts';
import { Address, ChainId, TimestampMs, Uint } from '../primitives.ts';

/**
 * Facts no log states and no single message implies, computed from the projections and appended after the
 * chain event they come from (architecture note: `derived.<Event>`). The content is a function of the stream
 * up to `source`, so a re-publish is byte-identical and JetStream drops it by id.
 */
export const DerivedEnvelope = z.discriminatedUnion('name', [
  z.object({
    v: z.literal(1),
    kind: z.literal('derived'),
    name: z.literal('ScanSurvivors'),
    /** `<chainId>:derived:ScanSurvivors:<blockHash>:<logIndex>`: the source event's id, renamed. */
    id: z.string().regex(/^[0-9]+:derived:ScanSurvivors:0x[0-9a-f]{64}:[0-9]+$/),
    chainId: ChainId,
    /** The ScanFinalized this message completes. */
    source: z.object({ id: z.string(), sequence: z.number().int().positive() }),
    /** The source event's block time. */
    occurredAt: TimestampMs,
    args: z.object({
      level: LevelName,
      scanId: Uint,
      /** Every position alive at the level when the scan was finalized, with its streak after it. */
      survivors: z.array(z.object({ address: Address, streak: z.number().int().positive() })),
    }),
  }),
]);
export type DerivedEnvelope = z.infer<typeof DerivedEnvelope>;
export type DerivedEventName = DerivedEnvelope['name'];

/** The id of the message derived from the chain event `sourceId` (`<chainId>:<blockHash>:<logIndex>`). */
export function derivedId(name: DerivedEventName, sourceId: string): string {
  const [chainId, ...rest] = sourceId.split(':');
  return `${chainId}:derived:${name}:${rest.join(':')}`;
}
