import { z } from 'zod';
import { ChainId, Hash, TimestampMs } from '../primitives.ts';

/**
 * Appended by the ingester when the chain dropped blocks it had published. Consumers undo the orphaned
 * sequences' effects; the canonical events follow this notice in the stream.
 */
export const ReorgNotice = z.object({
  v: z.literal(1),
  kind: z.literal('reorg'),
  /** `<chainId>:reorg:<ancestorHash>:<firstOrphanedSequence>`: deterministic, so a retried append dedupes. */
  id: z.string().regex(/^[0-9]+:reorg:0x[0-9a-f]{64}:[0-9]+$/),
  chainId: ChainId,
  /** Last block both histories share. */
  commonAncestor: z.object({ number: z.number().int().nonnegative(), hash: Hash }),
  /** Blocks dropped, counted from the ancestor to the old head. */
  depth: z.number().int().positive(),
  orphanedSequences: z.array(z.number().int().positive()),
  observedAt: TimestampMs,
});
export type ReorgNotice = z.infer<typeof ReorgNotice>;
