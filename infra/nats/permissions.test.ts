import { spawnSync } from 'node:child_process';
import { createLogDecoder, createSubjects, ghostCoreEventsAbi, type StreamMessage } from '@ghostnet/events';
import { ConnectionLimiter, openConnectionsBucket } from '@ghostnet/gateway';
import { Appender } from '@ghostnet/ingest';
import { createLogger } from '@ghostnet/logger';
import { ensureStream, readRange, streamConfigFor } from '@ghostnet/stream';
import { encodeTestLog, NATS_SERVER_BIN } from '@ghostnet/test';
import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  ReplayPolicy,
} from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { type NatsConnection, nanos } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCliEnv } from '../../apps/cli/src/env.ts';
import { replay, status, streamInfo } from '../../apps/cli/src/stream.ts';
import {
  NATS_SERVER_CONFIG,
  NATS_USERS,
  type NatsUser,
  type SecuredNats,
  startSecuredNats,
} from './securedServer.ts';

const CHAIN_ID = 6343;
const STREAM = 'GHOSTNET';
const BUCKET = 'gateway_connections';
const subjects = createSubjects(CHAIN_ID, 'ghostnet');
const logger = createLogger({ name: 'nats-permissions-test', level: 'silent' });
const GHOST_CORE = `0x${'01'.repeat(20)}`;
const decode = createLogDecoder({
  chainId: CHAIN_ID,
  addresses: { GhostCore: GHOST_CORE, TraceScan: `0x${'02'.repeat(20)}` },
});

function chainEnvelope(block: number): StreamMessage {
  const event = ghostCoreEventsAbi.find((e) => e.name === 'JackedIn')!;
  return decode(
    encodeTestLog(
      event,
      GHOST_CORE,
      {},
      { blockNumber: BigInt(block), blockHash: `0x${block.toString(16).padStart(64, '0')}` },
    ),
    { blockTimestampMs: 1_700_000_000_000 + block, txFrom: `0x${'03'.repeat(20)}`, observedAt: Date.now() },
  );
}

