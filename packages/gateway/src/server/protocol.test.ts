import { issueSessionToken } from '@ghostnet/auth';
import { CloseCode } from '@ghostnet/client/protocol';
import { createTestStream, type TestStream } from '@ghostnet/test';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressOf, append, jackedIn } from '../test/envelopes.ts';
import { RawClient, startTestGateway, testKeyring, tokenFor } from '../test/harness.ts';

const user = addressOf(0x5150);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A client that authenticates, starts the feed and proves it receives a live event: "the server keeps serving". */
async function healthyClient(url: string, stream: TestStream, who = addressOf(0x77)) {
  const client = new RawClient(url);
  await client.opened;
  client.send({ type: 'AUTH', token: await tokenFor(who) });
  client.send({ type: 'RECONNECT', lastSequenceId: 0, epoch: stream.epoch });
  await client.next('REPLAY');
  const event = jackedIn(stream.chainId, who);
  await append(stream.js, stream.subjects, event);
  const deadline = Date.now() + 5_000;
  while (!client.frames.some((f) => f.type === 'FEED_EVENT' && f.event.id === event.id)) {
    if (Date.now() > deadline) throw new Error('healthy client got no live event');
    await new Promise((r) => setTimeout(r, 10));
  }
  client.close();
}

async function connected(url: string, options?: ConstructorParameters<typeof RawClient>[1]) {
  const client = new RawClient(url, options);
  await client.opened;
  return client;
}

