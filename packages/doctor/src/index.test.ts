import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { checkPostgres, classifyPostgresError, PG_START, postgresFix } from './index.ts';

describe('what the doctor says when PostgreSQL cannot be reached', () => {
  it('tells a closed port (start it) from a server refusing the login (authentication)', () => {
    const cases: [unknown, string][] = [
      [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }), 'down'],
      [
        Object.assign(new Error('password authentication failed for user "postgres"'), { code: '28P01' }),
        'auth',
      ],
      [
        Object.assign(new Error('no pg_hba.conf entry for host "127.0.0.1", user "postgres"'), {
          code: '28000',
        }),
        'auth',
      ],
      [new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string'), 'auth'],
      [Object.assign(new Error('role "ghost" does not exist'), { code: '28000' }), 'no-role'],
      [Object.assign(new Error('database "nope" does not exist'), { code: '3D000' }), 'no-database'],
      [new Error('Connection terminated due to connection timeout'), 'other'],
    ];
    for (const [error, expected] of cases) expect(classifyPostgresError(error), String(error)).toBe(expected);

    expect(postgresFix('down', { installed: true })).toBe(`start it: ${PG_START}`);
    expect(postgresFix('down', { installed: false })).toMatch(/^install PostgreSQL 15/);
    const auth = postgresFix('auth', { installed: true });
    expect(auth).toMatch(/authentication failed: enable trust for 127\.0\.0\.1 in pg_hba\.conf/);
    expect(auth).toContain('TEST_DATABASE_URL');
    expect(auth).toContain('DATABASE_URL');
    expect(auth).not.toContain('start it');
  });
});

/** A TCP server speaking just enough of the PostgreSQL protocol to refuse a login the way a server does. */
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});
function message(type: string, body: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeInt32BE(body.length + 4);
  return Buffer.concat([Buffer.from(type), length, body]);
}
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
async function fakePostgres(answer: (socket: Socket, received: number) => void): Promise<number> {
  const server = createServer((socket) => {
    let received = 0;
    socket.on('data', () => answer(socket, received++));
    socket.on('error', () => {});
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

describe('checkPostgres against a server that refuses the login', () => {
  it('a wrong password (28P01): authentication, not "start it"', async () => {
    const port = await fakePostgres((socket) => {
      const fields = ['SFATAL', 'VFATAL', 'C28P01', 'Mpassword authentication failed for user "postgres"'];
      socket.end(message('E', Buffer.from(`${fields.join('\0')}\0\0`)));
    });
    const check = await checkPostgres(`postgres://postgres:wrong@127.0.0.1:${port}/postgres`);
    expect(check.ok).toBe(false);
    expect(check.detail).toContain('password authentication failed');
    expect(check.detail).not.toContain('wrong');
    expect(check.fix).toMatch(/authentication failed: enable trust for 127\.0\.0\.1 in pg_hba\.conf/);
  });

  it('a server asking for a SCRAM password the URL does not have: authentication', async () => {
    const port = await fakePostgres((socket, received) => {
      // Startup → AuthenticationSASL; the client's first SCRAM message → AuthenticationSASLContinue.
      if (received === 0)
        socket.write(message('R', Buffer.concat([int32(10), Buffer.from('SCRAM-SHA-256\0\0')])));
      else socket.write(message('R', Buffer.concat([int32(11), Buffer.from('r=abc,s=c2FsdA==,i=4096')])));
    });
    const check = await checkPostgres(`postgres://postgres@127.0.0.1:${port}/postgres`);
    expect(check.ok).toBe(false);
    expect(check.fix).toMatch(/authentication failed/);
  });

  it('nothing listening on the port: start it', async () => {
    const port = await fakePostgres(() => {});
    await new Promise((r) => servers.pop()!.close(r));
    const check = await checkPostgres(`postgres://postgres@127.0.0.1:${port}/postgres`);
    expect(check.ok).toBe(false);
    expect(check.fix).toMatch(/start it: pg_ctlcluster/);
    expect(check.fix).not.toMatch(/authentication/);
  });
});
