import { isDatabaseUnavailable } from '@ghostnet/db';
import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { QueueFullError } from '../read/batcher.ts';

/** The one error shape every endpoint answers with. Never a stack trace, never a secret. */
export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      details: z.unknown().nullable(),
    }),
  })
  .meta({ id: 'Error' });
export type ErrorBody = z.infer<typeof ErrorBody>;

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details: unknown = null,
  ) {
    super(message);
  }
}

export const errorBody = (code: string, message: string, details: unknown = null): ErrorBody => ({
  error: { code, message, details },
});

/** Fastify's own 4xx errors, by code, with the names we publish. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_BODY',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_BODY',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_BODY',
  FST_ERR_VALIDATION: 'VALIDATION_FAILED',
};

/**
 * Maps every error to `{error:{code,message,details}}`. Input problems are 4xx with what was wrong. A database
 * that cannot be reached, or reads piling up behind a stalled one, are a 503 with Retry-After: the client should
 * try again, and an outage logs one warning per 10 s, not a stack per request. Anything else unexpected is
 * logged with its stack and answered with a bare 500.
 */
export function installErrorHandling(app: FastifyInstance): void {
  let unavailableLoggedAt = 0;
  /** 503s for an unavailable database since the last line that said so. */
  let unavailableAnswers = 0;
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof ApiError) {
      return reply.code(error.statusCode).send(errorBody(error.code, error.message, error.details));
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      const issues = error.validation.map((v) => ({
        in: error.validationContext ?? 'request',
        path: v.instancePath,
        message: v.message ?? 'invalid',
      }));
      return reply
        .code(400)
        .send(errorBody('VALIDATION_FAILED', `invalid ${error.validationContext ?? 'request'}`, issues));
    }
    if (isResponseSerializationError(error)) {
      request.log.error({ err: error, issues: error.cause.issues }, 'response does not match its schema');
      return reply.code(500).send(errorBody('INTERNAL', 'internal error'));
    }
    const status = typeof error.statusCode === 'number' ? error.statusCode : 500;
    if (status >= 400 && status < 500) {
      const code =
        (error.code && FASTIFY_CODES[error.code]) ?? (status === 400 ? 'BAD_REQUEST' : 'REQUEST_REJECTED');
      // Fastify's own client-error messages describe the request, not our internals.
      return reply.code(status).send(errorBody(code, error.message));
    }
    if (error instanceof QueueFullError) {
      reply.header('retry-after', 1);
      return reply.code(503).send(errorBody('OVERLOADED', 'too many reads waiting; try again shortly'));
    }
    if (isDatabaseUnavailable(error)) {
      // One line per 10 s, with how many 503s it stands for: an outage must not flood the log.
      unavailableAnswers++;
      const now = Date.now();
      if (now - unavailableLoggedAt >= 10_000) {
        request.log.warn({ err: error, answers: unavailableAnswers }, 'database unavailable: answering 503');
        unavailableLoggedAt = now;
        unavailableAnswers = 0;
      }
      reply.header('retry-after', 2);
      return reply.code(503).send(errorBody('UNAVAILABLE', 'the service is unavailable; try again shortly'));
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send(errorBody('INTERNAL', 'internal error'));
  });

  app.setNotFoundHandler((request, reply) => {
    reply
      .code(404)
      .send(errorBody('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}`));
  });
}
