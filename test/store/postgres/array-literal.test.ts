// The sink binds each column of a batch as one array literal (src/store/postgres/array-literal.ts):
// whatever the values hold — quotes, backslashes, braces, commas, blanks, the text "NULL", any Unicode —
// the real PostgreSQL reads back exactly the elements given, nulls included, and reads the same array
// as from node-postgres's own serialization of the JavaScript array.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import pg from 'pg';
import { arrayLiteral } from '../../../src/store/postgres/array-literal.ts';
import { testConfig } from '../../support/test-env.ts';

const config = testConfig('store_array_literal');
let client: pg.Client;

// PostgreSQL text never holds NUL; every other code point may appear.
const text = fc.string({ unit: 'grapheme', maxLength: 12 }).filter((s) => !s.includes('\u0000'));
const tricky = fc.constantFrom('', ' ', ' a ', 'NULL', 'null', '"', '\\', '\\"', '{', '}', ',', '{a,b}', 'a"b\\c', '\t\n', 'é😀');
const element = fc.oneof(text, tricky, fc.constant(null));

describe('PostgreSQL array literal', () => {
  before(async () => {
    client = new pg.Client({ connectionString: config.POSTGRES_URL.replace(/\/[^/?]*(\?|$)/, '/postgres$1') });
    await client.connect();
  });
  after(async () => {
    await client?.end();
  });

  it('PostgreSQL reads back every text element and null exactly, as from node-postgres’s serialization', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(element, { maxLength: 20 }), async (values) => {
        const { rows } = await client.query<{ ours: (string | null)[]; theirs: (string | null)[] }>(
          'SELECT $1::text[] AS ours, $2::text[] AS theirs',
          [arrayLiteral(values), values],
        );
        assert.deepEqual(rows[0]!.ours, values);
        assert.deepEqual(rows[0]!.ours, rows[0]!.theirs);
      }),
      { numRuns: 300 },
    );
  });

  it('reads integers, bigints given as text, and the empty array', async () => {
    const ints = [0, -1, 2147483647, -2147483648];
    const bigints = ['0', '9223372036854775807', '-9223372036854775808'];
    const { rows } = await client.query<{ ints: number[]; bigints: string[]; none: string[]; nulls: (number | null)[] }>(
      'SELECT $1::int[] AS ints, $2::bigint[]::text[] AS bigints, $3::text[] AS none, $4::int[] AS nulls',
      [arrayLiteral(ints), arrayLiteral(bigints), arrayLiteral([]), arrayLiteral([null, 1, undefined])],
    );
    assert.deepEqual(rows[0], { ints, bigints, none: [], nulls: [null, 1, null] });
  });
});
