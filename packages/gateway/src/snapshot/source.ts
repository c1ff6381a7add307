import type { Snapshot } from '@ghostnet/client/protocol';
import type { Position } from '@ghostnet/events';
import type { Deadlines } from '../warnings/warnings.ts';

/**
 * Where FULL_SYNC snapshots, POSITION_UPDATE data and scan times come from: the projector's read models, each
 * read stating the stream sequence (and epoch) it reflects. `projectionSnapshots` is the real one.
 */
export interface SnapshotSource {
  /** Network state, levels, recent feed and (given an address) that user's position, as of one sequence. */
  readSnapshot(options: { address?: string | null }): Promise<Snapshot>;
  /** A user's position as of `sequence` (null: no live position). */
  readPosition(address: string): Promise<{ position: Position | null; sequence: number; epoch: string }>;
  /** The projection whose checkpoint positionsCheckpoint() reads: its checkpoint notices wake POSITION_UPDATE. */
  readonly positionsProjection?: string;
  /** The sequence every position reflects (the positions projection's checkpoint). */
  positionsCheckpoint(): Promise<{ sequence: number; epoch: string }>;
  /** Next scan per level and the reset deadline, for the warning timers. */
  readDeadlines(): Promise<Deadlines>;
}
