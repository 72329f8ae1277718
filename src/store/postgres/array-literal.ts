// The text form of a PostgreSQL array of row values, for one bound parameter cast to `<type>[]`.
// node-postgres serializes a JavaScript array itself (prepareValue → arrayString → escapeElement, two
// regular-expression replaces per element whatever it holds); a sink batch binds one array per column
// of up to thousands of rows, and that took about a tenth of the sink's CPU under a bulk load
// (docs/benchmarks.md, "The sink's locking read in PostgreSQL"). Row values are text or null
// (src/tables/values.ts), ids and versions numbers or bigints' text: each element is quoted, and only
// an element holding `"` or `\` is escaped.

const needsEscape = /["\\]/;

/** `{"a","b\"c",NULL}`: the array literal PostgreSQL reads back as exactly these elements. */
export function arrayLiteral(values: readonly (string | number | null | undefined)[]): string {
  let literal = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) literal += ',';
    const value = values[i];
    if (value === null || value === undefined) {
      literal += 'NULL';
      continue;
    }
    const text = typeof value === 'string' ? value : String(value);
    literal += needsEscape.test(text) ? `"${text.replace(/["\\]/g, '\\$&')}"` : `"${text}"`;
  }
  return `${literal}}`;
}
