import type { AppEventName, ChainEventName, StreamMessage } from './envelope/index.ts';
import { CONTRACT_OF } from './envelope/index.ts';

export const DEFAULT_SUBJECT_PREFIX = 'ghostnet';

/**
 * Subject layout (architecture note): <prefix>.<chainId>.<chain|control|app|derived>.…
 * The prefix is `ghostnet` in production; tests use their own so that their streams never overlap.
 */
export function createSubjects(chainId: number, prefix = DEFAULT_SUBJECT_PREFIX) {
  const root = `${prefix}.${chainId}`;
  return {
    root,
    all: `${root}.>`,
    chainAll: `${root}.chain.>`,
    appAll: `${root}.app.>`,
    reorg: `${root}.control.reorg`,
    chain: (name: ChainEventName) => `${root}.chain.${CONTRACT_OF[name]}.${name}`,
    app: (name: AppEventName) => `${root}.app.${name}`,
    derived: (name: string) => `${root}.derived.${name}`,
    of(message: StreamMessage): string {
      switch (message.kind) {
        case 'chain':
          return `${root}.chain.${message.contract}.${message.name}`;
        case 'reorg':
          return `${root}.control.reorg`;
        case 'app':
          return `${root}.app.${message.name}`;
        case 'derived':
          return `${root}.derived.${message.name}`;
      }
    },
  };
}
export type Subjects = ReturnType<typeof createSubjects>;
