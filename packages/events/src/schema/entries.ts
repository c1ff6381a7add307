import {
  AppEnvelope,
  ChainEnvelope,
  DerivedEnvelope,
  ReorgNotice,
  StreamMessage,
} from '../envelope/index.ts';
import { FeedEvent, LevelStats, NetworkState, Position } from '../frontend/index.ts';
import type { SchemaEntries } from './jsonSchema.ts';

/** The event model's shapes as published JSON Schemas. */
export const eventSchemas: SchemaEntries = {
  'stream-message': StreamMessage,
  'chain-envelope': ChainEnvelope,
  'reorg-notice': ReorgNotice,
  'app-envelope': AppEnvelope,
  'derived-envelope': DerivedEnvelope,
  'feed-event': FeedEvent,
  position: Position,
  'level-stats': LevelStats,
  'network-state': NetworkState,
};
