// Fills the PostgreSQL read model of the bench database with synthetic employees in one statement, as
// the sink would (session marked `app.sync_origin = sink`, so the capture triggers stay quiet and no
// outbox row is written). The API only reads PostgreSQL, so MySQL stays empty.
import pg from 'pg';

export const departments = [
  'Comptabilité',
  'Direction',
  'Finance',
  'IT',
  'Juridique',
  'Logistique',
  'Marketing',
  'R&D',
  'RH',
  'Ventes',
];

export interface SeedReport {
  rows: number;
  seconds: number;
  outboxRows: number;
}

export async function seedReadModel(connectionString: string, rows: number): Promise<SeedReport> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  const started = performance.now();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT set_config('app.sync_origin', 'sink', true)`);
    await client.query(
      `INSERT INTO employes (id, nom, prenom, email, poste, salaire, department, date_embauche, sync_version, sync_origin)
       SELECT g,
              'Nom' || g,
              'Prenom' || g,
              'employe' || g || '@bench.example',
              (ARRAY['Développeur', 'Analyste', 'Chef de projet', 'Comptable', 'Commercial'])[1 + g % 5],
              round((1500 + (g * 7919) % 8500 + (g % 100) / 100.0)::numeric, 2),
              ($2::text[])[1 + g % cardinality($2::text[])],
              timestamptz '2020-01-01 00:00:00Z' + g * interval '17 minutes',
              1700000000000000 + g,
              'mysql'
         FROM generate_series(1, $1::integer) AS g`,
      [rows, departments],
    );
    await client.query('COMMIT');
    await client.query('ANALYZE employes');
    const { rows: outbox } = await client.query<{ count: string }>('SELECT count(*) FROM sync_outbox');
    return { rows, seconds: (performance.now() - started) / 1000, outboxRows: Number(outbox[0]!.count) };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}
