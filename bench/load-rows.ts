// Rows for the benchmarks that start from a full table: `employes` rows 1..n written as the sink writes
// them (not captured: no outbox rows, no Kafka traffic), the same in both engines, in chunks of 100,000.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../src/store/schema.ts';

const chunk = 100_000;
const epoch = '2020-01-01 00:00:00.123456';

/** Inserts rows `from`..`to` of the bench's table into MySQL (origin mysql, version 1700000000000000 + n). */
export async function insertMysqlRows(db: Kysely<Database>, rows: number, onChunk?: (done: number) => void): Promise<void> {
  const digits = sql.raw('(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)');
  for (let from = 1; from <= rows; from += chunk) {
    const to = Math.min(rows, from + chunk - 1);
    await db.transaction().execute(async (trx) => {
      await sql`SET @sync_origin = 'sink'`.execute(trx);
      await sql`
        INSERT INTO employes (id, nom, prenom, email, poste, salaire, department, date_embauche, created_at, updated_at,
                              sync_version, sync_origin, sync_seen_version)
        SELECT n, CONCAT('Nom ', n), 'Prénom', CONCAT('e', n, '@example.fr'), 'Développeur', (n % 1000000) / 100,
               CONCAT('D', n % 20), TIMESTAMPADD(SECOND, n, ${epoch}), TIMESTAMPADD(SECOND, n, ${epoch}), TIMESTAMPADD(SECOND, n, ${epoch}),
               1700000000000000 + n, 'mysql', 0
          FROM (SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d + 100000 * g.d + 1 AS n
                  FROM ${digits} a, ${digits} b, ${digits} c, ${digits} e, ${digits} f, ${digits} g) numbers
         WHERE n BETWEEN ${from} AND ${to}`.execute(trx);
      await sql`SET @sync_origin = NULL`.execute(trx);
    });
    onChunk?.(to);
  }
}

/** The same rows in PostgreSQL. */
export async function insertPostgresRows(db: Kysely<Database>, rows: number): Promise<void> {
  for (let from = 1; from <= rows; from += chunk) {
    const to = Math.min(rows, from + chunk - 1);
    await db.transaction().execute(async (trx) => {
      await sql`SELECT set_config('app.sync_origin', 'sink', true)`.execute(trx);
      await sql`
        INSERT INTO employes (id, nom, prenom, email, poste, salaire, department, date_embauche, created_at, updated_at,
                              sync_version, sync_origin, sync_seen_version)
        SELECT n, 'Nom ' || n, 'Prénom', 'e' || n || '@example.fr', 'Développeur', (n % 1000000) / 100.0, 'D' || (n % 20),
               ${epoch}::timestamptz + n * interval '1 second', ${epoch}::timestamptz + n * interval '1 second',
               ${epoch}::timestamptz + n * interval '1 second', 1700000000000000 + n, 'mysql', 0
          FROM generate_series(${from}::int, ${to}::int) AS n`.execute(trx);
    });
  }
}
