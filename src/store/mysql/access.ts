// Who may do what in the MySQL store (src/store/privileges.ts): whether the connected user owns the
// schema, and the per-role users `empsync migrate` creates and keeps at their grants. Accounts are
// `'<user>'@'%'`; MySQL's GRANT is not transactional, so grants are added first and what is extra is
// revoked after: a role that runs meanwhile never loses a privilege it needs.
import { sql, type Kysely } from 'kysely';
import { ownerPrivileges, tablePrivileges, type RoleUser } from '../privileges.ts';
import type { AccessPort } from '../ports.ts';
import type { Database } from '../schema.ts';

const quoteName = (name: string) => `\`${name.replaceAll('`', '``')}\``;

export class MysqlAccess implements AccessPort {
  readonly name = 'mysql' as const;
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** CREATE, ALTER, DROP, INDEX and TRIGGER on the database (or globally): the migrations' and the schema keeper's statements. */
  async ownsSchema(): Promise<boolean> {
    const grantee = await this.#currentGrantee();
    const { rows } = await sql<{ privilege: string }>`
      SELECT PRIVILEGE_TYPE AS privilege FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ${grantee}
      UNION
      SELECT PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ${grantee} AND TABLE_SCHEMA = DATABASE()`.execute(this.#db);
    const held = new Set(rows.map((r) => r.privilege.toUpperCase()));
    return ownerPrivileges.every((p) => held.has(p));
  }

  async ensureRoleUsers(users: readonly RoleUser[], syncedTables: readonly string[]): Promise<void> {
    const { rows } = await sql<{ name: string }>`
      SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'`.execute(this.#db);
    const tables = rows.map((r) => r.name);
    const database = (await sql<{ name: string }>`SELECT DATABASE() AS name`.execute(this.#db)).rows[0]!.name;
    for (const { role, user, password } of users) {
      const account = sql.raw(this.#accountText(user));
      await sql`CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY ${password}`.execute(this.#db);
      await sql`ALTER USER ${account} IDENTIFIED BY ${password}`.execute(this.#db);
      await sql.raw(`GRANT SELECT ON ${quoteName(database)}.* TO ${this.#accountText(user)}`).execute(this.#db);
      const wanted = new Map(tables.map((t) => [t, tablePrivileges(role, t, syncedTables)]));
      for (const [table, privileges] of wanted) {
        await sql.raw(`GRANT ${privileges.join(', ')} ON ${quoteName(database)}.${quoteName(table)} TO ${this.#accountText(user)}`).execute(this.#db);
      }
      await this.#revokeExtras(user, database, wanted);
    }
  }

  /** Revokes whatever the account holds beyond `wanted` here: global privileges, database-level ones but SELECT, other tables'. */
  async #revokeExtras(user: string, database: string, wanted: Map<string, string[]>): Promise<void> {
    const grantee = `'${user}'@'%'`;
    const account = this.#accountText(user);
    const global = await sql<{ privilege: string }>`
      SELECT PRIVILEGE_TYPE AS privilege FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ${grantee}`.execute(this.#db);
    if (global.rows.some((r) => r.privilege !== 'USAGE')) await sql.raw(`REVOKE ALL PRIVILEGES ON *.* FROM ${account}`).execute(this.#db);
    const onDatabase = await sql<{ privilege: string }>`
      SELECT PRIVILEGE_TYPE AS privilege FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ${grantee} AND TABLE_SCHEMA = ${database}`.execute(this.#db);
    const extraOnDatabase = onDatabase.rows.map((r) => r.privilege).filter((p) => p !== 'SELECT');
    if (extraOnDatabase.length) await sql.raw(`REVOKE ${extraOnDatabase.join(', ')} ON ${quoteName(database)}.* FROM ${account}`).execute(this.#db);
    const onTables = await sql<{ table: string; privilege: string }>`
      SELECT TABLE_NAME AS \`table\`, PRIVILEGE_TYPE AS privilege FROM information_schema.TABLE_PRIVILEGES
       WHERE GRANTEE = ${grantee} AND TABLE_SCHEMA = ${database}`.execute(this.#db);
    for (const { table, privilege } of onTables.rows) {
      if (wanted.get(table)?.includes(privilege)) continue;
      await sql.raw(`REVOKE ${privilege} ON ${quoteName(database)}.${quoteName(table)} FROM ${account}`).execute(this.#db);
    }
  }

  #accountText(user: string): string {
    if (!/^[A-Za-z0-9_]+$/.test(user)) throw new Error(`database user "${user}" must be letters, digits and _`);
    return `'${user}'@'%'`;
  }

  /** CURRENT_USER() (`user@host`) as information_schema writes grantees: `'user'@'host'`. */
  async #currentGrantee(): Promise<string> {
    const { rows } = await sql<{ current: string }>`SELECT CURRENT_USER() AS current`.execute(this.#db);
    const current = rows[0]!.current;
    const at = current.lastIndexOf('@');
    return `'${current.slice(0, at)}'@'${current.slice(at + 1)}'`;
  }
}
