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

/**
 * RPC URLs often carry a provider key in their path or query (`/v2/<key>`, `?apikey=`), and client errors quote
 * the URL they failed on (viem: "URL: …" in the message, and a `url` field). Logged errors keep the scheme and
 * host of every URL and lose the rest; credentials before the host go too.
 */
const URL_IN_TEXT = /\b((?:https?|wss?):\/\/)(?:[^@/\s"'<>]*@)?([^/\s"'<>?#]+)[^\s"'<>]*/gi;

export function scrubUrls(text: string): string {
  return text.replace(URL_IN_TEXT, (_match, scheme: string, host: string) => `${scheme}${host}/…`);
}

function scrubbed(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubUrls(value);
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrubbed(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubbed(v, depth + 1)]));
}

const errSerializer = (error: Error) => scrubbed(pino.stdSerializers.err(error));

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
    serializers: { err: errSerializer, error: errSerializer },
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