describe('bad input: each gets its error or close code, and the server keeps serving', () => {
  let stream: TestStream;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;
  beforeAll(async () => {
    stream = await createTestStream();
    // The auth timeout leaves room for a loaded machine between a socket's open and its AUTH.
    gw = await startTestGateway(stream, { limits: { authTimeoutMs: 1_500, maxPayloadBytes: 4096 } });
  });
  afterAll(async () => {
    await gw?.stop();
    await stream?.destroy();
  });

  it('malformed JSON and unknown types: ERROR, the socket stays usable; too many: PROTOCOL_ERROR', async () => {
    const token = await tokenFor(user);
    const client = await connected(gw.url);
    client.send('{not json');
    expect(await client.next('ERROR')).toMatchObject({ code: 'MALFORMED_JSON' });
    client.send({ type: 'HELLO' });
    client.send({ nothing: true });
    client.send({ type: 'AUTH', token: 42 });
    const deadline = Date.now() + 5_000;
    while (client.frames.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(client.frames.map((f) => f.type === 'ERROR' && f.code)).toEqual([
      'MALFORMED_JSON',
      'UNKNOWN_TYPE',
      'UNKNOWN_TYPE',
      'INVALID_MESSAGE',
    ]);
    client.send({ type: 'AUTH', token });
    expect(await client.next('CONNECTION_STATE')).toMatchObject({ status: 'connected', address: user });
    for (let i = 0; i < 10; i++) client.send('[');
    expect((await client.closed).code).toBe(CloseCode.PROTOCOL_ERROR);
    await healthyClient(gw.url, stream);
  });

  it('an oversized frame is closed with 1009, a binary frame with PROTOCOL_ERROR', async () => {
    const big = await connected(gw.url);
    big.send({ type: 'AUTH', token: 'x'.repeat(5000) });
    expect((await big.closed).code).toBe(CloseCode.MESSAGE_TOO_BIG);
    expect(big.frames).toEqual([expect.objectContaining({ type: 'ERROR', code: 'MESSAGE_TOO_BIG' })]);
    const huge = await connected(gw.url);
    huge.send('x'.repeat(1024 * 1024));
    expect((await huge.closed).code).toBe(1006); // beyond uWS's own ceiling: dropped
    const binary = await connected(gw.url);
    binary.ws.send(Buffer.from([1, 2, 3]));
    expect((await binary.closed).code).toBe(CloseCode.PROTOCOL_ERROR);
    expect(binary.frames).toEqual([expect.objectContaining({ type: 'ERROR', code: 'BINARY_NOT_SUPPORTED' })]);
    await healthyClient(gw.url, stream);
  });

  it('AUTH with an expired, forged, alg:none, other-chain or garbage token: ERROR with the reason, then AUTH_FAILED', async () => {
    const expired = (
      await issueSessionToken(testKeyring, { address: user, chainId: 31337 }, Date.now() - 7200_000)
    ).token;
    // Same keys, a login on another chain (deployments sharing JWT keys): the API refuses it, so must we.
    const otherChain = (await issueSessionToken(testKeyring, { address: user, chainId: 1 })).token;
    const forged = await new SignJWT({ chainId: 31337 })
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .setSubject(user)
      .setIssuer('ghostnet-api')
      .setAudience('ghostnet')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('another-secret-that-is-also-32-characters!!'));
    const now = Math.floor(Date.now() / 1000);
    const algNone = `${b64({ alg: 'none', typ: 'JWT', kid: 'k1' })}.${b64({
      sub: user,
      iss: 'ghostnet-api',
      aud: 'ghostnet',
      iat: now,
      exp: now + 3600,
      chainId: 31337,
    })}.`;
    for (const [token, code] of [
      [expired, 'TOKEN_EXPIRED'],
      [forged, 'TOKEN_INVALID'],
      [algNone, 'TOKEN_INVALID'],
      [otherChain, 'TOKEN_INVALID'],
      ['garbage', 'TOKEN_MALFORMED'],
    ] as const) {
      const client = await connected(gw.url);
      client.send({ type: 'AUTH', token });
      client.send({ type: 'RECONNECT', lastSequenceId: null });
      expect((await client.closed).code, code).toBe(CloseCode.AUTH_FAILED);
      expect(client.frames, code).toEqual([expect.objectContaining({ type: 'ERROR', code })]);
    }
    await healthyClient(gw.url, stream);
  });

  it('frames before AUTH: NOT_AUTHENTICATED and PROTOCOL_ERROR; silence: AUTH_TIMEOUT', async () => {
    for (const frame of [{ type: 'RECONNECT', lastSequenceId: 1 }, { type: 'PING' }]) {
      const client = await connected(gw.url);
      client.send(frame);
      expect((await client.closed).code).toBe(CloseCode.PROTOCOL_ERROR);
      expect(client.frames).toEqual([expect.objectContaining({ type: 'ERROR', code: 'NOT_AUTHENTICATED' })]);
    }
    const silent = await connected(gw.url);
    const started = Date.now();
    expect((await silent.closed).code).toBe(CloseCode.AUTH_TIMEOUT);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
    expect(silent.frames).toEqual([expect.objectContaining({ type: 'ERROR', code: 'AUTH_TIMEOUT' })]);
    await healthyClient(gw.url, stream);
  });

  it('a 6th connection of one user: TOO_MANY_CONNECTIONS; a slot freed is taken again', async () => {
    const who = addressOf(0x6666);
    const token = await tokenFor(who);
    const five = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const c = await connected(gw.url);
        c.send({ type: 'AUTH', token });
        await c.next('CONNECTION_STATE');
        return c;
      }),
    );
    const sixth = await connected(gw.url);
    sixth.send({ type: 'AUTH', token });
    expect((await sixth.closed).code).toBe(CloseCode.TOO_MANY_CONNECTIONS);
    expect(sixth.frames).toEqual([expect.objectContaining({ type: 'ERROR', code: 'TOO_MANY_CONNECTIONS' })]);
    five[0]!.close();
    await five[0]!.closed;
    // The lease release is asynchronous (a KV update): until it lands a new socket may still be refused.
    let again = await connected(gw.url);
    again.send({ type: 'AUTH', token });
    for (let tries = 1; ; tries++) {
      const state = await again.next('CONNECTION_STATE').then(
        (f) => f.status,
        () => 'closed',
      );
      if (state === 'connected') break;
      expect((await again.closed).code).toBe(CloseCode.TOO_MANY_CONNECTIONS);
      expect(tries, 'the freed slot is taken again within 10 tries').toBeLessThan(10);
      await new Promise((r) => setTimeout(r, 200));
      again = await connected(gw.url);
      again.send({ type: 'AUTH', token });
    }
    for (const c of [...five.slice(1), again]) c.close();
    await healthyClient(gw.url, stream);
  });

  it('AUTH twice, RECONNECT twice: ERROR, socket kept', async () => {
    const client = await connected(gw.url);
    const token = await tokenFor(addressOf(0x99));
    client.send({ type: 'AUTH', token });
    client.send({ type: 'AUTH', token });
    client.send({ type: 'RECONNECT', lastSequenceId: null });
    client.send({ type: 'RECONNECT', lastSequenceId: null });
    await client.next('REPLAY');
    await new Promise((r) => setTimeout(r, 100));
    const errors = client.frames.flatMap((f) => (f.type === 'ERROR' ? [f.code] : []));
    expect(errors).toEqual(['ALREADY_AUTHENTICATED', 'ALREADY_SUBSCRIBED']);
    client.send({ type: 'PING' });
    expect(await client.next('PONG')).toMatchObject({ sequenceId: expect.any(Number) });
    client.close();
  });

  it('repeated AUTH/RECONNECT count as invalid frames: PROTOCOL_ERROR after too many', async () => {
    const client = await connected(gw.url);
    const token = await tokenFor(addressOf(0x98));
    client.send({ type: 'AUTH', token });
    client.send({ type: 'RECONNECT', lastSequenceId: null });
    await client.next('REPLAY');
    const errors = () => client.frames.filter((f) => f.type === 'ERROR');
    for (let i = 0; i < 11 && client.ws.readyState === client.ws.OPEN; i++) {
      client.send(i % 2 ? { type: 'RECONNECT', lastSequenceId: null } : { type: 'AUTH', token });
      const deadline = Date.now() + 5_000;
      while (errors().length <= i && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    }
    expect((await closedWithin(client, 3_000)).code).toBe(CloseCode.PROTOCOL_ERROR);
    expect(errors().map((f) => f.type === 'ERROR' && f.code)).toEqual(
      Array.from({ length: 11 }, (_, i) => (i % 2 ? 'ALREADY_SUBSCRIBED' : 'ALREADY_AUTHENTICATED')),
    );
    await healthyClient(gw.url, stream);
  });

  it('a PING flood is answered only up to the rate, the excess counts as invalid frames: PROTOCOL_ERROR', async () => {
    const client = await connected(gw.url);
    client.send({ type: 'AUTH', token: await tokenFor(addressOf(0x97)) });
    client.send({ type: 'RECONNECT', lastSequenceId: null });
    await client.next('REPLAY');
    for (let i = 0; i < 1_000; i++) client.ws.send('{"type":"PING"}');
    expect((await closedWithin(client, 5_000)).code).toBe(CloseCode.PROTOCOL_ERROR);
    const pongs = client.frames.filter((f) => f.type === 'PONG').length;
    expect(pongs).toBeGreaterThan(0);
    expect(pongs).toBeLessThanOrEqual(20);
    expect(client.frames.at(-1)).toMatchObject({ type: 'ERROR', code: 'TOO_MANY_REQUESTS' });
    await healthyClient(gw.url, stream);
  });
});

