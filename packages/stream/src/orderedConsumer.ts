import type { Consumer, JetStreamClient, OrderedConsumerOptions } from '@nats-io/jetstream';

export interface OrderedConsumerRetry {
  /** Creation attempts before the last error is thrown (default 6). */
  attempts?: number;
  /** Pause between attempts (default 100 ms). */
  pauseMs?: number;
  /** Called before each retry, for a log line. */
  onRetry?(error: unknown, attempt: number): void;
}

/**
 * Creates an ordered consumer, retrying when the JetStream API does not answer. On a cluster, nats-server
 * places an ephemeral R1 consumer on any peer of the stream, a SIGKILLed one included: until the server counts
 * that peer offline (more than a minute, measured on 2.9.10), a quarter to a third of creations time out while
 * the next one succeeds. Errors the server did answer with (stream not found, bad config) are thrown at once. A
 * consumer whose creation timed out expires on its own (ordered consumers have a 5 min inactive threshold).
 */
export async function orderedConsumer(
  js: JetStreamClient,
  stream: string,
  options: Partial<OrderedConsumerOptions>,
  retry: OrderedConsumerRetry = {},
): Promise<Consumer> {
  const attempts = retry.attempts ?? 6;
  for (let attempt = 1; ; attempt++) {
    try {
      // The library fills in opt_start_seq etc. on the object it is given: each attempt gets its own copy.
      return await js.consumers.get(stream, { ...options });
    } catch (error) {
      if (attempt >= attempts || !isUnanswered(error)) throw error;
      retry.onRetry?.(error, attempt);
      await new Promise((resolve) => setTimeout(resolve, retry.pauseMs ?? 100));
    }
  }
}

/** The request got no answer (timeout, no responders), as opposed to an error the server answered with. */
function isUnanswered(error: unknown): boolean {
  const e = error as { name?: string; message?: string };
  return e?.name === 'TimeoutError' || /timeout|no responders/i.test(e?.message ?? '');
}
