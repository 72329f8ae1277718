// Versioned migrations of a store's own tables (Kysely's Migrator, its bookkeeping in empsync_migrations):
// what a store needs before any synced table — outbox, tombstones, offsets, dead letters, conflicts.
// Synced tables themselves are made from their declarations (SchemaPort).
import type { Kysely } from 'kysely';
import { Migrator, type Migration } from 'kysely/migration';
import { EmpsyncError, ErrorCodes } from '../../errors.ts';
import type { Database } from '../schema.ts';
import type { StoreName } from '../types.ts';

export async function migrateToLatest(name: StoreName, db: Kysely<Database>, migrations: Record<string, Migration>): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'empsync_migrations',
    migrationLockTableName: 'empsync_migrations_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    throw new EmpsyncError(ErrorCodes.MIGRATION_FAILED, `${name} migration failed: ${String(error)}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
