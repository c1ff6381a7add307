import type { StreamMessage } from '@ghostnet/events';
import type { DatabaseTransactionConnection } from 'slonik';

/** One stream message handed to a projection: parsed, validated, in stream order. */
export interface ProjectedMessage {
  sequence: number;
  subject: string;
  message: Exclude<StreamMessage, { kind: 'reorg' }>;
  /** When JetStream appended it (Unix ms). */
  appendedAt: number;
}

/**
 * A projection: a name, a code version, its tables (created by the SQL function `ddl` from the migrations, in
 * the generation's own schema) and a handler that applies a batch inside the runner's transaction.
 * The transaction's search_path is `<generation schema>, public`: handlers use unqualified table names.
 * Reorg notices never reach handlers: the runner takes orphaned events back itself (undo log or rebuild).
 */
export interface Projection {
  name: string;
  codeVersion: number;
  /** SQL function that creates the tables in the current schema, e.g. `projection_ddl_game_v1`. */
  ddl: string;
  /** Event names (chain and app) the handler needs; the runner passes over the rest without parsing them. */
  accepts: ReadonlySet<string>;
  /**
   * Tables only ever inserted into, each row keyed by the sequence that wrote it (table → that column): a reorg
   * takes them back with one DELETE instead of row-by-row undo data, which they then do not record.
   */
  appendOnly?: Readonly<Record<string, string>>;
  apply(tx: DatabaseTransactionConnection, messages: readonly ProjectedMessage[]): Promise<void>;
}

/** A well-formed event the projection cannot apply (its state says it cannot have happened). */
export class UnappliableEventError extends Error {
  override name = 'UnappliableEventError';
}

/** Raised by a runner when a projection stops on a message; names the sequence, never skips it. */
export class PoisonMessageError extends Error {
  override name = 'PoisonMessageError';
  constructor(
    readonly projection: string,
    readonly version: number,
    readonly sequence: number,
    readonly reason: string,
  ) {
    super(`projection ${projection} v${version} stopped at sequence ${sequence}: ${reason}`);
  }
}