interface Session {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

/** Expects a permissions violation, not a timeout or any other failure. */
async function denied(what: Promise<unknown> | (() => Promise<unknown>)) {
  const promise = typeof what === 'function' ? what() : what;
  const error = await promise.then(
    () => null,
    (e: unknown) => e as Error & { cause?: unknown },
  );
  expect(error, 'the operation succeeded but must be denied').not.toBeNull();
  expect(`${error!.name}: ${error!.message} ${String(error!.cause ?? '')}`).toMatch(/permission/i);
}

/**
 * Core NATS publishes and subscriptions get no reply: the server answers a denied one with an asynchronous
 * `-ERR 'Permissions Violation for <Publish|Subscription> to "<subject>"'` on the connection.
 */
async function coreDenied(nc: NatsConnection, operation: 'publish' | 'subscribe', subject: string) {
  const statuses = nc.status();
  const seen = (async () => {
    for await (const s of statuses) {
      const text = s.type === 'error' ? String(s.error) : '';
      if (/permission/i.test(text) && text.includes(`"${subject}"`)) return true;
    }
    return false;
  })();
  if (operation === 'publish') nc.publish(subject, 'forged');
  else nc.subscribe(subject);
  await nc.flush();
  const result = await Promise.race([seen, new Promise((r) => setTimeout(() => r(false), 2_000))]);
  expect(result, `no permissions violation for ${operation} on ${subject}`).toBe(true);
}

describe('infra/nats: least-privilege users on a real nats-server', () => {
  let server: SecuredNats;
  const sessions = new Map<NatsUser, Session>();
  const as = (user: NatsUser) => sessions.get(user)!;
  const messages = async () => (await as('admin').jsm.streams.info(STREAM)).state.messages;

  beforeAll(async () => {
    server = await startSecuredNats();
    for (const user of ['ingester', 'api', 'projector', 'gateway', 'ops', 'admin'] as const) {
      const nc = await server.connectAs(user);
      sessions.set(user, {
        nc,
        js: jetstream(nc, { timeout: 3_000 }),
        jsm: await jetstreamManager(nc, { timeout: 3_000 }),
      });
    }
  });
  afterAll(async () => {
    for (const { nc } of sessions.values()) await nc.close().catch(() => {});
    await server?.stop();
  });

  describe('connecting', () => {
    it('refuses an anonymous client and a wrong password', async () => {
      const { connect } = await import('@nats-io/transport-node');
      await expect(connect({ servers: server.url, maxReconnectAttempts: 0, timeout: 2_000 })).rejects.toThrow(
        /authorization/i,
      );
      await expect(server.connectAs('api', 'pwrong-password')).rejects.toThrow(/authorization/i);
      // Passwords are per user: the projector's password does not open the ingester.
      await expect(server.connectAs('ingester', server.passwords.NATS_PROJECTOR_PASSWORD)).rejects.toThrow(
        /authorization/i,
      );
    });

    it('refuses to start when a password variable is missing (no default secret)', () => {
      const env = { ...process.env, ...server.passwords };
      delete (env as Record<string, string | undefined>).NATS_API_PASSWORD;
      const result = spawnSync(NATS_SERVER_BIN, ['-t', '-c', NATS_SERVER_CONFIG], { env, encoding: 'utf8' });
      expect(result.status).not.toBe(0);
      expect(result.stderr + result.stdout).toMatch(/NATS_API_PASSWORD/);
      const ok = spawnSync(NATS_SERVER_BIN, ['-t', '-c', NATS_SERVER_CONFIG], {
        env: { ...process.env, ...server.passwords },
        encoding: 'utf8',
      });
      expect(ok.status, ok.stderr).toBe(0);
      expect(Object.keys(server.passwords).sort()).toEqual(Object.values(NATS_USERS).sort());
    });
  });

  describe('ingester', () => {
    it('creates the stream from infra/nats/stream.json and appends chain events and reorg notices', async () => {
      const { js, jsm } = as('ingester');
      const ensured = await ensureStream(jsm, streamConfigFor({ name: STREAM, subjectRoot: subjects.root }));
      expect(ensured.created).toBe(true);
      expect(ensured.drift).toEqual([]);
      // The ingester's own append path: Nats-Msg-Id plus expected-last-sequence/-id headers.
      const appender = new Appender(js, jsm, STREAM, subjects);
      await appender.sync();
      const events = [chainEnvelope(1), chainEnvelope(2), chainEnvelope(3)];
      const { sequences } = await appender.append(events);
      expect(sequences).toEqual([1, 2, 3]);
      const reorg: StreamMessage = {
        v: 1,
        kind: 'reorg',
        id: `${CHAIN_ID}:reorg:0x${'00'.repeat(31)}01:3`,
        chainId: CHAIN_ID,
        commonAncestor: { number: 2, hash: `0x${'00'.repeat(31)}02` },
        depth: 1,
        orphanedSequences: [3],
        observedAt: Date.now(),
      };
      expect((await appender.append([reorg])).sequences).toEqual([4]);
      // Resync reads the stream backwards by sequence.
      const stored = await jsm.streams.getMessage(STREAM, { seq: 2 });
      expect(stored?.subject).toBe(subjects.of(events[1]!));
      expect((await jsm.direct.getMessage(STREAM, { seq: 4 }))?.subject).toBe(subjects.reorg);
      expect(await messages()).toBe(4);
    });

    it('may not publish app or derived subjects, nor change or remove the stream', async () => {
      const { nc, js, jsm } = as('ingester');
      await denied(js.publish(subjects.app('CrewEvent'), '{}', { msgID: 'forged-app' }));
      await denied(js.publish(subjects.derived('ScanWarning'), '{}'));
      await denied(jsm.streams.delete(STREAM));
      await denied(jsm.streams.purge(STREAM));
      await denied(jsm.streams.deleteMessage(STREAM, 1));
      await denied(async () => {
        const info = await jsm.streams.info(STREAM);
        await jsm.streams.update(STREAM, { ...info.config, deny_delete: false });
      });
      await denied(jsm.streams.add({ name: 'OTHER', subjects: ['other.>'] }));
      await denied(
        jsm.consumers.add(STREAM, { durable_name: 'ingester_reader', ack_policy: AckPolicy.None }),
      );
      await coreDenied(nc, 'publish', subjects.app('MinigameResult'));
      // Reading subjects directly (around JetStream) is not needed and not allowed.
      await coreDenied(nc, 'subscribe', subjects.all);
      expect(await messages()).toBe(4);
    });
  });

  describe('api', () => {
    it('publishes app events through the outbox path and reads the app subjects back', async () => {
      const { js, jsm } = as('api');
      const before = await messages();
      const envelope = JSON.stringify({ kind: 'app', id: 'crew-event-1' });
      const ack = await js.publish(subjects.app('CrewEvent'), envelope, {
        msgID: 'crew-event-1',
        expect: { streamName: STREAM },
      });
      expect(ack.seq).toBe(before + 1);
      expect((await jsm.streams.info(STREAM)).config.duplicate_window).toBeGreaterThan(0);
      // The outbox's "already in the stream?" check: an ordered consumer filtered to the app subjects.
      const consumer = await js.consumers.get(STREAM, {
        filter_subjects: subjects.appAll,
        deliver_policy: DeliverPolicy.StartTime,
        opt_start_time: new Date(Date.now() - 60_000).toISOString(),
        headers_only: true,
      });
      const found = new Map<string, number>();
      for await (const m of await consumer.fetch({ max_messages: 500, expires: 1_000 })) {
        found.set(m.headers?.get('Nats-Msg-Id') ?? '', m.seq);
        if (m.info.pending === 0) break;
      }
      await consumer.delete();
      expect(found.get('crew-event-1')).toBe(ack.seq);
    });

    it('may not publish chain events or reorg notices, read chain events, or manage the stream', async () => {
      const { nc, js, jsm } = as('api');
      const before = await messages();
      await denied(js.publish(subjects.chain('JackedIn'), '{}', { msgID: 'forged-chain' }));
      await denied(js.publish(subjects.reorg, '{}'));
      await denied(js.publish(subjects.derived('ScanWarning'), '{}'));
      await coreDenied(nc, 'publish', subjects.chain('Extracted'));
      // Consumers only over app subjects: neither an unfiltered one nor one over chain events.
      await denied(jsm.consumers.add(STREAM, { name: 'api_all', ack_policy: AckPolicy.None }));
      await denied(
        jsm.consumers.add(STREAM, {
          name: 'api_chain',
          ack_policy: AckPolicy.None,
          filter_subject: subjects.chainAll,
        }),
      );
      await denied(jsm.streams.add(streamConfigFor({ name: 'GHOSTNET2', subjectRoot: 'ghostnet.1' })));
      await denied(jsm.streams.delete(STREAM));
      await denied(jsm.streams.purge(STREAM));
      await denied(new Kvm(js).create('api_cache'));
      await coreDenied(nc, 'subscribe', subjects.appAll);
      expect(await messages()).toBe(before);
    });
  });

  describe('projector', () => {
    it('runs a durable consumer per projection: create at a sequence, pull, ack, look up, delete', async () => {
      const { js, jsm } = as('projector');
      const last = (await jsm.streams.info(STREAM)).state.last_seq;
      const durable = 'projection_feed_v1';
      // The worker's consumer config (packages/projections runtime/worker.ts #openConsumer).
      await jsm.consumers.delete(STREAM, durable).catch(() => {});
      await jsm.consumers.add(STREAM, {
        durable_name: durable,
        ack_policy: AckPolicy.All,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: 2,
        replay_policy: ReplayPolicy.Instant,
        ack_wait: nanos(300_000),
        max_deliver: -1,
        max_ack_pending: 50_000,
      });
      const consumer = await js.consumers.get(STREAM, durable);
      const messagesIn = await consumer.consume({ max_messages: 256, abort_on_missing_resource: true });
      const seen: number[] = [];
      for await (const m of messagesIn) {
        seen.push(m.seq);
        if (m.seq === last) {
          await m.ackAck();
          break;
        }
      }
      await messagesIn.close();
      expect(seen).toEqual(Array.from({ length: last - 1 }, (_, i) => i + 2));
      expect((await jsm.consumers.info(STREAM, durable)).ack_floor.stream_seq).toBe(last);
      const names: string[] = [];
      for await (const c of jsm.consumers.list(STREAM)) names.push(c.name);
      expect(names).toContain(durable);
      await jsm.consumers.delete(STREAM, durable);
    });

    it('reads by subject with direct gets and publishes derived events', async () => {
      const { js, jsm } = as('projector');
      const before = await messages();
      // The worker's preload of reorg notices ahead of its checkpoint.
      const notice = await jsm.direct.getMessage(STREAM, { seq: 1, next_by_subj: subjects.reorg });
      expect(notice?.subject).toBe(subjects.reorg);
      // The survivors publisher: its cursor, a source event by sequence, then its message.
      expect(
        await jsm.direct.getMessage(STREAM, { last_by_subj: subjects.derived('ScanSurvivors') }),
      ).toBeNull();
      expect((await jsm.direct.getMessage(STREAM, { seq: 1 }))?.seq).toBe(1);
      const ack = await js.publish(subjects.derived('ScanSurvivors'), '{}', { msgID: 'derived-1' });
      expect(ack.seq).toBe(before + 1);
      const last = await jsm.direct.getMessage(STREAM, { last_by_subj: subjects.derived('ScanSurvivors') });
      expect(last?.seq).toBe(ack.seq);
    });

    it("publishes nothing else into the stream, cannot touch the stream or the gateways' KV", async () => {
      const { nc, js, jsm } = as('projector');
      const before = await messages();
      await denied(js.publish(subjects.derived('ScanWarning'), '{}'));
      await denied(js.publish(subjects.chain('JackedIn'), '{}'));
      await denied(js.publish(subjects.app('CrewEvent'), '{}'));
      await denied(js.publish(subjects.reorg, '{}'));
      await coreDenied(nc, 'publish', subjects.chain('JackedIn'));
      await coreDenied(nc, 'publish', `$KV.${BUCKET}.0xabc`);
      await denied(jsm.streams.delete(STREAM));
      await denied(jsm.streams.purge(STREAM));
      await denied(jsm.streams.deleteMessage(STREAM, 1));
      await denied(async () => {
        const info = await jsm.streams.info(STREAM);
        await jsm.streams.update(STREAM, { ...info.config, max_msgs: 10 });
      });
      await denied(new Kvm(js).open(BUCKET).then((kv) => kv.put('0xabc', 'x')));
      expect(await messages()).toBe(before);
    });
  });

  describe('gateway', () => {
    it('keeps connection leases in its KV bucket, follows the stream and replays a range', async () => {
      const { js, jsm } = as('gateway');
      const kv = await openConnectionsBucket(js, BUCKET, 5_000);
      const limiter = new ConnectionLimiter({ kv, max: 2, leaseMs: 5_000, logger });
      const user = `0x${'0a'.repeat(20)}`;
      expect(await limiter.acquire(user, 'c1')).toBe(true);
      expect(await limiter.acquire(user, 'c2')).toBe(true);
      expect(await limiter.acquire(user, 'c3')).toBe(false);
      await limiter.renew(user, ['c1', 'c2']);
      await limiter.release(user, 'c1');
      expect(await limiter.count(user)).toBe(1);

      const last = (await jsm.streams.info(STREAM)).state.last_seq;
      // The feed follower: an ordered consumer from a start sequence, no acks.
      const follower = await js.consumers.get(STREAM, {
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: 1,
      });
      const live = await follower.consume({ max_messages: 1000 });
      const followed: number[] = [];
      for await (const m of live) {
        followed.push(m.seq);
        if (m.seq === last) break;
      }
      await live.close();
      expect(followed).toEqual(Array.from({ length: last }, (_, i) => i + 1));
      // Gap replay.
      const replayed: number[] = [];
      for await (const m of readRange(js, STREAM, 2, 4)) replayed.push(m.seq);
      expect(replayed).toEqual([2, 3, 4]);
    });

    it('is read-only on the stream and can touch no other bucket', async () => {
      const { nc, js, jsm } = as('gateway');
      const before = await messages();
      await denied(js.publish(subjects.chain('JackedIn'), '{}'));
      await denied(js.publish(subjects.app('CrewEvent'), '{}'));
      await coreDenied(nc, 'publish', subjects.reorg);
      await denied(jsm.streams.delete(STREAM));
      await denied(jsm.streams.delete(`KV_${BUCKET}`));
      await denied(jsm.streams.purge(`KV_${BUCKET}`));
      await denied(new Kvm(js).create('other_bucket'));
      await coreDenied(nc, 'publish', '$KV.other_bucket.key');
      await coreDenied(nc, 'subscribe', `$KV.${BUCKET}.>`);
      expect(await messages()).toBe(before);
    });
  });

  describe('ops and admin', () => {
    it('ops reads everything the ops CLI shows and changes nothing', async () => {
      const { nc, js, jsm } = as('ops');
      const streams: string[] = [];
      for await (const info of jsm.streams.list()) streams.push(info.config.name);
      expect(streams.sort()).toEqual([STREAM, `KV_${BUCKET}`]);
      expect((await jsm.streams.getMessage(STREAM, { seq: 1 }))?.subject).toMatch(/\.chain\./);
      for await (const _ of jsm.consumers.list(STREAM)) {
        // listing works; there may be none
      }
      const read: number[] = [];
      for await (const m of readRange(js, STREAM, 1, 3)) read.push(m.seq);
      expect(read).toEqual([1, 2, 3]);
      // `nats kv ls gateway_connections` / `nats kv get`: the lease keys the gateway test wrote.
      const kv = await new Kvm(js).open(BUCKET);
      const keys: string[] = [];
      for await (const key of await kv.keys()) keys.push(key);
      expect(keys).toEqual([`0x${'0a'.repeat(20)}`]);
      expect((await kv.get(keys[0]!))?.json()).toHaveProperty('leases');
      await denied(kv.put('0xforged', '{}'));
      const before = await messages();
      await denied(js.publish(subjects.chain('JackedIn'), '{}'));
      await coreDenied(nc, 'publish', subjects.app('CrewEvent'));
      await denied(jsm.streams.delete(STREAM));
      await denied(async () => {
        const info = await jsm.streams.info(STREAM);
        await jsm.streams.update(STREAM, { ...info.config, max_msgs: 10 });
      });
      expect(await messages()).toBe(before);
    });

    it("ops runs the ops CLI's stream commands (ghostnet stream info, status, replay)", async () => {
      const { js, jsm } = as('ops');
      const env = loadCliEnv({ STREAM_NAME: STREAM, CHAIN_ID: String(CHAIN_ID) });
      const lines: string[] = [];
      await streamInfo(jsm, env, (l) => lines.push(l));
      expect(lines.join('\n')).toMatch(/ghostnet\.6343\.chain\.GhostCore\.JackedIn/);
      await status(jsm, env, (l) => lines.push(l));
      const replayed: string[] = [];
      expect(await replay(js, jsm, env, { from: 1, to: 2 }, (l) => replayed.push(l))).toBe(2);
      expect(replayed.map((l) => JSON.parse(l).seq)).toEqual([1, 2]);
    });

    it('admin is the break-glass user (stream edits); sys sees the server', async () => {
      const { jsm } = as('admin');
      const info = await jsm.streams.info(STREAM);
      const updated = await jsm.streams.update(STREAM, { ...info.config, description: 'edited by admin' });
      expect(updated.config.description).toBe('edited by admin');
      const sys = await server.connectAs('sys');
      try {
        const reply = await sys.request('$SYS.REQ.SERVER.PING.JSZ', '', { timeout: 2_000 });
        expect(JSON.parse(reply.string()).data.streams).toBe(2);
      } finally {
        await sys.close();
      }
    });
  });
});
