import { z } from 'zod';
import { Address, ChainId, TimestampMs } from '../primitives.ts';

/** Events the API originates (crews, mini-games), appended through its transactional outbox. */
export const CrewEventType = z.enum(['CREATED', 'JOINED', 'LEFT', 'LEADER_CHANGED', 'DISSOLVED']);
export type CrewEventType = z.infer<typeof CrewEventType>;

const appBase = {
  v: z.literal(1),
  kind: z.literal('app'),
  /** `<chainId>:app:<outbox id>`: the outbox row's id makes a re-publish a duplicate JetStream drops. */
  id: z.string().regex(/^[0-9]+:app:[0-9a-zA-Z-]+$/),
  chainId: ChainId,
  occurredAt: TimestampMs,
  observedAt: TimestampMs,
};

export const AppEnvelope = z.discriminatedUnion('name', [
  z.object({
    ...appBase,
    name: z.literal('CrewEvent'),
    args: z.object({
      crewId: z.string(),
      crewName: z.string(),
      eventType: CrewEventType,
      address: Address,
      message: z.string(),
    }),
  }),
  z.object({
    ...appBase,
    name: z.literal('MinigameResult'),
    args: z.object({
      address: Address,
      game: z.literal('typing'),
      result: z.object({
        valid: z.boolean(),
        wpm: z.number(),
        accuracy: z.number(),
        boostBps: z.number().int().nonnegative().nullable(),
      }),
    }),
  }),
]);
export type AppEnvelope = z.infer<typeof AppEnvelope>;
export type AppEventName = AppEnvelope['name'];
