import { createHash } from 'node:crypto';
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
  /**
   * Run statements that repeat as named prepared statements (requires `resetSessionOnRelease: false`: DISCARD
   * ALL would drop them under the driver's feet). For pools that send the same few statements thousands of
   * times a second: Postgres then stops planning them anew each time, which was a quarter of the projector's
   * statement time in Postgres under live load.
   */
  prepareStatements?: boolean;
}

/** Runs before a statement's text counts as repeating; below it, one-off statements are never prepared. */
const PREPARE_AFTER = 3;
/** Distinct texts remembered per pool: texts beyond it (unbounded variety) are simply not prepared. */
const PREPARE_LIMIT = 2_000;

/**
 * Names each parameterized statement after a hash of its text once that text has run PREPARE_AFTER times:
 * the driver then prepares it once per connection and Postgres may reuse its plan. Same text, same name, so
 * a name never stands for two statements; a text that varies each time stays unnamed.
 */
function prepareRepeatedStatements(): Interceptor {
  const seen = new Map<string, { runs: number; name: string | null }>();
  return {
    name: 'prepare-repeated-statements',
    transformQuery(_context, query) {
      if (query.values.length === 0 || query.name) return query;
      let entry = seen.get(query.sql);
      if (!entry) {
        if (seen.size >= PREPARE_LIMIT) return query;
        entry = { runs: 0, name: null };
        seen.set(query.sql, entry);
      }
      if (entry.name === null && ++entry.runs >= PREPARE_AFTER) {
        entry.name = `gn_${createHash('sha256').update(query.sql).digest('base64url').slice(0, 32)}`;
      }
      return entry.name === null ? query : { ...query, name: entry.name };
    },
  };
}

export async function createDatabasePool(
  url: Secret | string,
  options: PoolOptions = {},
): Promise<DatabasePool> {
  const connectionString = typeof url === 'string' ? url : url.reveal();
  if (options.prepareStatements && options.resetSessionOnRelease !== false) {
    throw new Error(
      'prepareStatements needs resetSessionOnRelease: false (DISCARD ALL drops prepared statements)',
    );
  }
  return createPool(connectionString, {
    interceptors: options.prepareStatements ? [prepareRepeatedStatements(), validateRows] : [validateRows],
    typeParsers,
    maximumPoolSize: options.maximumPoolSize ?? 10,
    statementTimeout: options.statementTimeoutMs ?? 30_000,
    idleInTransactionSessionTimeout: 60_000,
    connectionTimeout: 5_000,
    ...(options.resetSessionOnRelease === false ? { resetConnection: async () => {} } : {}),
  });
}
