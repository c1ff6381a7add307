import { ClientFrame, ServerFrame, Snapshot } from '@ghostnet/client/protocol';
import type { SchemaEntries } from '@ghostnet/events';

/** The WebSocket protocol as published JSON Schemas (`schemas/gateway-*.schema.json`). */
export const gatewaySchemas: SchemaEntries = {
  'gateway-client-frame': ClientFrame,
  'gateway-server-frame': ServerFrame,
  'gateway-snapshot': Snapshot,
};
