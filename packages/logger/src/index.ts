import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino replaces with "[redacted]". Wildcards match one level, so the common nestings are listed:
 * top level, one object down, and HTTP request headers.
 */
const SENSITIVE = [
  'privateKey',
  'signerKey',
  'secret',
  'jwtSecret',
  'password',
  'token',
  'signature',
  'authorization',
  'cookie',
  'mnemonic',
];
export const REDACT_PATHS = [
  ...SENSITIVE,
  ...SENSITIVE.map((key) => `*.${key}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
];

export interface CreateLoggerOptions {
  name: string;
  level?: string;
  /** Tests capture lines here; production writes JSON lines to stdout. */
  destination?: pino.DestinationStream;
  base?: Record<string, unknown>;
}

export function createLogger(options: CreateLoggerOptions): Logger {
  const config: LoggerOptions = {
    name: options.name,
    level: options.level ?? 'info',
    base: { service: options.name, ...options.base },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
  };
  return options.destination ? pino(config, options.destination) : pino(config);
}

/** The fields of the spec's "Event indexed" log line, with their names fixed in one place. */
export interface EventLogFields {
  eventType: string;
  blockNumber: number;
  user?: string;
  processingTime: number;
  sequence?: number;
}
