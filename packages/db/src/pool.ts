import type { Secret } from '@ghostnet/config';
import {
  createPool,
  type DatabasePool,
  type Interceptor,
  type Query,
  type QueryResultRow,
  sql,
} from 'slonik';

export type { DatabasePool };
export { sql };

export class RowValidationError extends Error {
  override name = 'RowValidationError';
  constructor(query: Query, issues: readonly { message: string; path?: readonly unknown[] }[]) {
    const where = issues
      .map((i) => `${(i.path ?? []).map(String).join('.') || '(row)'}: ${i.message}`)
      .join('; ');
    super(`row of "${query.sql.replace(/\s+/g, ' ').slice(0, 120)}" does not match its schema: ${where}`);
  }
}

/**
 * slonik parses rows only when an interceptor runs the query's zod schema; this one does, so a `sql.type(S)`
 * query either returns S or throws. Reads from Postgres are a boundary like any other.
 */
const validateRows: Interceptor = {
  name: 'validate-rows',
  transformRow(context, query, row) {
    const parser = context.resultParser;
    if (!parser) return row;
    const result = parser['~standard'].validate(row);
    if (result instanceof Promise) throw new Error('async row schemas are not supported');
    if (result.issues) throw new RowValidationError(query, result.issues);
    return result.value as QueryResultRow;
  },
};

/**
 * Type parsers that never lose precision: NUMERIC(78,0) amounts stay decimal strings (slonik's default is
 * parseFloat), BIGINT becomes a number when it is exactly representable (sequences, block numbers),
 * timestamps become Unix ms.
 */
const typeParsers = [
  { name: 'numeric', parse: (value: string) => value },
  {
    name: 'int8',
    parse: (value: string) => {
      const n = Number(value);
      if (!Number.isSafeInteger(n)) throw new Error(`int8 ${value} exceeds 2^53`);
      return n;
    },
  },
  { name: 'timestamptz', parse: (value: string) => Date.parse(value) },
  { name: 'timestamp', parse: (value: string) => Date.parse(`${value}Z`) },
];

export interface PoolOptions {
  maximumPoolSize?: number;
  statementTimeoutMs?: number;
  /**
   * Send DISCARD ALL when a connection goes back to the pool (slonik's default, kept when not given). False for
   * pools whose work only sets transaction-local state (SET LOCAL, set_config(..., true)): the reset is then a
   * round trip per transaction for nothing, and it also throws away the session's cached plans.
   */
  resetSessionOnRelease?: boolean;
}

export async function createDatabasePool(
  url: Secret | string,
  options: PoolOptions = {},
): Promise<DatabasePool> {
  const connectionString = typeof url === 'string' ? url : url.reveal();
  return createPool(connectionString, {
    interceptors: [validateRows],
    typeParsers,
    maximumPoolSize: options.maximumPoolSize ?? 10,
    statementTimeout: options.statementTimeoutMs ?? 30_000,
    idleInTransactionSessionTimeout: 60_000,
    connectionTimeout: 5_000,
    ...(options.resetSessionOnRelease === false ? { resetConnection: async () => {} } : {}),
  });
}
