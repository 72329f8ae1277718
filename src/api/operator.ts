// What the operator console (/console) needs beyond syncStatus, syncConflicts and deadLetters, as plain
// GraphQL so that the console holds no logic of its own: the synced tables' schema per engine, a drift
// check (and repair) run on demand with its divergent rows and columns, both sides of a conflicted row,
// and an admin's override of a conflict's outcome through the normal pipeline.
import { GraphQLError } from 'graphql';
import { ErrorCodes } from '../errors.ts';
import { reconcile, type Divergence, type ReconcileReport } from '../reconcile/reconcile.ts';
import type { StoredConflict } from '../store/ports.ts';
import { storeNames, type EmployeeView, type StoreName } from '../store/types.ts';
import type { LiveColumn } from '../tables/table-schema.ts';
import { requireRole } from './authentication.ts';
import { builder } from './builder.ts';
import { badUserInput } from './employee-input.ts';
import { EmployeType } from './employee-type.ts';
import { DriftStatusType, SyncConflictType } from './sync-status.ts';
import type { DriftStatus } from '../reconcile/drift-check.ts';

interface ColumnView {
  name: string;
  type: string | null;
  mysql: LiveColumn | null;
  postgres: LiveColumn | null;
}

interface TableView {
  table: string;
  schemaVersion: string;
  columns: ColumnView[];
  mismatches: { column: string; reason: string }[];
}

const EngineColumnType = builder.objectRef<LiveColumn>('SyncEngineColumn').implement({
  description: "A column as one engine's catalog shows it.",
  fields: (t) => ({
    engineType: t.exposeString('engineType', { description: "The engine's own type name (varchar(100), numeric(12,2), jsonb…)." }),
    nullable: t.exposeBoolean('nullable'),
  }),
});

const ColumnViewType = builder.objectRef<ColumnView>('SyncColumn').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    type: t.string({ nullable: true, description: 'The logical type the sync carries (null: the column is not synced).', resolve: (c) => c.type }),
    mysql: t.field({ type: EngineColumnType, nullable: true, description: 'Null: MySQL has no such column.', resolve: (c) => c.mysql }),
    postgres: t.field({ type: EngineColumnType, nullable: true, description: 'Null: PostgreSQL has no such column.', resolve: (c) => c.postgres }),
  }),
});

const MismatchType = builder.objectRef<{ column: string; reason: string }>('SyncSchemaMismatch').implement({
  fields: (t) => ({ column: t.exposeString('column'), reason: t.exposeString('reason') }),
});

const TableViewType = builder.objectRef<TableView>('SyncTableSchema').implement({
  description: 'A synced table: its columns in both engines, and what cannot be synced as it is.',
  fields: (t) => ({
    table: t.exposeString('table'),
    schemaVersion: t.exposeString('schemaVersion', { description: 'The hash of the synced columns that events carry.' }),
    columns: t.field({ type: [ColumnViewType], resolve: (v) => v.columns }),
    mismatches: t.field({ type: [MismatchType], resolve: (v) => v.mismatches }),
  }),
});

const DivergenceType = builder.objectRef<Divergence>('SyncDivergence').implement({
  description: 'A row whose content differs between the stores (confirmed: it stayed put, no change of it in flight).',
  fields: (t) => ({
    table: t.exposeString('table'),
    id: t.exposeInt('id'),
    kind: t.exposeString('kind', { description: 'missing, deleted, version or content.' }),
    columns: t.exposeStringList('columns', { description: 'The columns whose values differ (both rows exist).' }),
    source: t.exposeString('source', { description: 'The side whose state wins.' }),
    repair: t.exposeString('repair', { description: 'republish, restamp or delete.' }),
    mysqlVersion: t.string({ nullable: true, resolve: (d) => d.mysqlVersion }),
    postgresVersion: t.string({ nullable: true, resolve: (d) => d.postgresVersion }),
  }),
});

const DriftReportType = builder.objectRef<ReconcileReport>('SyncDriftReport').implement({
  description: 'One drift check pass, run on demand.',
  fields: (t) => ({
    compared: t.exposeInt('compared'),
    divergent: t.exposeInt('divergent'),
    inFlight: t.exposeInt('inFlight', { description: 'Differences that moved while confirmed: changes in flight, not drift.' }),
    repaired: t.int({ description: 'Repairs issued (rows re-published, re-stamped or deleted).', resolve: (r) => r.republished }),
    unrepaired: t.exposeInt('unrepaired', { description: 'Divergent rows that still differed when the verification gave up.' }),
    seconds: t.exposeFloat('seconds'),
    startedAt: t.field({ type: 'DateTime', resolve: (r) => r.startedAt }),
    notes: t.exposeStringList('notes'),
    divergences: t.field({ type: [DivergenceType], description: 'The first divergences found (at most 100).', resolve: (r) => r.sample }),
  }),
});

interface OverrideResult {
  employeId: number;
  kept: StoreName;
  version: string;
}

const OverrideResultType = builder.objectRef<OverrideResult>('SyncConflictOverride').implement({
  fields: (t) => ({
    employeId: t.exposeInt('employeId'),
    kept: t.exposeString('kept', { description: 'The store whose row now wins on both sides.' }),
    version: t.exposeString('version', { description: 'The new version of the kept row, re-published through the pipeline.' }),
  }),
});

