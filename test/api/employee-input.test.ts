// Pure checks of EmployeInput validation and of the operation label of the metrics (no I/O).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GraphQLError, parse } from 'graphql';
import { validateEmployeInput } from '../../src/api/employee-input.ts';
import { operationLabel } from '../../src/api/plugins/use-operation-metrics.ts';

const valid = {
  nom: ' Dupont ',
  prenom: 'Jean',
  email: 'jean@example.fr',
  poste: 'Dev',
  salaire: 1234.5,
  department: 'IT',
};

function fieldOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof GraphQLError);
    assert.equal(error.extensions.code, 'BAD_USER_INPUT');
    return error.extensions.field as string;
  }
  return undefined;
}

describe('validateEmployeInput', () => {
  it('trims texts and turns salaire into an exact two-decimal string', () => {
    assert.deepEqual(validateEmployeInput(valid), { ...valid, nom: 'Dupont', salaire: '1234.50' });
    for (const [salaire, exact] of [
      [0, '0.00'],
      [0.1, '0.10'],
      [19.99, '19.99'],
      [99_999_999.99, '99999999.99'],
    ] as const) {
      assert.equal(validateEmployeInput({ ...valid, salaire }).salaire, exact, `salaire ${salaire}`);
    }
  });

  it('names the offending field', () => {
    assert.equal(
      fieldOf(() => validateEmployeInput({ ...valid, salaire: -0.01 })),
      'salaire',
    );
    assert.equal(
      fieldOf(() => validateEmployeInput({ ...valid, salaire: 0.001 })),
      'salaire',
    );
    assert.equal(
      fieldOf(() => validateEmployeInput({ ...valid, salaire: Number.NaN })),
      'salaire',
    );
    assert.equal(
      fieldOf(() => validateEmployeInput({ ...valid, nom: '' })),
      'nom',
    );
    assert.equal(
      fieldOf(() => validateEmployeInput({ ...valid, poste: 'é'.repeat(101) })),
      'poste',
    );
    assert.equal(
      fieldOf(() => validateEmployeInput({ ...valid, poste: 'é'.repeat(100) })),
      undefined,
    );
    assert.equal(
      fieldOf(() => validateEmployeInput({ ...valid, department: 'a\u0085b' })),
      'department',
    );
    assert.equal(
      fieldOf(() => validateEmployeInput({ ...valid, email: 'a@b' })),
      'email',
    );
    assert.equal(
      fieldOf(() => validateEmployeInput({ ...valid, email: 'a b@c.fr' })),
      'email',
    );
  });
});

describe('operationLabel', () => {
  const known = new Set(['employes', 'createEmploye', 'statsEmployes']);
  it('keeps label values to root field names of the schema', () => {
    assert.equal(
      operationLabel(parse('query createEmploye { employes { id } }'), undefined, known),
      'createEmploye',
    );
    assert.equal(
      operationLabel(parse('query Whatever { statsEmployes }'), undefined, known),
      'statsEmployes',
    );
    assert.equal(operationLabel(parse('{ __typename }'), undefined, known), 'anonymous');
    assert.equal(
      operationLabel(parse('query A { employes { id } } query B { statsEmployes }'), 'B', known),
      'statsEmployes',
    );
  });
});
