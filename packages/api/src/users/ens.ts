import { createPublicClient, http, type PublicClient } from 'viem';
import { mainnet } from 'viem/chains';

export interface EnsResolver {
  /** The primary ENS name of `address`, or null (none, no RPC configured, RPC slow or failing). */
  nameOf(address: string): Promise<string | null>;
}

export const noEns: EnsResolver = { nameOf: async () => null };

interface Entry {
  name: string | null;
  until: number;
  pending?: Promise<string | null>;
}

/**
 * ENS reverse lookups through an optional mainnet RPC. A profile never waits longer than `timeoutMs` for a
 * name: a slow lookup answers null now and fills the cache for the next request. Names (and their absence)
 * are cached for `ttlMs`; failures for a short time only.
 */
export function createEnsResolver(options: {
  rpcUrl?: string;
  client?: PublicClient;
  timeoutMs?: number;
  ttlMs?: number;
  maxEntries?: number;
}): EnsResolver {
  if (!options.rpcUrl && !options.client) return noEns;
  const client =
    options.client ??
    createPublicClient({ chain: mainnet, transport: http(options.rpcUrl, { timeout: 10_000 }) });
  const timeoutMs = options.timeoutMs ?? 300;
  const ttlMs = options.ttlMs ?? 3_600_000;
  const maxEntries = options.maxEntries ?? 50_000;
  const cache = new Map<string, Entry>();

  const lookup = (address: string): Promise<string | null> => {
    const pending = client
      .getEnsName({ address: address as `0x${string}` })
      .then((name) => {
        set(address, { name: name ?? null, until: Date.now() + ttlMs });
        return name ?? null;
      })
      .catch(() => {
        set(address, { name: null, until: Date.now() + 60_000 });
        return null;
      });
    set(address, { name: null, until: 0, pending });
    return pending;
  };

  const set = (address: string, entry: Entry) => {
    cache.delete(address);
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
    cache.set(address, entry);
  };

  return {
    async nameOf(address) {
      const entry = cache.get(address);
      if (entry && entry.until > Date.now()) return entry.name;
      const pending = entry?.pending ?? lookup(address);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), timeoutMs);
      });
      return Promise.race([pending, timeout]).finally(() => clearTimeout(timer));
    },
  };
}