builder.objectFields(DriftStatusType, (t) => ({
  divergences: t.field({
    type: [DivergenceType],
    description: 'The divergent rows of the last complete pass, with their columns (at most 100; none after a repair that left none).',
    resolve: (d: DriftStatus) => d.divergences,
  }),
}));

builder.objectFields(SyncConflictType, (t) => ({
  mysqlRow: t.field({
    type: EmployeType,
    nullable: true,
    description: 'The row in MySQL now (null: not there).',
    resolve: (c: StoredConflict, _args, ctx): Promise<EmployeeView | null> => ctx.mysqlEmployeeById.load(c.employeId),
  }),
  postgresRow: t.field({
    type: EmployeType,
    nullable: true,
    description: 'The row in PostgreSQL now (null: not there).',
    resolve: (c: StoredConflict, _args, ctx): Promise<EmployeeView | null> => ctx.employeeById.load(c.employeId),
  }),
}));

builder.queryFields((t) => ({
  syncSchema: t.field({
    type: [TableViewType],
    description: 'The synced tables and their columns in both engines, and any mismatch. Needs the role reader.',
    resolve: async (_root, _args, ctx) => {
      requireRole(ctx.principal, 'reader', 'syncSchema');
      const { schemas, stores } = ctx.app;
      return Promise.all(
        schemas.schemas.map(async (schema): Promise<TableView> => {
          const name = schema.table.name;
          const [mysql, postgres] = await Promise.all(storeNames.map((store) => stores[store].schema.columns(name)));
          const live = { mysql: new Map((mysql ?? []).map((c) => [c.name, c])), postgres: new Map((postgres ?? []).map((c) => [c.name, c])) };
          const synced = new Map(schema.columns.map((c) => [c.name, c.type.kind]));
          const names = [...new Set(['id', ...schema.columns.map((c) => c.name), ...live.mysql.keys(), ...live.postgres.keys()])];
          return {
            table: name,
            schemaVersion: schema.version,
            columns: names.map((column) => ({
              name: column,
              type: column === 'id' ? 'key' : (synced.get(column) ?? null),
              mysql: live.mysql.get(column) ?? null,
              postgres: live.postgres.get(column) ?? null,
            })),
            mismatches: schemas.mismatches.filter((m) => m.table === name).map(({ column, reason }) => ({ column, reason })),
          };
        }),
      );
    },
  }),
}));

builder.mutationFields((t) => ({
  checkDrift: t.field({
    type: DriftReportType,
    description:
      'Compares both stores now, row by row and column by column; with `repair: true`, repairs each divergence through the pipeline and verifies it. Needs the role admin.',
    args: { repair: t.arg.boolean({ required: false, defaultValue: false }) },
    resolve: async (_root, args, ctx) => {
      requireRole(ctx.principal, 'admin', 'checkDrift');
      const { stores, schemas, config } = ctx.app;
      return reconcile(stores, schemas.schemas, {
        repair: args.repair ?? false,
        chunkRows: config.RECONCILE_CHUNK_ROWS,
        settleMs: config.DRIFT_SETTLE_MS,
        verifyTimeoutMs: config.REPAIR_VERIFY_TIMEOUT_MS,
        columnsLeftOut: schemas.mismatches,
      });
    },
  }),
  resolveConflict: t.field({
    type: OverrideResultType,
    description:
      "Overrides a conflict's outcome: the row as it is in `keep` (mysql or postgres) gets a new version and is re-published, so the pipeline writes it to the other side; the override is recorded in `keep`'s sync_conflicts. Needs the role admin.",
    args: {
      employeId: t.arg.int({ required: true }),
      keep: t.arg.string({ required: true }),
    },
    resolve: async (_root, args, ctx) => {
      requireRole(ctx.principal, 'admin', 'resolveConflict');
      const keep = args.keep as StoreName;
      if (!storeNames.includes(keep)) throw badUserInput('keep', `keep must be one of ${storeNames.join(', ')}.`);
      const { stores, schemas } = ctx.app;
      const before = await stores[keep].employees.find(args.employeId);
      if (!before) {
        throw new GraphQLError(`Employee ${args.employeId} is not in ${keep}: nothing to keep.`, {
          extensions: { code: ErrorCodes.NOT_FOUND, field: 'employeId' },
        });
      }
      await stores[keep].outbox.restamp(schemas.schema('employes'), [args.employeId]);
      const after = await stores[keep].employees.find(args.employeId);
      const version = after?.version ?? before.version;
      await stores[keep].conflicts.record({
        table: 'employes',
        employeId: args.employeId,
        kind: 'override',
        outcome: 'operator-override',
        policy: `operator:${ctx.principal.subject ?? ctx.principal.via}`,
        localVersion: before.version,
        localOrigin: before.origin,
        incomingVersion: version,
        incomingOrigin: keep,
        incomingRow: { id: args.employeId, version, origin: keep, values: {} },
        eventId: `override-${keep}-${args.employeId}-${version}`,
      });
      return { employeId: args.employeId, kept: keep, version: version.toString() };
    },
  }),
}));
