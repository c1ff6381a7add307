import { sql } from '@ghostnet/db';
import { createLogger } from '@ghostnet/logger';
import { waitFor } from '@ghostnet/test';
import { afterEach, describe, expect, it } from 'vitest';
import { ALL_PROJECTIONS } from '../projections/index.ts';
import { createHarness, type Harness, SyntheticGame } from '../testing/index.ts';
import {
  CHECKPOINT_CHANNEL,
  type CheckpointListener,
  type CheckpointNotice,
  listenForCheckpoints,
} from './checkpointNotices.ts';

const logger = createLogger({ name: 'test', level: 'silent' });

let h: Harness | undefined;
let listener: CheckpointListener | undefined;
afterEach(async () => {
  await listener?.stop();
  listener = undefined;
  await h?.cleanup();
  h = undefined;
});

describe('checkpoint notices', () => {
  it("announce each projection's commits, survive a lost connection, and ignore malformed payloads", async () => {
    h = await createHarness();
    const notices: CheckpointNotice[] = [];
    listener = listenForCheckpoints(h.db.url, (n) => notices.push(n), logger);
    await waitFor('listening', async () => listener!.listening, { timeoutMs: 10_000 });

    const game = new SyntheticGame({ seed: 5, players: 30 });
    const first = await h.publish(game.take(200));
    const runner = h.runner({ batchSize: 50 });
    await runner.start();
    await runner.waitFor(first[first.length - 1]!, 30_000);
    const last = (name: string) =>
      Math.max(0, ...notices.filter((n) => n.projection === name).map((n) => n.sequence));
    await waitFor('notices up to the head', async () => last('game') === first[first.length - 1]);
    expect(notices.find((n) => n.projection === 'game')).toMatchObject({ version: expect.any(Number) });
    // Sequences only grow per projection, and each notice is a commit that already happened.
    const game_ = notices.filter((n) => n.projection === 'game').map((n) => n.sequence);
    expect(game_).toEqual([...game_].sort((a, b) => a - b));

    // Something else on the channel is not a notice: ignored (the probe sent after it arrives alone; the other
    // projections may still be committing their last batches meanwhile).
    const projections = new Set(ALL_PROJECTIONS.map((p) => p.name));
    const foreign = () => notices.filter((n) => !projections.has(n.projection));
    await h.pool.query(sql.unsafe`SELECT pg_notify(${CHECKPOINT_CHANNEL}, 'not a notice')`);
    await h.pool.query(sql.unsafe`SELECT pg_notify(${CHECKPOINT_CHANNEL}, 'probe:1:7')`);
    await waitFor('the probe', async () => foreign().length > 0);
    expect(foreign()).toEqual([{ projection: 'probe', version: 1, sequence: 7 }]);

    // Its connection killed by the server: it notices, reconnects and hears the next commits.
    await h.pool.query(sql.unsafe`
      SELECT pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE application_name = 'checkpoint-listener' AND datname = current_database()`);
    await waitFor('connection lost', async () => !listener!.listening, { timeoutMs: 10_000 });
    await waitFor('reconnected', async () => listener!.listening, { timeoutMs: 15_000 });
    const second = await h.publish(game.take(100));
    await runner.waitFor(second[second.length - 1]!, 30_000);
    await waitFor('notices after the reconnect', async () => last('game') === second[second.length - 1]);
    await runner.stop();
  });
});
