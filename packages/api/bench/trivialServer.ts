import Fastify from 'fastify';

/** The ceiling: a bare Fastify route, no plugins, no database. Prints its port when listening. */
const app = Fastify();
app.get('/trivial', async () => ({ ok: true }));
const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
console.log(`listening ${address}`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
