// The API's reads of PostgreSQL, batched across requests. Every read issued in one turn of the event loop
// (as with the by-id loader in src/api/employee-loaders.ts) is collected; reads of the same SQL shape go
// to PostgreSQL as one statement, each read as its own branch of a UNION ALL tagged with its place in the
// batch, so a page of 20 rows asked for by 16 requests costs one round trip instead of 16. Every read is
// still executed on its own terms (nothing is shared or cached between requests); a batch that fails is
// retried one read at a time, so each caller gets its own answer or its own error.
//
// Order: each branch is a whole subquery (its ORDER BY and LIMIT inside it); PostgreSQL's Append emits a
// branch's rows in the branch's order, and a branch is never split across parallel workers (a LIMIT
// subquery is not a partial path), so grouping the rows by tag keeps each read's order.
import { setImmediate } from 'node:timers';
import DataLoader from 'dataloader';
import type pg from 'pg';

export interface ReadBatcherOptions {
  /** Named prepared statements per process, all shapes and batch sizes together; past it, reads run unnamed. */
  maxPreparedStatements: number;
  /** Reads per statement (rounded down to a power of two); a larger batch of one shape is split. */
  maxReadsPerStatement: number;
}

interface Read {
  text: string;
  values: readonly unknown[];
}

type Row = pg.QueryResultRow;

const batchColumn = 'empsync_batch';
/** Statement names are unique in the process: two batchers sharing a pool must never reuse one for another text. */
let statementsNamed = 0;
const placeholder = /\$(\d+)/g;

/** A SQL text split around its `$n` placeholders, so a copy can be renumbered without parsing again. */
interface Shape {
  /** `null` when the text cannot be batched safely (a literal could hold a `$n`): it always runs alone. */
  parts: string[] | null;
  /** Parameter number (1-based) that follows each part but the last. */
  numbers: number[];
  /** The batched statement's text by batch size. */
  batched: Map<number, string>;
}

export class ReadBatcher {
  readonly #pool: pg.Pool;
  readonly #options: ReadBatcherOptions;
  readonly #names = new Map<string, string>();
  readonly #shapes = new Map<string, Shape>();
  readonly #loader: DataLoader<Read, Row[]>;

  constructor(pool: pg.Pool, options: ReadBatcherOptions) {
    this.#pool = pool;
    this.#options = options;
    this.#loader = new DataLoader((reads) => this.#runBatch(reads), {
      cache: false,
      batchScheduleFn: (run) => setImmediate(run),
    });
  }

  read<O>(text: string, values: readonly unknown[]): Promise<O[]> {
    return this.#loader.load({ text, values }) as Promise<O[]>;
  }

  async #runBatch(reads: readonly Read[]): Promise<(Row[] | Error)[]> {
    const results: (Row[] | Error)[] = new Array<Row[] | Error>(reads.length);
    const byText = new Map<string, number[]>();
    reads.forEach((read, index) => {
      const indexes = byText.get(read.text);
      if (indexes) indexes.push(index);
      else byText.set(read.text, [index]);
    });
    const runs: Promise<void>[] = [];
    for (const [text, indexes] of byText) {
      // Statements of 2, 4, 8… reads only (13 reads: 8 + 4 + 1), so a shape has a handful of batched
      // texts to prepare, not one per batch size.
      for (let start = 0; start < indexes.length;) {
        let size = this.#largestBatch;
        while (size > indexes.length - start) size /= 2;
        runs.push(this.#runChunk(text, indexes.slice(start, start + size), reads, results));
        start += size;
      }
    }
    await Promise.all(runs);
    return results;
  }

  /** The largest power of two not above `maxReadsPerStatement`. */
  get #largestBatch(): number {
    return 2 ** Math.floor(Math.log2(Math.max(1, this.#options.maxReadsPerStatement)));
  }

  async #runChunk(
    text: string,
    chunk: number[],
    reads: readonly Read[],
    results: (Row[] | Error)[],
  ): Promise<void> {
    const runAlone = () =>
      Promise.all(
        chunk.map(async (index) => (results[index] = await this.#runOne(text, reads[index]!.values))),
      );
    const shape = this.#shape(text);
    const batched = chunk.length > 1 && shape.parts ? this.#batchedText(shape, chunk.length) : undefined;
    // A batched text planned anew at every call would cost more than the round trips it saves.
    if (batched === undefined || this.#nameOf(batched) === undefined) {
      await runAlone();
      return;
    }
    try {
      const values = chunk.flatMap((index) => reads[index]!.values);
      const { rows } = await this.#query(batched, values);
      const grouped = chunk.map((): Row[] => []);
      for (const row of rows) grouped[(row[batchColumn] as number) - 1]!.push(row);
      chunk.forEach((index, position) => (results[index] = grouped[position]!));
    } catch {
      // One read's bad value fails the whole statement: run each alone so only that read fails.
      await runAlone();
    }
  }

  async #runOne(text: string, values: readonly unknown[]): Promise<Row[] | Error> {
    try {
      return (await this.#query(text, values)).rows;
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  }

  /** The name of `text`'s prepared statement, given while the budget of names lasts; `undefined` past it. */
  #nameOf(text: string): string | undefined {
    let name = this.#names.get(text);
    if (name === undefined && this.#names.size < this.#options.maxPreparedStatements) {
      name = `empsync_read_${statementsNamed++}`;
      this.#names.set(text, name);
    }
    return name;
  }

  /** Runs `text` as a named prepared statement (parsed and planned once per connection) while names last. */
  #query(text: string, values: readonly unknown[]): Promise<pg.QueryResult<Row>> {
    return this.#pool.query<Row>({ name: this.#nameOf(text), text, values: [...values] });
  }

  #shape(text: string): Shape {
    let shape = this.#shapes.get(text);
    if (shape) return shape;
    const batchable =
      /^\s*select\s/i.test(text) && !text.includes("'") && !text.includes('$$') && !text.includes(';');
    const parts: string[] = [];
    const numbers: number[] = [];
    let last = 0;
    for (const match of text.matchAll(placeholder)) {
      parts.push(text.slice(last, match.index));
      numbers.push(Number(match[1]));
      last = match.index + match[0].length;
    }
    parts.push(text.slice(last));
    shape = { parts: batchable ? parts : null, numbers, batched: new Map() };
    // Bounded like the statement names: shapes past the budget are not remembered (they are re-split).
    if (this.#shapes.size < this.#options.maxPreparedStatements) this.#shapes.set(text, shape);
    return shape;
  }

  #batchedText(shape: Shape, size: number): string {
    let text = shape.batched.get(size);
    if (text !== undefined) return text;
    const parts = shape.parts!;
    const perRead = Math.max(0, ...shape.numbers);
    const branches: string[] = [];
    for (let position = 0; position < size; position++) {
      const offset = position * perRead;
      let branch = parts[0]!;
      shape.numbers.forEach((number, index) => (branch += `$${number + offset}${parts[index + 1]!}`));
      branches.push(`SELECT ${position + 1}::int4 AS ${batchColumn}, q.* FROM (${branch}) AS q`);
    }
    text = branches.join(' UNION ALL ');
    shape.batched.set(size, text);
    return text;
  }
}
