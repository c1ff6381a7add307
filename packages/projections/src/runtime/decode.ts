import {
  createSubjects,
  MalformedMessageError,
  parseStreamMessage,
  type StreamMessage,
} from '@ghostnet/events';

/** What a subject says a message is: the part of the subject after `<prefix>.<chainId>.`. */
export interface SubjectKind {
  section: 'chain' | 'app' | 'derived' | 'control' | 'other';
  /** Event name: `JackedIn`, `CrewEvent`, `ScanSurvivors`, `reorg`. */
  name: string;
}

export function subjectKind(subject: string, root: string): SubjectKind {
  if (!subject.startsWith(`${root}.`)) return { section: 'other', name: '' };
  const rest = subject.slice(root.length + 1).split('.');
  const section = rest[0];
  const name = rest[rest.length - 1] ?? '';
  if (section === 'chain' && rest.length === 3) return { section, name };
  if (section === 'app' && rest.length === 2) return { section, name };
  if (section === 'derived' && rest.length === 2) return { section, name };
  if (section === 'control' && rest.length === 2) return { section, name };
  return { section: 'other', name };
}

/**
 * Parses stream payloads once per process: projections that read the same sequence share the result.
 * A message whose subject disagrees with its content, or whose chain is another, is malformed too.
 */
export class DecodeCache {
  readonly #entries = new Map<number, StreamMessage | MalformedMessageError>();
  readonly #subjects;
  constructor(
    readonly chainId: number,
    prefix: string,
    readonly capacity = 20_000,
  ) {
    this.#subjects = createSubjects(chainId, prefix);
  }

  get root(): string {
    return this.#subjects.root;
  }

  decode(sequence: number, subject: string, data: Uint8Array): StreamMessage {
    let entry = this.#entries.get(sequence);
    if (entry === undefined) {
      entry = this.#parse(subject, data);
      if (this.#entries.size >= this.capacity) {
        // Map iterates in insertion order: drop the oldest.
        const oldest = this.#entries.keys().next().value;
        if (oldest !== undefined) this.#entries.delete(oldest);
      }
      this.#entries.set(sequence, entry);
    }
    if (entry instanceof Error) throw entry;
    return entry;
  }

  clear(): void {
    this.#entries.clear();
  }

  #parse(subject: string, data: Uint8Array): StreamMessage | MalformedMessageError {
    try {
      const message = parseStreamMessage(data);
      if (message.chainId !== this.chainId) {
        return new MalformedMessageError(`chainId ${message.chainId}, expected ${this.chainId}`);
      }
      const expected = this.#subjects.of(message);
      if (expected !== subject) {
        return new MalformedMessageError(
          `a ${message.kind} ${'name' in message ? message.name : ''} message on ${subject}`,
        );
      }
      return message;
    } catch (error) {
      return error instanceof MalformedMessageError ? error : new MalformedMessageError(String(error));
    }
  }
}
