/**
 * The rotation runbooks of infra/README.md, step by step, against the real mechanisms: the JWT keyring of
 * packages/auth, and GhostCore's setBoostSigner on anvil.
 */
import { Secret } from '@ghostnet/config';
import {
  anvilAccount,
  BoostType,
  DEV_ACCOUNT_ROLES,
  deployGhostnet,
  ghostCoreAbi,
  signBoost,
} from '@ghostnet/contracts';
import { connectNats, ensureStream, streamConfigFor } from '@ghostnet/stream';
import { type Anvil, sendContractCall, startAnvil, waitFor } from '@ghostnet/test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import {
  type Address,
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  type Hex,
  http,
  keccak256,
  type LocalAccount,
  parseEther,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { foundry } from 'viem/chains';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueSessionToken, keyringFromEnv, verifySessionToken } from '../packages/auth/src/index.ts';
import { generatePasswords, startSecuredNats } from './nats/securedServer.ts';

describe('runbook: rotating the JWT signing keys', () => {
  const OLD = `old:${'o'.repeat(40)}`;
  const NEW = `new:${'n'.repeat(40)}`;
  const ring = (keys: string, active: string) =>
    keyringFromEnv({
      JWT_KEYS: new Secret(keys),
      JWT_ACTIVE_KID: active,
      JWT_ISSUER: 'ghostnet-api',
      JWT_AUDIENCE: 'ghostnet',
      JWT_TTL_SECONDS: 24 * 3600,
    });
  const user = { address: `0x${'ab'.repeat(20)}`, chainId: 6343 };

  it('logs nobody out: add the key everywhere, then sign with it, then drop the old one after a token lifetime', async () => {
    const t0 = Date.now();
    const before = ring(OLD, 'old'); // api and gateways today
    const step1 = ring(`${OLD},${NEW}`, 'old'); // 1. every api and gateway knows both keys, signs with old
    const step2 = ring(`${OLD},${NEW}`, 'new'); // 2. the api signs with new
    const step3 = ring(NEW, 'new'); // 3. after JWT_TTL_SECONDS, old dropped

    const oldToken = (await issueSessionToken(before, user, t0)).token;
    // During step 1 a mixed fleet (some pods rolled, some not) accepts every token either issues.
    const step1Token = (await issueSessionToken(step1, user, t0)).token;
    for (const verifier of [before, step1]) {
      await expect(verifySessionToken(verifier, oldToken, t0)).resolves.toMatchObject({ sub: user.address });
      await expect(verifySessionToken(verifier, step1Token, t0)).resolves.toMatchObject({
        sub: user.address,
      });
    }
    // Step 2: new tokens are accepted by every gateway already on step 1; old sessions still work.
    const newToken = (await issueSessionToken(step2, user, t0)).token;
    for (const verifier of [step1, step2]) {
      await expect(verifySessionToken(verifier, newToken, t0)).resolves.toMatchObject({ sub: user.address });
      await expect(verifySessionToken(verifier, oldToken, t0)).resolves.toMatchObject({ sub: user.address });
    }
    // Skipping step 1 is what logs people out: a gateway without the new key refuses new tokens.
    await expect(verifySessionToken(before, newToken, t0)).rejects.toMatchObject({ code: 'TOKEN_INVALID' });
    // Step 3, one token lifetime later: every old-key token has expired anyway; new ones still verify.
    const later = t0 + 24 * 3600 * 1000 + 1000;
    await expect(verifySessionToken(step2, oldToken, later)).rejects.toMatchObject({ code: 'TOKEN_EXPIRED' });
    await expect(verifySessionToken(step3, oldToken, t0)).rejects.toMatchObject({ code: 'TOKEN_INVALID' });
    const fresh = (await issueSessionToken(step3, user, later)).token;
    await expect(verifySessionToken(step3, fresh, later)).resolves.toMatchObject({ sub: user.address });
  });
});