async function closedWithin(client: RawClient, ms: number): Promise<{ code: number; reason: string }> {
  return Promise.race([
    client.closed,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`still open after ${ms} ms`)), ms).unref(),
    ),
  ]);
}

describe('browser sessions: the API cookie on the upgrade, checked against the Origin allow-list', () => {
  let stream: TestStream;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;
  beforeAll(async () => {
    stream = await createTestStream();
    gw = await startTestGateway(stream);
  });
  afterAll(async () => {
    await gw?.stop();
    await stream?.destroy();
  });

  it('authenticates from the cookie without AUTH when the Origin is allowed', async () => {
    const client = await connected(gw.url, {
      headers: {
        origin: 'https://ghostnet.test',
        cookie: `other=1; ghostnet_session=${await tokenFor(user)}`,
      },
    });
    client.send({ type: 'RECONNECT', lastSequenceId: null });
    expect(await client.next('CONNECTION_STATE')).toMatchObject({ status: 'connected', address: user });
    await client.next('REPLAY');
    client.close();
  });

  it('refuses the upgrade from an origin not on the list (cookies ride along cross-site)', async () => {
    const client = new RawClient(gw.url, {
      headers: { origin: 'https://evil.example', cookie: `ghostnet_session=${await tokenFor(user)}` },
    });
    await expect(client.opened).rejects.toThrow(/403/);
  });

  it('an invalid cookie fails like a bad AUTH', async () => {
    const client = await connected(gw.url, {
      headers: { origin: 'https://ghostnet.test', cookie: 'ghostnet_session=nope' },
    });
    expect((await client.closed).code).toBe(CloseCode.AUTH_FAILED);
  });
});

