// The published design's table: `employes`, on the topic `employes-sync` (KAFKA_TOPIC). The one place
// below the API that names its columns.
import type { TableDeclaration } from './declaration.ts';

export const employesTableName = 'employes';

export function employesTable(topic: string): TableDeclaration {
  const text = (name: string, length: number) => ({ name, type: { kind: 'text', length } as const, nullable: false });
  const instant = (name: string, role?: 'updated-at') => ({
    name,
    type: { kind: 'timestamp' } as const,
    nullable: false,
    default: 'now' as const,
    ...(role ? { role } : {}),
  });
  return {
    name: employesTableName,
    topic,
    columns: [
      text('nom', 100),
      text('prenom', 100),
      text('email', 255),
      text('poste', 100),
      { name: 'salaire', type: { kind: 'decimal', precision: 10, scale: 2 }, nullable: false },
      text('department', 100),
      instant('date_embauche'),
      instant('created_at'),
      instant('updated_at', 'updated-at'),
    ],
    unique: ['email'],
    indexes: [{ name: 'employes_department_id_idx', columns: ['department', 'id'] }],
  };
}

/** The fields of a v1 event (`empsync.employee-changed.v1`, camelCase) and the columns they carry. */
export const employesV1Fields: readonly { field: string; column: string; instant: boolean }[] = [
  { field: 'nom', column: 'nom', instant: false },
  { field: 'prenom', column: 'prenom', instant: false },
  { field: 'email', column: 'email', instant: false },
  { field: 'poste', column: 'poste', instant: false },
  { field: 'salaire', column: 'salaire', instant: false },
  { field: 'department', column: 'department', instant: false },
  { field: 'dateEmbauche', column: 'date_embauche', instant: true },
  { field: 'createdAt', column: 'created_at', instant: true },
  { field: 'updatedAt', column: 'updated_at', instant: true },
];
