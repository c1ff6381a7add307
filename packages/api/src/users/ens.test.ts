import type { PublicClient } from 'viem';
import { describe, expect, it } from 'vitest';
import { createEnsResolver } from './ens.ts';

function fakeClient(answer: (address: string) => Promise<string | null>) {
  let calls = 0;
  const client = {
    getEnsName: ({ address }: { address: string }) => {
      calls++;
      return answer(address);
    },
  } as unknown as PublicClient;
  return { client, calls: () => calls };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const who = `0x${'12'.repeat(20)}`;

describe('ENS names', () => {
  it('is null without an RPC', async () => {
    expect(await createEnsResolver({}).nameOf(who)).toBeNull();
  });

  it('caches names, and absences', async () => {
    const fake = fakeClient(async (a) => (a === who ? 'ghost.eth' : null));
    const ens = createEnsResolver({ client: fake.client });
    expect(await ens.nameOf(who)).toBe('ghost.eth');
    expect(await ens.nameOf(who)).toBe('ghost.eth');
    expect(await ens.nameOf(`0x${'34'.repeat(20)}`)).toBeNull();
    await ens.nameOf(`0x${'34'.repeat(20)}`);
    expect(fake.calls()).toBe(2);
  });

  it('never waits longer than its time box; a slow answer serves the next request', async () => {
    let answered = false;
    const fake = fakeClient(async () => {
      await sleep(150);
      answered = true;
      return 'slow.eth';
    });
    const ens = createEnsResolver({ client: fake.client, timeoutMs: 30 });
    // Null before the slow answer came (not a wall-clock bound: a loaded machine delays both timers alike).
    expect(await ens.nameOf(who)).toBeNull();
    expect(answered).toBe(false);
    expect(await ens.nameOf(who)).toBeNull(); // still pending: shares the one lookup
    await sleep(200);
    expect(await ens.nameOf(who)).toBe('slow.eth');
    expect(fake.calls()).toBe(1);
  });

  it('a failing RPC yields null, not an error', async () => {
    const ens = createEnsResolver({
      client: fakeClient(async () => Promise.reject(new Error('down'))).client,
    });
    expect(await ens.nameOf(who)).toBeNull();
  });
});
