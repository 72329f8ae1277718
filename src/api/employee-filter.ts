// EmployeFilter and EmployeOrder: what `employes` and `employesConnection` may filter and sort by. The
// input is checked here and handed to the store as dialect-agnostic conditions (src/store/store.ts).
import type { EmployeeFilter, EmployeeOrder } from '../store/ports.ts';
import { builder } from './builder.ts';
import { badUserInput, maxSalaire } from './employee-input.ts';
import './date-time-scalar.ts';

export interface EmployeFilterValue {
  department?: string | null;
  poste?: string | null;
  search?: string | null;
  salaireMin?: number | null;
  salaireMax?: number | null;
  embaucheAfter?: string | null;
  embaucheBefore?: string | null;
}

export const maxSearchLength = 100;

export const EmployeFilter = builder.inputType('EmployeFilter', {
  description: 'Conditions on employees, all optional, combined with AND.',
  fields: (t) => ({
    department: t.string({ required: false, description: 'Exact department.' }),
    poste: t.string({ required: false, description: 'Exact poste.' }),
    search: t.string({
      required: false,
      description: `Case-insensitive substring of nom, prenom or email (at most ${maxSearchLength} characters).`,
    }),
    salaireMin: t.float({ required: false, description: 'Salary at least this (inclusive). Needs the role reader.' }),
    salaireMax: t.float({ required: false, description: 'Salary at most this (inclusive). Needs the role reader.' }),
    embaucheAfter: t.field({ type: 'DateTime', required: false, description: 'Hired at or after this instant.' }),
    embaucheBefore: t.field({ type: 'DateTime', required: false, description: 'Hired at or before this instant.' }),
  }),
});

export const EmployeOrder = builder.enumType('EmployeOrder', {
  description: 'Sort orders; ties are broken by id in the same direction.',
  values: ['ID_ASC', 'ID_DESC', 'SALAIRE_ASC', 'SALAIRE_DESC', 'NOM_ASC'] as const,
});

function salaireBound(field: string, value: number): string {
  if (!Number.isFinite(value) || value < 0 || value > maxSalaire) {
    throw badUserInput(`filter.${field}`, `${field} must be between 0 and ${maxSalaire}.`);
  }
  return value.toFixed(2);
}

/** Checks a filter and returns the store's form of it; `undefined` keeps every row. */
export function toStoreFilter(value: EmployeFilterValue | null | undefined): EmployeeFilter | undefined {
  if (!value) return undefined;
  const filter: EmployeeFilter = {};
  if (value.department != null) filter.department = value.department;
  if (value.poste != null) filter.poste = value.poste;
  if (value.search != null) {
    if ([...value.search].length > maxSearchLength) {
      throw badUserInput('filter.search', `search is at most ${maxSearchLength} characters.`);
    }
    if (value.search.trim() !== '') filter.search = value.search.trim();
  }
  if (value.salaireMin != null) filter.salaireMin = salaireBound('salaireMin', value.salaireMin);
  if (value.salaireMax != null) filter.salaireMax = salaireBound('salaireMax', value.salaireMax);
  if (value.embaucheAfter != null) filter.embaucheAfter = new Date(value.embaucheAfter).toISOString();
  if (value.embaucheBefore != null) filter.embaucheBefore = new Date(value.embaucheBefore).toISOString();
  return filter;
}

/** Filtering or sorting by salary reveals it: both need the role the salary field needs. */
export function usesSalary(filter: EmployeeFilter | undefined, orderBy: EmployeeOrder | undefined): boolean {
  return (
    filter?.salaireMin !== undefined ||
    filter?.salaireMax !== undefined ||
    orderBy === 'SALAIRE_ASC' ||
    orderBy === 'SALAIRE_DESC'
  );
}
