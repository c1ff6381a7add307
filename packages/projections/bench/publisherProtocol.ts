/** What the bench and its publisher process (publisher.ts) say to each other over IPC, parsed on both sides. */
import { z } from 'zod';

export const PublisherSetup = z.object({
  natsUrl: z.string(),
  chainId: z.number(),
  prefix: z.string(),
  seed: z.number(),
  players: z.number(),
  capacity: z.number(),
  resetEvery: z.number(),
});

export const PublisherCommand = z.discriminatedUnion('cmd', [
  /** As fast as the stream takes them. */
  z.object({ cmd: z.literal('bulk'), events: z.number() }),
  /** At a steady rate, a tick's worth at a time with one publish round in flight, as the ingester appends. */
  z.object({
    cmd: z.literal('paced'),
    rate: z.number(),
    seconds: z.number(),
    msPerTx: z.number(),
    resetEvery: z.number(),
  }),
  z.object({ cmd: z.literal('stop') }),
]);
export type PublisherCommand = z.infer<typeof PublisherCommand>;

export const BulkResult = z.object({
  last: z.number(),
  /** Chain blocks spanned by what was published. */
  blocks: z.number(),
});
export type BulkResult = z.infer<typeof BulkResult>;

export const PacedResult = z.object({
  last: z.number(),
  sent: z.number(),
  achieved: z.number(),
  counts: z.array(z.tuple([z.string(), z.number()])),
  /** Event name per published sequence, for the slow-batch listing. */
  names: z.array(z.tuple([z.number(), z.string()])),
});
export type PacedResult = z.infer<typeof PacedResult>;

/** Sent once, when the publisher is connected and takes commands. */
export const Ready = z.literal('ready');
