// The peer of the API benchmark: PostGraphile v5 (Amber preset) generating a GraphQL API straight from
// the same PostgreSQL read model. Run as a child process by bench/api/run.ts so it gets its own event
// loop, as empsync's api role does: `node bench/api/postgraphile-server.ts` with POSTGRES_URL, PORT and
// POOL_SIZE. Prints `listening <port>` on stdout once it answers.
import { createServer } from 'node:http';
import pg from 'pg';
import { postgraphile } from 'postgraphile';
import { makePgService } from 'postgraphile/adaptors/pg';
import { grafserv } from 'postgraphile/grafserv/node';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';

const connectionString = process.env.POSTGRES_URL;
const port = Number(process.env.PORT);
const poolSize = Number(process.env.POOL_SIZE ?? 10);
if (!connectionString || !Number.isInteger(port)) {
  process.stderr.write('postgraphile-server: POSTGRES_URL and PORT are required\n');
  process.exit(2);
}

const pool = new pg.Pool({ connectionString, max: poolSize });
const instance = postgraphile({
  extends: [PostGraphileAmberPreset],
  pgServices: [makePgService({ pool, schemas: ['public'] })],
  // Like empsync in production: no GraphiQL, no explain, no schema file written.
  grafserv: { graphqlPath: '/graphql', graphiql: false, watch: false },
  grafast: { explain: false },
});
const serv = instance.createServ(grafserv);
const server = createServer();
serv.addTo(server);
await serv.ready();
server.listen(port, '127.0.0.1', () => process.stdout.write(`listening ${port}\n`));

const stop = () => {
  server.close();
  void Promise.resolve(instance.release())
    .then(() => pool.end())
    .finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
