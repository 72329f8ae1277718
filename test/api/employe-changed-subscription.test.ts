// The employeChanged subscription over SSE (fetch with accept: text/event-stream) against the real `all`
// role: changes made through the API and by plain SQL in PostgreSQL arrive from Kafka, the department
// argument filters them, and stopping the role ends open streams instead of hanging on them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dropTestDatabases, testConfig } from '../support/test-env.ts';
import { employeInput, startApi, type RunningApi } from './api-client.ts';

const config = testConfig('api_subscription');
let api: RunningApi;
let stopped = false;

interface Change {
  op: 'CREATE' | 'UPDATE' | 'DELETE';
  origin: string;
  version: string;
  employe: { id: number; email: string; department: string };
}

/** One SSE subscription: yields the `next` payloads as they come. */
class EventStream {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffer = '';
  readonly contentType: string;

  private constructor(response: Response) {
    this.#reader = response.body!.getReader();
    this.contentType = response.headers.get('content-type') ?? '';
  }

  static async open(department?: string, method: 'POST' | 'GET' = 'POST'): Promise<EventStream> {
    const args = department ? `(department: ${JSON.stringify(department)})` : '';
    const query = `subscription { employeChanged${args} { op origin version employe { id email department } } }`;
    const response =
      method === 'POST'
        ? await fetch(api.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
            body: JSON.stringify({ query }),
          })
        : await fetch(`${api.url}?query=${encodeURIComponent(query)}`, { headers: { accept: 'text/event-stream' } });
    assert.equal(response.status, 200);
    return new EventStream(response);
  }

  /** The next change, or null when none comes within `timeoutMs` or the stream ends. */
  async next(timeoutMs: number): Promise<Change | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = this.#buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        const lines = block.split('\n');
        const event = lines.find((line) => line.startsWith('event:'))?.slice(6).trim();
        const data = lines
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trim())
          .join('\n');
        if (event === 'next' && data) {
          const payload = JSON.parse(data) as { data?: { employeChanged: Change }; errors?: unknown };
          assert.equal(payload.errors, undefined, data);
          return payload.data!.employeChanged;
        }
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) return null;
      let timer: NodeJS.Timeout | undefined;
      const chunk = await Promise.race([
        this.#reader.read(),
        new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), left))),
      ]);
      clearTimeout(timer);
      if (chunk === null) return null;
      if (chunk.done) return null;
      this.#buffer += this.#decoder.decode(chunk.value, { stream: true });
    }
  }

  /** Resolves true when the server ends the stream within `timeoutMs`. */
  async ended(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      const chunk = await Promise.race([
        this.#reader.read().catch(() => ({ done: true as const, value: undefined })),
        new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), deadline - Date.now()))),
      ]);
      clearTimeout(timer);
      if (chunk?.done) return true;
    }
    return false;
  }

  async close(): Promise<void> {
    await this.#reader.cancel().catch(() => undefined);
  }
}

/** Waits for the change of employee `email` (other changes are skipped), with a deadline. */
async function changeOf(stream: EventStream, email: string, timeoutMs = 15_000): Promise<Change> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const change = await stream.next(deadline - Date.now());
    assert.ok(change, `a change of ${email} within ${timeoutMs} ms`);
    if (change.employe.email === email) return change;
  }
}

const create = `mutation ($input: EmployeInput!) { createEmploye(input: $input) { id } }`;

describe('subscription employeChanged (SSE, fed from Kafka)', () => {
  before(async () => {
    api = await startApi(config);
  });
  after(async () => {
    if (!stopped) await api?.running.stop();
    await dropTestDatabases(config);
  });

  it('streams the creates, updates and deletes made through the API', async () => {
    const stream = await EventStream.open();
    assert.match(stream.contentType, /text\/event-stream/);
    const { data } = await api.gql<{ createEmploye: { id: number } }>(create, { input: employeInput({ email: 'sse1@example.fr' }) });
    const id = data!.createEmploye.id;
    const created = await changeOf(stream, 'sse1@example.fr');
    assert.equal(created.op, 'CREATE');
    assert.equal(created.origin, 'mysql');
    assert.equal(created.employe.id, id);
    await api.gql(`mutation ($id: Int!, $input: EmployeInput!) { updateEmploye(id: $id, input: $input) { id } }`, {
      id,
      input: employeInput({ email: 'sse1@example.fr', department: 'Sales' }),
    });
    const updated = await changeOf(stream, 'sse1@example.fr');
    assert.equal(updated.op, 'UPDATE');
    assert.equal(updated.employe.department, 'Sales');
    assert.ok(BigInt(updated.version) > BigInt(created.version));
    await api.gql(`mutation ($id: Int!) { deleteEmploye(id: $id) }`, { id });
    assert.equal((await changeOf(stream, 'sse1@example.fr')).op, 'DELETE');
    await stream.close();
  });

  it('streams a change made by plain SQL in PostgreSQL, with origin postgres', async () => {
    const stream = await EventStream.open();
    await api.running.stores.postgres.employees.insert({
      nom: 'Sql',
      prenom: 'Client',
      email: 'psql@example.fr',
      poste: 'DBA',
      salaire: '100.00',
      department: 'Ops',
    });
    const change = await changeOf(stream, 'psql@example.fr');
    assert.equal(change.op, 'CREATE');
    assert.equal(change.origin, 'postgres');
    assert.ok(change.employe.id < 0, 'PostgreSQL-born ids are negative');
    await stream.close();
  });

  it('keeps to one department when asked', async () => {
    const sales = await EventStream.open('Sales');
    await api.gql(create, { input: employeInput({ email: 'it-only@example.fr', department: 'IT' }) });
    await api.gql(create, { input: employeInput({ email: 'sales-only@example.fr', department: 'Sales' }) });
    const first = await sales.next(15_000);
    assert.ok(first);
    assert.equal(first.employe.email, 'sales-only@example.fr');
    assert.equal(await sales.next(500), null, 'the IT change never comes');
    await sales.close();
  });

  it('works over GET, as EventSource sends it', async () => {
    const stream = await EventStream.open(undefined, 'GET');
    await api.gql(create, { input: employeInput({ email: 'sse-get@example.fr' }) });
    assert.equal((await changeOf(stream, 'sse-get@example.fr')).op, 'CREATE');
    await stream.close();
  });

  it('ends open streams when the role stops', async () => {
    const stream = await EventStream.open();
    const started = Date.now();
    await api.running.stop();
    stopped = true;
    assert.ok(Date.now() - started < 10_000, 'stop does not wait for the client');
    assert.equal(await stream.ended(5000), true);
  });
});
