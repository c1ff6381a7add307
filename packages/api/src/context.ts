import type { JwtKeyring, SiweExpectations } from '@ghostnet/auth';
import type { DatabasePool } from '@ghostnet/db';
import type { Logger } from '@ghostnet/logger';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Client } from 'viem';
import type { NonceStore } from './auth/nonceStore.ts';
import type { CrewStore } from './crews/crewStore.ts';
import type { CheckpointCache } from './read/checkpointCache.ts';
import type { ReadModel } from './read/readModel.ts';
import type { EnsResolver } from './users/ens.ts';

export type ZodApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/** What the route modules share; built once by `createApi`. */
export interface ApiContext {
  chainId: number;
  pool: DatabasePool;
  logger: Logger;
  keyring: JwtKeyring;
  siwe: SiweExpectations & { nonceTtlMs: number };
  /** Chain client for contract-wallet signatures; EOAs only without it. */
  siweClient?: Client;
  nonces: NonceStore;
  crews: CrewStore;
  read: ReadModel;
  cache: CheckpointCache;
  ens: EnsResolver;
  /** Call after committing a transaction that wrote outbox rows (`enqueueAppEvent`): publishes them now. */
  outboxCommitted: () => void;
  /** Readiness: resolves true when NATS (and the stream) answer. */
  natsReady: () => Promise<boolean>;
}
