// EmployeInput and its validation. Every check runs before any write, so bad input never reaches MySQL;
// each failure names the field (`extensions.field`) with the code BAD_USER_INPUT.
import { GraphQLError } from 'graphql';
import { ErrorCodes } from '../errors.ts';
import type { EmployeeFields } from '../store/types.ts';
import { builder } from './builder.ts';

export interface EmployeInputValue {
  nom: string;
  prenom: string;
  email: string;
  poste: string;
  salaire: number;
  department: string;
}

export const EmployeInput = builder.inputType('EmployeInput', {
  description: 'The fields a client sets on an employee (all required).',
  fields: (t) => ({
    nom: t.string({ required: true }),
    prenom: t.string({ required: true }),
    email: t.string({ required: true }),
    poste: t.string({ required: true }),
    salaire: t.float({ required: true, description: 'From 0 to 99999999.99, at most two decimals.' }),
    department: t.string({ required: true }),
  }),
});

/** Column widths of `employes` (VARCHAR lengths in both stores). */
export const textLimits = { nom: 100, prenom: 100, email: 255, poste: 100, department: 100 } as const;
export const maxSalaire = 99_999_999.99;

// C0 and C1 control characters (NUL included) and DEL: never valid in a name, an email or a title.
// eslint-disable-next-line no-control-regex
const controlCharacters = /[\u0000-\u001f\u007f-\u009f]/;
// A pragmatic address check (local@domain.tld, no spaces); the mailbox itself is not verified.
const emailFormat = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

export function badUserInput(field: string, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCodes.BAD_USER_INPUT, field } });
}

function checkText(field: keyof typeof textLimits, value: string): string {
  const trimmed = value.trim();
  if (trimmed.length === 0) throw badUserInput(field, `${field} must not be empty.`);
  if (controlCharacters.test(value))
    throw badUserInput(field, `${field} must not contain control characters.`);
  // Columns count characters, not UTF-16 units: measure code points.
  const length = [...trimmed].length;
  if (length > textLimits[field]) {
    throw badUserInput(field, `${field} is ${length} characters long; the limit is ${textLimits[field]}.`);
  }
  return trimmed;
}

function checkSalaire(value: number): string {
  if (!Number.isFinite(value) || value < 0) throw badUserInput('salaire', 'salaire must be zero or more.');
  if (value > maxSalaire) throw badUserInput('salaire', `salaire must be at most ${maxSalaire}.`);
  const cents = Math.round(value * 100);
  // A float such as 1234.5 or 0.1 has no exact binary form: compare within a tiny tolerance.
  if (Math.abs(value * 100 - cents) > 1e-6)
    throw badUserInput('salaire', 'salaire has at most two decimals.');
  return (cents / 100).toFixed(2);
}

/** Checks an EmployeInput and returns the fields a store writes (texts trimmed, salaire a decimal string). */
export function validateEmployeInput(input: EmployeInputValue): EmployeeFields {
  const fields: EmployeeFields = {
    nom: checkText('nom', input.nom),
    prenom: checkText('prenom', input.prenom),
    email: checkText('email', input.email),
    poste: checkText('poste', input.poste),
    salaire: checkSalaire(input.salaire),
    department: checkText('department', input.department),
  };
  if (!emailFormat.test(fields.email)) throw badUserInput('email', 'email is not a valid address.');
  return fields;
}
