import { type Address, type Client, type Hex, hashMessage, isAddress, recoverMessageAddress } from 'viem';
import { verifyHash } from 'viem/actions';
import { parseSiweMessage, type SiweMessage } from 'viem/siwe';

/**
 * Sign-In with Ethereum (EIP-4361) checks. viem parses the message and verifies signatures, but its
 * `validateSiweMessage` skips chain id and uri and only checks what it is given, so every field that decides
 * whether a login is for us is checked here explicitly. Nonce bookkeeping (issued by us, single use) belongs
 * to the caller, which stores nonces where every instance sees them.
 */
export interface SiweExpectations {
  /** RFC 3986 authority the frontend is served from, e.g. `ghostnet.io` or `localhost:5173`. */
  domain: string;
  /** Origin the message's `URI` must belong to, e.g. `https://ghostnet.io`. */
  origin: string;
  chainId: number;
  /** Refuse messages issued longer ago than this (the nonce's lifetime is the natural bound). */
  maxAgeMs: number;
  /** Tolerated clock difference between the wallet's device and us. */
  clockSkewMs?: number;
}

export type SiweFailure =
  | 'MALFORMED'
  | 'WRONG_DOMAIN'
  | 'WRONG_URI'
  | 'WRONG_CHAIN'
  | 'EXPIRED'
  | 'NOT_YET_VALID'
  | 'BAD_SIGNATURE';

export class SiweError extends Error {
  override name = 'SiweError';
  constructor(
    readonly reason: SiweFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface CheckedSiweMessage {
  /** Lowercase, as addresses travel everywhere else. */
  address: Address;
  chainId: number;
  nonce: string;
  issuedAt: number;
  expirationTime: number | null;
  fields: SiweMessage;
}

export const MAX_SIWE_MESSAGE_LENGTH = 4096;
const DEFAULT_SKEW_MS = 60_000;

/** Parses and checks every field against our expectations; throws `SiweError` naming the first problem. */
export function checkSiweMessage(
  message: string,
  expect: SiweExpectations,
  now = Date.now(),
): CheckedSiweMessage {
  if (typeof message !== 'string' || message.length === 0 || message.length > MAX_SIWE_MESSAGE_LENGTH) {
    throw new SiweError('MALFORMED', 'message is not a SIWE message');
  }
  const fields = parseSiweMessage(message) as Partial<SiweMessage>;
  const { address, domain, uri, version, chainId, nonce, issuedAt, expirationTime, notBefore } = fields;
  if (!address || !isAddress(address, { strict: false }) || !domain || !uri || !nonce) {
    throw new SiweError('MALFORMED', 'message lacks address, domain, uri or nonce');
  }
  if (version !== '1') throw new SiweError('MALFORMED', 'message version must be 1');
  if (!issuedAt || Number.isNaN(issuedAt.getTime())) {
    throw new SiweError('MALFORMED', 'message lacks a valid Issued At');
  }
  for (const [name, value] of [
    ['Expiration Time', expirationTime],
    ['Not Before', notBefore],
  ] as const) {
    if (value && Number.isNaN(value.getTime())) throw new SiweError('MALFORMED', `invalid ${name}`);
  }
  if (domain !== expect.domain) throw new SiweError('WRONG_DOMAIN', 'message is for another domain');
  if (fields.scheme !== undefined && `${fields.scheme}:` !== new URL(expect.origin).protocol) {
    throw new SiweError('WRONG_DOMAIN', 'message is for another scheme');
  }
  if (!uriBelongsTo(uri, expect.origin)) throw new SiweError('WRONG_URI', 'message uri is not ours');
  if (chainId !== expect.chainId) throw new SiweError('WRONG_CHAIN', 'message is for another chain');

  const skew = expect.clockSkewMs ?? DEFAULT_SKEW_MS;
  const issued = issuedAt.getTime();
  if (issued > now + skew) throw new SiweError('NOT_YET_VALID', 'message is issued in the future');
  if (now - issued > expect.maxAgeMs + skew) throw new SiweError('EXPIRED', 'message is too old');
  if (expirationTime && now >= expirationTime.getTime()) throw new SiweError('EXPIRED', 'message expired');
  if (notBefore && now < notBefore.getTime()) throw new SiweError('NOT_YET_VALID', 'message not yet valid');

  return {
    address: address.toLowerCase() as Address,
    chainId,
    nonce,
    issuedAt: issued,
    expirationTime: expirationTime ? expirationTime.getTime() : null,
    fields: fields as SiweMessage,
  };
}

function uriBelongsTo(uri: string, origin: string): boolean {
  try {
    return new URL(uri).origin === new URL(origin).origin;
  } catch {
    return false;
  }
}

export interface SignatureOptions {
  /**
   * A client on the chain the login is for: smart-contract wallets (ERC-1271, and ERC-6492 for undeployed
   * ones) are verified through it. Without one only EOA signatures are accepted.
   */
  client?: Client;
  /** Bound on the chain call, so a slow RPC cannot hold a login open. */
  timeoutMs?: number;
}

/** Throws `SiweError('BAD_SIGNATURE')` unless `signature` is `address`'s signature of exactly `message`. */
export async function verifySiweSignature(
  message: string,
  address: Address,
  signature: Hex,
  options: SignatureOptions = {},
): Promise<void> {
  if (/^0x[0-9a-fA-F]{130}$/.test(signature)) {
    try {
      const signer = await recoverMessageAddress({ message, signature });
      if (signer.toLowerCase() === address.toLowerCase()) return;
    } catch {
      // Not a recoverable ECDSA signature: a contract wallet may still accept it.
    }
  }
  if (options.client) {
    const valid = await withTimeout(
      verifyHash(options.client, { address, hash: hashMessage(message), signature }),
      options.timeoutMs ?? 5_000,
    ).catch(() => false);
    if (valid) return;
  }
  throw new SiweError('BAD_SIGNATURE', 'signature does not match the message and address');
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timed out')), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