describe('a fresh deployment', () => {
  it('an empty stream gets an empty snapshot at sequence 0 (no projector state to wait for), then live', async () => {
    const stream = await createTestStream();
    const gw = await startTestGateway(stream, {
      snapshots: {
        ...(await import('../test/harness.ts')).streamHeadSnapshots(stream),
        readSnapshot: () => Promise.reject(new Error('projector has not started')),
      },
    });
    try {
      const client = await connected(gw.url);
      client.send({ type: 'AUTH', token: await tokenFor(user) });
      client.send({ type: 'RECONNECT', lastSequenceId: null });
      expect(await client.next('FULL_SYNC')).toMatchObject({
        snapshot: { sequence: 0, epoch: stream.epoch },
      });
      expect(await client.next('REPLAY')).toMatchObject({ fromSequenceId: 0, toSequenceId: 0 });
      const event = jackedIn(stream.chainId, user);
      await append(stream.js, stream.subjects, event);
      expect(await client.next('FEED_EVENT')).toMatchObject({ sequenceId: 1, event: { id: event.id } });
      client.close();
    } finally {
      await gw.stop();
      await stream.destroy();
    }
  });
});

describe('anonymous public feed (off by default)', () => {
  it('serves RECONNECT without AUTH only when allowed', async () => {
    const stream = await createTestStream();
    const open = await startTestGateway(stream, { allowAnonymousFeed: true });
    try {
      const client = await connected(open.url);
      client.send({ type: 'RECONNECT', lastSequenceId: null });
      await client.next('REPLAY');
      client.send({ type: 'PING' });
      await client.next('PONG');
      client.close();
    } finally {
      await open.stop();
      await stream.destroy();
    }
  });
});

describe('sessions end', () => {
  it('closes a socket when its token expires (SESSION_EXPIRED), and on shutdown tells clients then SERVER_SHUTDOWN', async () => {
    const stream = await createTestStream();
    const gw = await startTestGateway(stream);
    try {
      // exp is a whole second: 2 s leaves at least one for AUTH to be checked before it passes.
      const shortLived = (
        await issueSessionToken({ ...testKeyring, ttlSeconds: 2 }, { address: user, chainId: 31337 })
      ).token;
      const expiring = await connected(gw.url);
      expiring.send({ type: 'AUTH', token: shortLived });
      await expiring.next('CONNECTION_STATE');
      const staying = await connected(gw.url);
      staying.send({ type: 'AUTH', token: await tokenFor(addressOf(0x42)) });
      staying.send({ type: 'RECONNECT', lastSequenceId: null });
      await staying.next('REPLAY');
      expect((await expiring.closed).code).toBe(CloseCode.SESSION_EXPIRED);
      await gw.gateway.stop();
      expect((await staying.closed).code).toBe(CloseCode.SERVER_SHUTDOWN);
      expect(staying.frames.at(-1)).toMatchObject({ type: 'CONNECTION_STATE', status: 'reconnecting' });
    } finally {
      await gw.stop();
      await stream.destroy();
    }
  });
});
