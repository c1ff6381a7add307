import { z } from 'zod';
import { AppEnvelope } from './app.ts';
import { ChainEnvelope } from './chain.ts';
import { ReorgNotice } from './control.ts';
import { DerivedEnvelope } from './derived.ts';

export * from './app.ts';
export * from './chain.ts';
export * from './control.ts';
export * from './derived.ts';

/** Anything a consumer can read from the stream. */
export const StreamMessage = z.union([ChainEnvelope, ReorgNotice, AppEnvelope, DerivedEnvelope]);
export type StreamMessage = z.infer<typeof StreamMessage>;

const byKind = {
  chain: ChainEnvelope,
  reorg: ReorgNotice,
  app: AppEnvelope,
  derived: DerivedEnvelope,
} as const;

export class MalformedMessageError extends Error {
  override name = 'MalformedMessageError';
}

/**
 * Parses one stream payload. Dispatches on `kind` first so that the error names the right variant's
 * problems instead of a union's wall of mismatches.
 */
export function parseStreamMessage(data: Uint8Array | string): StreamMessage {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof data === 'string' ? data : textDecoder.decode(data));
  } catch {
    throw new MalformedMessageError('not JSON');
  }
  return validateStreamMessage(raw);
}

/**
 * Checks an already-parsed value against the schema of its `kind`, as `parseStreamMessage` does for a payload:
 * writers run it before publishing, so that nothing a reader would refuse ever enters the stream.
 */
export function validateStreamMessage(raw: unknown): StreamMessage {
  const kind = (raw as { kind?: unknown } | null)?.kind;
  const schema =
    typeof kind === 'string' && Object.hasOwn(byKind, kind) ? byKind[kind as keyof typeof byKind] : undefined;
  if (!schema) throw new MalformedMessageError(`unknown kind ${JSON.stringify(kind)}`);
  const result = schema.safeParse(raw);
  if (!result.success) throw new MalformedMessageError(z.prettifyError(result.error));
  return result.data;
}

const textDecoder = new TextDecoder();
