// Who may do what in the PostgreSQL store (src/store/privileges.ts): whether the connected user owns the
// schema, and the per-role users `empsync migrate` creates and keeps at their grants — in one transaction
// per user (PostgreSQL's GRANT and REVOKE are transactional: a role running meanwhile sees the old grants
// or the new ones, never none). Roles are cluster-wide; their grants are on this database's tables.
import { sql, type Kysely } from 'kysely';
import { tablePrivileges, writtenTables, type RoleUser } from '../privileges.ts';
import type { AccessPort } from '../ports.ts';
import type { Database } from '../schema.ts';

export class PostgresAccess implements AccessPort {
  readonly name = 'postgres' as const;
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** A superuser, or a user who may create in the current schema: the migrations' and the schema keeper's statements. */
  async ownsSchema(): Promise<boolean> {
    const { rows } = await sql<{ owns: boolean }>`
      SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) OR has_schema_privilege(current_schema(), 'CREATE') AS owns`.execute(this.#db);
    return rows[0]?.owns === true;
  }

  async ensureRoleUsers(users: readonly RoleUser[], syncedTables: readonly string[]): Promise<void> {
    const { rows } = await sql<{ name: string }>`
      SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()`.execute(this.#db);
    const tables = rows.map((r) => r.name);
    // PostgreSQL 14 and older let every role create in `public`: the role users must not (they would own DDL).
    const { rows: publicSchema } = await sql`SELECT 1 FROM pg_namespace WHERE nspname = 'public'`.execute(this.#db);
    if (publicSchema.length) await sql`REVOKE CREATE ON SCHEMA public FROM PUBLIC`.execute(this.#db);
    for (const { role, user, password } of users) {
      await this.#db.transaction().execute(async (trx) => {
        // Serialises concurrent migrates: CREATE ROLE has no IF NOT EXISTS.
        await sql`SELECT pg_advisory_xact_lock(hashtext('empsync.role-users'))`.execute(trx);
        const exists = await sql`SELECT 1 FROM pg_roles WHERE rolname = ${user}`.execute(trx);
        const statement = async (template: string, ...values: string[]) => {
          const { rows } = await sql<{ text: string }>`SELECT format(${template}::text, VARIADIC ${values}::text[]) AS text`.execute(trx);
          await sql.raw(rows[0]!.text).execute(trx);
        };
        if (exists.rows.length === 0) await statement('CREATE ROLE %I', user);
        await statement('ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L', user, password);
        await statement('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', await this.#database(trx), user);
        await statement('GRANT USAGE ON SCHEMA %I TO %I', await this.#schemaName(trx), user);
        await statement('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %I', await this.#schemaName(trx), user);
        await statement('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM %I', await this.#schemaName(trx), user);
        for (const table of tables) {
          await statement(`GRANT ${tablePrivileges(role, table, syncedTables).join(', ')} ON %I TO %I`, table, user);
        }
        // Sequences: identity and serial columns of the tables a role inserts into.
        const writes = writtenTables[role].length > 0 ? 'USAGE, SELECT' : 'SELECT';
        await statement(`GRANT ${writes} ON ALL SEQUENCES IN SCHEMA %I TO %I`, await this.#schemaName(trx), user);
      });
    }
  }

  async #database(trx: Kysely<Database>): Promise<string> {
    return (await sql<{ name: string }>`SELECT current_database() AS name`.execute(trx)).rows[0]!.name;
  }

  async #schemaName(trx: Kysely<Database>): Promise<string> {
    return (await sql<{ name: string }>`SELECT current_schema() AS name`.execute(trx)).rows[0]!.name;
  }
}
