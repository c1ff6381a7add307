interface ErrorLike {
  code?: unknown;
  name?: string;
  message?: string;
  cause?: unknown;
}

/** An error and its causes (slonik wraps pg's errors, pg wraps the socket's), at most five deep. */
export function* errorChain(error: unknown): Generator<ErrorLike> {
  let e = error as ErrorLike | undefined;
  for (let depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    yield e;
    e = e.cause as ErrorLike | undefined;
  }
}

/**
 * The database could not be reached or refuses connections for now: connection exceptions (SQLSTATE class
 * 08), too many connections (53300), the server shutting down, crashed or starting (57P01–57P03), and the
 * errors pg raises without a code (connection refused or lost, no pool connection in time). Not a statement
 * the database rejected or cancelled (a statement timeout is 57014: retrying the same slow query would not
 * help). For the API a 503; the projector retries these and a few more (see its isTransient).
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (const e of errorChain(error)) {
    if (typeof e.code === 'string' && (/^08/.test(e.code) || /^(53300|57P0[123])$/.test(e.code))) return true;
    if (/^(ConnectionError|BackendTerminatedError)$/.test(e.name ?? '')) return true;
    if (
      /Connection terminated|ECONNREFUSED|ECONNRESET|timeout exceeded|Client has encountered a connection error/i.test(
        e.message ?? '',
      )
    ) {
      return true;
    }
  }
  return false;
}
