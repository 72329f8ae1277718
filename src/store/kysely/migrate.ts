// Versioned migrations of a store's own tables (Kysely's Migrator, its bookkeeping in empsync_migrations):
// what a store needs before any synced table — outbox, tombstones, offsets, dead letters, conflicts.
// Synced tables themselves are made from their declarations (SchemaPort).
import type { Kysely } from 'kysely';
import { Migrator, type Migration } from 'kysely/migration';
import { EmpsyncError, ErrorCodes } from '../../errors.ts';
import type { Database } from '../schema.ts';
import type { StoreName } from '../types.ts';

const migrator = (db: Kysely<Database>, migrations: Record<string, Migration>) =>
  new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'empsync_migrations',
    migrationLockTableName: 'empsync_migrations_lock',
  });

/** The migrations not applied yet, read without writing (Kysely's getMigrations creates nothing). */
export async function pendingMigrations(db: Kysely<Database>, migrations: Record<string, Migration>): Promise<string[]> {
  return (await migrator(db, migrations).getMigrations()).filter((m) => m.executedAt === undefined).map((m) => m.name);
}

export async function migrateToLatest(name: StoreName, db: Kysely<Database>, migrations: Record<string, Migration>): Promise<string[]> {
  const { error, results } = await migrator(db, migrations).migrateToLatest();
  if (error) {
    throw new EmpsyncError(ErrorCodes.MIGRATION_FAILED, `${name} migration failed: ${String(error)}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
