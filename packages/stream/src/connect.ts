import type { Secret } from '@ghostnet/config';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';

export interface NatsOptions {
  url: string;
  name: string;
  user?: string;
  password?: Secret;
}

/**
 * Connects with unlimited reconnects: every app outlives a NATS restart or leader election and resumes from
 * JetStream state, so giving up would only turn a blip into an outage.
 */
export async function connectNats(options: NatsOptions): Promise<NatsConnection> {
  return connect({
    servers: options.url.split(','),
    name: options.name,
    ...(options.user ? { user: options.user, pass: options.password?.reveal() ?? '' } : {}),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: false,
    timeout: 5_000,
  });
}
