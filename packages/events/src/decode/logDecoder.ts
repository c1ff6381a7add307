import { type AbiEvent, toEventSelector, toEventSignature } from 'viem';
import { ghostCoreEventsAbi, traceScanEventsAbi } from '../abi/index.ts';
import { BOOST_TYPES, LEVELS } from '../enums.ts';
import { ChainEnvelope, type ChainEventName } from '../envelope/index.ts';

/** What an RPC log carries (viem's `Log` fits). Hex may come in any case; it leaves lowercase. */
export interface RawLog {
  address: string;
  topics: readonly string[];
  data: string;
  blockNumber: bigint | number | null;
  blockHash: string | null;
  logIndex: number | null;
  transactionHash: string | null;
  transactionIndex: number | null;
}

/** What the log lacks: the block's timestamp and the transaction's sender, plus per-event enrichment. */
export interface LogContext {
  blockTimestampMs: number;
  txFrom: string;
  observedAt: number;
  enrichment?: unknown;
}

export type LogDecodeErrorCode =
  | 'UNKNOWN_TOPIC'
  | 'WRONG_ADDRESS'
  | 'BAD_TOPICS'
  | 'BAD_DATA'
  | 'PENDING_LOG'
  | 'INVALID';

export class LogDecodeError extends Error {
  override name = 'LogDecodeError';
  constructor(
    readonly code: LogDecodeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

type ParamKind = 'address' | 'uint' | 'level' | 'boostType' | 'u16' | 'secondsToMs';
interface ParamPlan {
  name: string;
  kind: ParamKind;
}
interface EventPlan {
  name: ChainEventName;
  contract: 'GhostCore' | 'TraceScan';
  signature: string;
  indexed: ParamPlan[];
  data: ParamPlan[];
}

function kindOf(eventName: string, param: { name?: string; type: string }): ParamKind {
  switch (param.type) {
    case 'address':
      return 'address';
    case 'uint256':
      return 'uint';
    case 'uint16':
      return 'u16';
    case 'uint64':
      // Every uint64 in these ABIs is a time in seconds (executedAt, finalizedAt, expiry).
      return 'secondsToMs';
    case 'uint8':
      return param.name === 'boostType' ? 'boostType' : 'level';
    default:
      throw new Error(`${eventName}.${param.name}: no decoder for ${param.type}`);
  }
}

function planOf(event: AbiEvent, contract: 'GhostCore' | 'TraceScan'): EventPlan {
  const params = event.inputs.map((p) => ({
    name: p.name ?? '',
    kind: kindOf(event.name, p),
    indexed: !!p.indexed,
  }));
  return {
    name: event.name as ChainEventName,
    contract,
    signature: toEventSignature(event),
    indexed: params.filter((p) => p.indexed),
    data: params.filter((p) => !p.indexed),
  };
}

/** topic0 → how to decode it. Built once from the ABIs, so the signatures live in one place. */
export const EVENT_PLANS: ReadonlyMap<string, EventPlan> = new Map(
  [
    ...ghostCoreEventsAbi.map((e) => planOf(e, 'GhostCore')),
    ...traceScanEventsAbi.map((e) => planOf(e, 'TraceScan')),
  ].map((plan) => [toEventSelector(plan.signature), plan]),
);

const HEX_WORDS = /^0x(?:[0-9a-f]{64})*$/;
const HASH = /^0x[0-9a-f]{64}$/;
const ADDRESS = /^0x[0-9a-f]{40}$/;
const ZERO_PAD_24 = '000000000000000000000000';
const MAX_SECONDS = BigInt(Math.floor(Number.MAX_SAFE_INTEGER / 1000));

function decodeWord(word: string, param: ParamPlan, eventName: string): string | number {
  switch (param.kind) {
    case 'address':
      if (!word.startsWith(ZERO_PAD_24)) throw bad(eventName, param, 'is not a left-padded address');
      return `0x${word.slice(24)}`;
    case 'uint':
      return BigInt(`0x${word}`).toString();
    case 'level': {
      const value = smallInt(word, 0xff, eventName, param);
      const level = LEVELS[value];
      if (!level || value === 0) throw bad(eventName, param, `is not a level (${value})`);
      return level;
    }
    case 'boostType': {
      const value = smallInt(word, 0xff, eventName, param);
      const type = BOOST_TYPES[value];
      if (!type) throw bad(eventName, param, `is not a boost type (${value})`);
      return type;
    }
    case 'u16':
      return smallInt(word, 0xffff, eventName, param);
    case 'secondsToMs': {
      const seconds = BigInt(`0x${word}`);
      if (seconds > 0xffffffffffffffffn) throw bad(eventName, param, 'overflows uint64');
      if (seconds > MAX_SECONDS) throw bad(eventName, param, 'is too far in the future to express in ms');
      return Number(seconds) * 1000;
    }
  }
}

function smallInt(word: string, max: number, eventName: string, param: ParamPlan): number {
  // Anything above 2^32 shows in the leading 56 hex chars; reject before parsing.
  if (!/^0{56}/.test(word)) throw bad(eventName, param, 'overflows its type');
  const value = Number.parseInt(word.slice(56), 16);
  if (value > max) throw bad(eventName, param, 'overflows its type');
  return value;
}

function bad(eventName: string, param: ParamPlan, what: string): LogDecodeError {
  return new LogDecodeError('BAD_DATA', `${eventName}.${param.name} ${what}`);
}

export interface LogDecoderOptions {
  chainId: number;
  addresses: { GhostCore: string; TraceScan: string };
}

/**
 * Builds a decoder from raw logs to validated envelopes. Hand-rolled over viem's decodeEventLog because every
 * parameter here is a static 32-byte word, and backfill decodes hundreds of thousands of logs: the plan is
 * derived from the same ABIs, and a test checks it against viem's own encoder and decoder.
 */
export function createLogDecoder(options: LogDecoderOptions) {
  const addresses = {
    GhostCore: options.addresses.GhostCore.toLowerCase(),
    TraceScan: options.addresses.TraceScan.toLowerCase(),
  };
  const { chainId } = options;

  return function decodeLog(log: RawLog, context: LogContext): ChainEnvelope {
    const topic0 = log.topics[0]?.toLowerCase();
    const plan = topic0 ? EVENT_PLANS.get(topic0) : undefined;
    if (!plan) throw new LogDecodeError('UNKNOWN_TOPIC', `unknown event topic ${topic0 ?? '(none)'}`);

    const address = log.address.toLowerCase();
    if (address !== addresses[plan.contract]) {
      throw new LogDecodeError(
        'WRONG_ADDRESS',
        `${plan.name} from ${address}, but ${plan.contract} is ${addresses[plan.contract]}`,
      );
    }
    if (log.topics.length !== plan.indexed.length + 1) {
      throw new LogDecodeError(
        'BAD_TOPICS',
        `${plan.name} needs ${plan.indexed.length + 1} topics, got ${log.topics.length}`,
      );
    }
    const data = log.data.toLowerCase();
    if (!HEX_WORDS.test(data) || data.length !== 2 + 64 * plan.data.length) {
      throw new LogDecodeError(
        'BAD_DATA',
        `${plan.name} needs ${32 * plan.data.length} bytes of data, got ${(data.length - 2) / 2}`,
      );
    }
    if (
      log.blockHash === null ||
      log.blockNumber === null ||
      log.logIndex === null ||
      log.transactionHash === null
    ) {
      throw new LogDecodeError('PENDING_LOG', `${plan.name} log is not in a block yet`);
    }

    const args: Record<string, string | number> = {};
    for (let i = 0; i < plan.indexed.length; i++) {
      const param = plan.indexed[i]!;
      const topic = log.topics[i + 1]!.toLowerCase();
      if (!HASH.test(topic))
        throw new LogDecodeError('BAD_TOPICS', `${plan.name}.${param.name} topic is not 32 bytes`);
      args[param.name] = decodeWord(topic.slice(2), param, plan.name);
    }
    for (let i = 0; i < plan.data.length; i++) {
      const param = plan.data[i]!;
      args[param.name] = decodeWord(data.slice(2 + 64 * i, 66 + 64 * i), param, plan.name);
    }

    const blockHash = log.blockHash.toLowerCase();
    const txFrom = context.txFrom.toLowerCase();
    if (!ADDRESS.test(txFrom))
      throw new LogDecodeError('INVALID', `transaction sender ${txFrom} is not an address`);
    const envelope = {
      v: 1,
      kind: 'chain',
      id: `${chainId}:${blockHash}:${log.logIndex}`,
      chainId,
      block: { number: Number(log.blockNumber), hash: blockHash, timestamp: context.blockTimestampMs },
      tx: { hash: log.transactionHash.toLowerCase(), index: log.transactionIndex ?? 0, from: txFrom },
      logIndex: log.logIndex,
      contract: plan.contract,
      address,
      name: plan.name,
      args,
      ...(context.enrichment === undefined ? {} : { enrichment: context.enrichment }),
      observedAt: context.observedAt,
    };
    const parsed = ChainEnvelope.safeParse(envelope);
    if (!parsed.success) {
      throw new LogDecodeError(
        'INVALID',
        `${plan.name} at ${envelope.id}: ${parsed.error.issues.map(describe).join('; ')}`,
      );
    }
    return parsed.data;
  };
}

function describe(issue: { path: PropertyKey[]; message: string }): string {
  return `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`;
}

export type LogDecoder = ReturnType<typeof createLogDecoder>;
