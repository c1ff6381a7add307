import http from 'node:http';
import https from 'node:https';
import type { z } from 'zod';

/** Why a call failed, which decides what the caller does next. */
export type RpcErrorKind =
  /** The node refuses the size of the request: split the range. */
  | 'range'
  /** 429 or a rate-limit error: back off. */
  | 'rate-limited'
  /** Network error, timeout, 5xx, or a node-side error worth retrying. */
  | 'transient'
  /** The answer does not parse: the node is broken or lying; retry, never use it. */
  | 'garbage'
  /** The node does not offer the method (JSON-RPC -32601): the caller falls back to a standard one. */
  | 'unsupported';

export class RpcError extends Error {
  override name = 'RpcError';
  constructor(
    readonly kind: RpcErrorKind,
    readonly method: string,
    message: string,
  ) {
    super(`${method}: ${message}`);
  }
}

// Node messages for "your range is too big", across geth, erigon, alchemy, infura, quicknode, anvil.
const RANGE_ERRORS =
  /range|too many|limit exceeded|response size|query returned more than|block range|exceed|too large|10000 results/i;
const RATE_ERRORS = /rate limit|too many requests|429|capacity|throttl/i;
const UNSUPPORTED =
  /method .*(not found|not supported|does not exist|not available|unsupported)|unsupported method/i;
const LOG_METHODS = new Set(['eth_getLogs', 'eth_getLogsWithCursor']);

export interface RpcClient {
  call<S extends z.ZodType>(method: string, params: unknown[], schema: S): Promise<z.infer<S>>;
  /** One HTTP round trip for many calls; each result parsed with its schema, failures thrown as RpcError. */
  batch<S extends z.ZodType>(method: string, paramsList: unknown[][], schema: S): Promise<z.infer<S>[]>;
  url: string;
}

interface JsonRpcResponse {
  id?: unknown;
  result?: unknown;
  error?: { code?: number; message?: string };
}

/**
 * A JSON-RPC client over HTTP. Each call is retried a few times on transient failures, garbage and rate
 * limits (short jittered backoff, longer for 429s) so that one flaky answer does not fail a whole sync step;
 * range errors and unsupported methods are returned at once: only the caller can split the range or fall back.
 */
export function createRpcClient(url: string, { timeoutMs = 10_000, retries = 3 } = {}): RpcClient {
  let nextId = 1;
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  const agent = new transport.Agent({ keepAlive: true, maxSockets: 16 });

  async function withRetries<T>(attempt: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await attempt();
      } catch (error) {
        if (!(error instanceof RpcError) || error.kind === 'range' || error.kind === 'unsupported')
          throw error;
        if (i >= retries) throw error;
        const base = error.kind === 'rate-limited' ? 250 : 25;
        await new Promise((r) => setTimeout(r, base * 2 ** i * (0.5 + Math.random() / 2)));
      }
    }
  }

  async function post(body: unknown, method: string): Promise<unknown> {
    let response: { status: number; body: Buffer };
    try {
      response = await request(JSON.stringify(body));
    } catch (error) {
      throw new RpcError('transient', method, `request failed: ${(error as Error).message}`);
    }
    if (response.status === 429) throw new RpcError('rate-limited', method, 'HTTP 429');
    if (response.status === 413) throw new RpcError('range', method, 'HTTP 413');
    if (response.status < 200 || response.status > 299)
      throw new RpcError('transient', method, `HTTP ${response.status}`);
    try {
      return JSON.parse(response.body.toString('utf8'));
    } catch {
      throw new RpcError('garbage', method, 'response is not JSON');
    }
  }

  /**
   * One POST over a keep-alive connection. node:http rather than fetch: for the multi-megabyte eth_getLogs
   * answers of a backfill, fetch (undici) cost about twice the CPU per log here.
   */
  function request(payload: string): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = transport.request(
        target,
        {
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            clearTimeout(timer);
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
          });
          res.on('error', fail);
          res.on('close', () => {
            if (!res.complete) fail(new Error('response cut short'));
          });
        },
      );
      const timer = setTimeout(() => req.destroy(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
      function fail(error: Error) {
        clearTimeout(timer);
        reject(error);
      }
      req.on('error', fail);
      req.end(payload);
    });
  }

  function unwrap<S extends z.ZodType>(method: string, payload: unknown, schema: S): z.infer<S> {
    if (typeof payload !== 'object' || payload === null)
      throw new RpcError('garbage', method, 'not a JSON-RPC response');
    const { error, result } = payload as JsonRpcResponse;
    if (error) {
      const message = String(error.message ?? 'error');
      if (RATE_ERRORS.test(message) || error.code === 429)
        throw new RpcError('rate-limited', method, message);
      if (error.code === -32601 || UNSUPPORTED.test(message))
        throw new RpcError('unsupported', method, message);
      if (LOG_METHODS.has(method) && RANGE_ERRORS.test(message)) throw new RpcError('range', method, message);
      throw new RpcError('transient', method, `${error.code ?? ''} ${message}`.trim());
    }
    if (!('result' in (payload as object))) throw new RpcError('garbage', method, 'no result');
    const parsed = schema.safeParse(result);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new RpcError(
        'garbage',
        method,
        `unexpected result at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
      );
    }
    return parsed.data;
  }

  return {
    url,
    call(method, params, schema) {
      return withRetries(async () => {
        const payload = await post({ jsonrpc: '2.0', id: nextId++, method, params }, method);
        return unwrap(method, payload, schema);
      });
    },
    async batch(method, paramsList, schema) {
      if (paramsList.length === 0) return [];
      return withRetries(() => batchOnce(method, paramsList, schema));
    },
  };

  async function batchOnce<S extends z.ZodType>(
    method: string,
    paramsList: unknown[][],
    schema: S,
  ): Promise<z.infer<S>[]> {
    {
      const first = nextId;
      nextId += paramsList.length;
      const payload = await post(
        paramsList.map((params, i) => ({ jsonrpc: '2.0', id: first + i, method, params })),
        method,
      );
      // A node may answer a batch with one error object (e.g. rate limited) instead of an array.
      if (!Array.isArray(payload)) return [unwrap(method, payload, schema)];
      if (payload.length !== paramsList.length) {
        throw new RpcError(
          'garbage',
          method,
          `batch of ${paramsList.length} answered with ${payload.length}`,
        );
      }
      const byId = new Map(payload.map((p: JsonRpcResponse) => [p?.id, p]));
      return paramsList.map((_, i) => {
        const item = byId.get(first + i);
        if (!item) throw new RpcError('garbage', method, `batch answer lacks id ${first + i}`);
        return unwrap(method, item, schema);
      });
    }
  }
}
