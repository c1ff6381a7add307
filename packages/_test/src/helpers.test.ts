import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { startAnvil } from './anvil.ts';
import { createTestDatabase } from './database.ts';
import { createTestStream } from './jetstream.ts';

describe('test helpers', () => {
  it('creates and drops a database of its own', async () => {
    const db = await createTestDatabase();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const { rows } = await client.query('select current_database() as name');
    expect(rows[0].name).toBe(db.name);
    await client.end();
    await db.drop();
    const probe = new pg.Client({ connectionString: db.url });
    await expect(probe.connect()).rejects.toThrow(/does not exist/);
  });

  it('creates a stream of its own from the checked-in config and deletes it', async () => {
    const stream = await createTestStream();
    const info = await stream.jsm.streams.info(stream.name);
    expect(info.config.subjects).toEqual([`${stream.prefix}.31337.>`]);
    expect(info.config.deny_purge).toBe(true);
    const ack = await stream.js.publish(`${stream.subjects.root}.app.CrewEvent`, 'x');
    expect(ack.seq).toBe(1);
    const { jsm, name } = stream;
    await stream.destroy();
    const nc2 = await import('@nats-io/transport-node').then((m) => m.connect({ servers: stream.natsUrl }));
    const jsm2 = await import('@nats-io/jetstream').then((m) => m.jetstreamManager(nc2));
    await expect(jsm2.streams.info(name)).rejects.toThrow(/not found/);
    await nc2.close();
    expect(jsm).toBeDefined();
  });

  it('starts anvil and stops it by PID', async () => {
    const anvil = await startAnvil();
    const response = await fetch(anvil.rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
    });
    expect((await response.json()).result).toBe('0x7a69');
    await anvil.stop();
    expect(() => process.kill(anvil.process.pid, 0)).toThrow();
  });
});