describe('runbook: rotating the boost signer (GhostCore.setBoostSigner on anvil)', () => {
  let anvil: Anvil;
  let ghostCore: Address;
  let chainId: number;
  const owner = anvilAccount(DEV_ACCOUNT_ROLES.deployer);
  const oldSigner = anvilAccount(DEV_ACCOUNT_ROLES.boostSigner);
  const newSigner = privateKeyToAccount(keccak256('0x6e6577207369676e6572'));
  const player = privateKeyToAccount(keccak256('0x706c61796572'));
  const client = () => createPublicClient({ chain: foundry, transport: http(anvil.rpcUrl) });

  const send = (account: LocalAccount, functionName: string, args: readonly unknown[]) =>
    sendContractCall(anvil.rpcUrl, account, { address: ghostCore, abi: ghostCoreAbi, functionName, args });

  /** What the player's wallet gets from applyBoost: null on success, else the custom error's name. */
  async function submit(signer: LocalAccount, nonce: Hex): Promise<string | null> {
    const block = await client().getBlock();
    const expiry = block.timestamp + 3600n;
    const message = {
      user: player.address,
      boostType: BoostType.DEATH_REDUCTION,
      valueBps: 500,
      expiry,
      nonce,
    };
    const signature = await signBoost({ signer, chainId, ghostCore, message });
    try {
      await send(player, 'applyBoost', [message.boostType, message.valueBps, expiry, nonce, signature]);
      return null;
    } catch (error) {
      const revert =
        error instanceof BaseError ? error.walk((e) => e instanceof ContractFunctionRevertedError) : null;
      if (revert instanceof ContractFunctionRevertedError)
        return `${revert.data?.errorName} ${revert.raw?.slice(0, 10)}`;
      throw error;
    }
  }

  beforeAll(async () => {
    anvil = await startAnvil();
    const deployment = await deployGhostnet({
      rpcUrl: anvil.rpcUrl,
      fund: { accounts: [player], amount: 1_000n * 10n ** 18n, eth: parseEther('10') },
    });
    ghostCore = deployment.addresses.GhostCore;
    chainId = deployment.chainId;
    await send(player, 'jackIn', [100n * 10n ** 18n, 3]);
  });
  afterAll(async () => {
    await anvil?.stop();
  });

  it('one signer at a time: after the switch, old signatures revert InvalidSignature and their nonces stay unused', async () => {
    const nonce = (n: number) => `0x${n.toString(16).padStart(64, '0')}` as Hex;
    expect(await submit(oldSigner, nonce(1))).toBeNull();
    // Signing with the new key before setBoostSigner lands fails the same way (why the API switches after).
    expect(await submit(newSigner, nonce(2))).toBe('InvalidSignature 0x8baa579f');

    await send(owner, 'setBoostSigner', [newSigner.address]);
    expect(
      (await client().readContract({
        address: ghostCore,
        abi: ghostCoreAbi,
        functionName: 'boostSigner',
      })) as string,
    ).toBe(newSigner.address);

    // A signature the old key issued before the switch and the player submits after it: no overlap on chain.
    expect(await submit(oldSigner, nonce(3))).toBe('InvalidSignature 0x8baa579f');
    // The failed attempt consumed nothing: the same nonce, re-signed by the new key, applies.
    expect(await submit(newSigner, nonce(3))).toBeNull();
    // Nonces applied before the switch stay used.
    expect(await submit(newSigner, nonce(1))).toBe('NonceAlreadyUsed 0x1fb09b80');
  });
});

describe('runbook: rotating a NATS password (restart the servers with it, then the app)', () => {
  it('keeps the stream; an app still on the old password is refused and its client gives up, so it must restart', async () => {
    const server = await startSecuredNats();
    try {
      // The app as it connects in production: connectNats (unlimited reconnects).
      const app = await connectNats({
        url: server.url,
        name: 'ingester',
        user: 'ingester',
        password: new Secret(server.passwords.NATS_INGESTER_PASSWORD),
      });
      const jsm = await jetstreamManager(app);
      await ensureStream(jsm, streamConfigFor({ name: 'GHOSTNET', subjectRoot: 'ghostnet.6343' }));
      await jetstream(app).publish('ghostnet.6343.control.reorg', '{}', { msgID: 'before-rotation' });
      const oldPassword = server.passwords.NATS_INGESTER_PASSWORD;
      const closed = app.closed();

      // 1. The Secret gets a new ingester password; the servers restart (a rolling restart in the cluster).
      const { NATS_INGESTER_PASSWORD } = generatePasswords();
      await server.restart({ NATS_INGESTER_PASSWORD });

      // The running app reconnects with the old password: refused, and the client stops trying after
      // repeated authorization errors (nats.js), so the app must be restarted with the new one.
      const reason = await Promise.race([
        closed,
        new Promise((r) => setTimeout(() => r('still open'), 10_000)),
      ]);
      expect(String(reason)).toMatch(/authorization/i);
      await expect(server.connectAs('ingester', oldPassword)).rejects.toThrow(/authorization/i);

      // 2. The app restarts with the new password and carries on where the stream is.
      const restarted = await connectNats({
        url: server.url,
        name: 'ingester',
        user: 'ingester',
        password: new Secret(NATS_INGESTER_PASSWORD),
      });
      await waitFor('connected', async () => !restarted.isClosed());
      const ack = await jetstream(restarted).publish('ghostnet.6343.control.reorg', '{}', {
        msgID: 'after-rotation',
      });
      expect(ack.seq).toBe(2);
      await restarted.close();
      // Other users were not touched.
      const api = await server.connectAs('api');
      await api.close();
    } finally {
      await server.stop();
    }
  });
});
