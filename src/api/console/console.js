// The operator console: five views over the GraphQL API (/graphql). It holds no logic of its own: every
// figure is a field of the API, every action a mutation, with the operator's credential (reader to look,
// admin to act). Data is put in the page as text (textContent), never as HTML.
import uPlot from '/console/uplot.js';

const view = document.getElementById('view');
const statusLine = document.getElementById('status');
const credentialForm = document.getElementById('credential');
const credentialKind = document.getElementById('credential-kind');
const credentialValue = document.getElementById('credential-value');

credentialKind.value = sessionStorage.getItem('empsync.credential.kind') ?? 'api-key';
credentialValue.value = sessionStorage.getItem('empsync.credential') ?? '';

/** Element builder: attributes (on… are listeners), then children (strings become text nodes). */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) if (child !== null && child !== undefined) element.append(child instanceof Node ? child : String(child));
  return element;
}

function say(message, kind = 'info') {
  statusLine.textContent = message;
  statusLine.className = kind === 'error' ? 'error' : '';
}

class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

function credentialHeaders() {
  const credential = sessionStorage.getItem('empsync.credential');
  if (!credential) return {};
  return (sessionStorage.getItem('empsync.credential.kind') ?? 'api-key') === 'bearer' ? { authorization: `Bearer ${credential}` } : { 'x-api-key': credential };
}

async function gql(query, variables = {}) {
  const headers = { ...credentialHeaders(), 'content-type': 'application/json', accept: 'application/json' };
  const response = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = await response.json().catch(() => ({ errors: [{ message: `HTTP ${response.status}` }] }));
  if (body.errors?.length) {
    const [error] = body.errors;
    throw new ApiError(error.message, error.extensions?.code ?? `HTTP_${response.status}`);
  }
  return body.data;
}

function failed(error) {
  const hint = error.code === 'UNAUTHENTICATED' || error.code === 'FORBIDDEN' ? ' Enter a credential with that role above.' : '';
  say(`${error.code ? `${error.code}: ` : ''}${error.message}${hint}`, 'error');
}

const number = (value, digits = 0) => (value === null || value === undefined ? '—' : Number(value).toLocaleString('en', { maximumFractionDigits: digits }));
const seconds = (value) => (value === null || value === undefined ? '—' : value < 1 ? `${Math.round(value * 1000)} ms` : `${number(value, 2)} s`);
const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

function members(list) {
  if (list === null) return 'unknown (the broker did not answer)';
  if (list.length === 0) return 'none: no sink consumes';
  return list.map((m) => `${m.clientId} on ${m.host} (${m.partitions.length} partition${m.partitions.length === 1 ? '' : 's'})`).join(', ');
}

function figures(pairs) {
  return h('dl', { class: 'figures' }, pairs.flatMap(([label, value, cls]) => [h('dt', {}, label), h('dd', cls ? { class: cls } : {}, value)]));
}

function table(caption, headings, rows) {
  return h(
    'div',
    // Scrolls sideways on a phone: focusable, so a keyboard can scroll it too.
    { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': caption },
    h('table', {}, h('caption', {}, caption), h('thead', {}, h('tr', {}, headings.map((heading) => h('th', { scope: 'col' }, heading)))), h('tbody', {}, rows)),
  );
}

// ---------------------------------------------------------------- overview

const overviewFields = `
    metricsSince dlqMessages
    directions { direction source target outboxBacklog parkedAtRelay parkedAtSink consumerLag lastAppliedAt
                 endToEndLagP50Seconds endToEndLagP99Seconds endToEndLagSamples appliedEvents relayActiveHere sinkRunningHere
                 throughputPerSecond figuresFrom
                 relayLeaseHolder sinkGroupMembers { clientId host partitions } }
    drift { rows lastCompletePassAt lastError }
    snapshots { source table done published total rowsPerSecond etaSeconds }`;
const overviewSubscription = `subscription ConsoleOverview { syncStatusUpdates(intervalSeconds: 2) { ${overviewFields} } }`;

/**
 * A GraphQL subscription over SSE (POST, `accept: text/event-stream`): calls `onData` with each result's
 * data until the stream ends (resolves) or fails (throws the first GraphQL error). Stops on `signal`.
 */
async function subscribe(query, onData, signal) {
  const response = await fetch('/graphql', { method: 'POST', headers: { ...credentialHeaders(), 'content-type': 'application/json', accept: 'text/event-stream' }, body: JSON.stringify({ query }), signal });
  if (!(response.headers.get('content-type') ?? '').includes('text/event-stream')) {
    const body = await response.json().catch(() => ({ errors: [{ message: `HTTP ${response.status}` }] }));
    const [error] = body.errors ?? [{ message: `HTTP ${response.status}` }];
    throw new ApiError(error.message, error.extensions?.code ?? `HTTP_${response.status}`);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const message = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(message)?.[1];
      const data = message.split('\n').filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trimStart()).join('\n');
      if (event === 'complete') return;
      if (!data) continue;
      const result = JSON.parse(data);
      if (result.errors?.length) throw new ApiError(result.errors[0].message, result.errors[0].extensions?.code);
      onData(result.data);
    }
  }
}

const history = new Map(); // direction → { times, throughput, backlog, last }
const historyLength = 300;

function record(direction, now) {
  let series = history.get(direction.direction);
  if (!series) history.set(direction.direction, (series = { times: [], throughput: [], backlog: [], last: null }));
  const last = series.last;
  // Every sink's rate when Prometheus says it, else this process's counter's rate between two updates.
  const rate = direction.throughputPerSecond ?? (last && now > last.at ? Math.max(0, (direction.appliedEvents - last.applied) / (now - last.at)) : null);
  series.last = { at: now, applied: direction.appliedEvents };
  series.times.push(now);
  series.throughput.push(rate);
  series.backlog.push(direction.outboxBacklog + (direction.consumerLag ?? 0));
  for (const list of [series.times, series.throughput, series.backlog]) if (list.length > historyLength) list.shift();
  return { series, rate };
}

function chart(container, series) {
  const width = Math.max(200, container.clientWidth || 300);
  return new uPlot(
    {
      width,
      height: 140,
      legend: { show: true },
      scales: { x: { time: true } },
      axes: [{}, { label: 'events/s', size: 50 }, { side: 1, scale: 'backlog', label: 'backlog', grid: { show: false }, size: 50 }],
      series: [{}, { label: 'applied/s', stroke: '#0b5cad', width: 2 }, { label: 'backlog', stroke: '#a4161a', scale: 'backlog', width: 1 }],
    },
    [series.times, series.throughput, series.backlog],
    container,
  );
}

const charts = new Map();

/** The overview, live: one syncStatus per SSE message; the stream is opened again if it ends. */
async function renderOverview(signal) {
  while (!signal.aborted) {
    try {
      await subscribe(overviewSubscription, (data) => drawOverview(data.syncStatusUpdates), signal);
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && error.code !== 'TOO_MANY_STREAMS' && !error.code?.startsWith('HTTP_5')) throw error;
      say(`Live updates interrupted (${error.message}); reconnecting…`, 'error');
    }
    await new Promise((resolve) => setTimeout(resolve, 3000));
  }
}

function drawOverview(status) {
  const now = Date.now() / 1000;
  const cards = status.directions.map((d) => {
    const { series, rate } = record(d, now);
    const chartBox = h('div', { class: 'chart', 'aria-label': `${d.direction}: applied events per second and backlog, last minutes`, role: 'img' });
    const card = h(
      'section',
      { class: 'card', 'aria-labelledby': `dir-${d.source}` },
      h('h2', { id: `dir-${d.source}` }, `${d.source} → ${d.target}`),
      figures([
        ['throughput', rate === null ? '—' : `${number(rate, 1)} /s`],
        ['applied (this process)', number(d.appliedEvents)],
        ['figures from', d.figuresFrom === 'prometheus' ? 'Prometheus (every sink, last minutes)' : 'this process (since it started)'],
        ['end-to-end lag p50', seconds(d.endToEndLagP50Seconds)],
        ['end-to-end lag p99', seconds(d.endToEndLagP99Seconds)],
        ['outbox backlog', number(d.outboxBacklog), d.outboxBacklog > 1000 ? 'warn' : null],
        ['consumer lag', number(d.consumerLag)],
        ['last applied', when(d.lastAppliedAt)],
        ['relay lease holder', d.relayLeaseHolder ? `${d.relayLeaseHolder}${d.relayActiveHere ? ' (this process)' : ''}` : 'no relay running', d.relayLeaseHolder ? null : 'bad'],
        ['sink group members', members(d.sinkGroupMembers), d.sinkGroupMembers?.length === 0 ? 'bad' : null],
        ['parked at relay', number(d.parkedAtRelay), d.parkedAtRelay ? 'bad' : null],
        ['parked at sink', number(d.parkedAtSink), d.parkedAtSink ? 'bad' : null],
      ]),
      chartBox,
    );
    return { card, chartBox, direction: d.direction, series };
  });
  const drift = status.drift;
  const running = status.snapshots.filter((s) => !s.done);
  view.replaceChildren(
    h('h2', { class: 'visually-hidden' }, 'Overview'),
    h('div', { class: 'cards' }, cards.map((c) => c.card)),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'health' },
      h('h2', { id: 'health' }, 'Health'),
      figures([
        ['DLQ topic messages', number(status.dlqMessages), status.dlqMessages ? 'bad' : null],
        ['drifted rows (last pass)', drift ? number(drift.rows) : 'no pass yet', drift?.rows ? 'bad' : null],
        ['last drift pass', when(drift?.lastCompletePassAt)],
        ['snapshots running', running.length ? running.map((s) => `${s.source} ${s.table} ${number(s.published)}/${number(s.total)}`).join(', ') : 'none'],
        ['figures since', when(status.metricsSince)],
      ]),
    ),
  );
  for (const c of cards) {
    charts.get(c.direction)?.destroy();
    charts.set(c.direction, chart(c.chartBox, c.series));
  }
  say(`Live — updated ${new Date().toLocaleTimeString()}`);
}

// ---------------------------------------------------------------- dead letters

const deadLettersQuery = `query ConsoleDeadLetters($all: Boolean) {
  deadLetters(includeReplayed: $all, limit: 200) {
    id store stage code reason status employeId op version currentVersion superseded
    firstSeenAt lastSeenAt seenCount lastError source payload payloadEncoding
  }
}`;
const replayMutation = `mutation ConsoleReplay($ids: [String!], $all: Boolean) { replayDeadLetters(ids: $ids, all: $all) { id outcome detail } }`;

let showReplayed = false;

async function replay(variables) {
  try {
    const { replayDeadLetters: results } = await gql(replayMutation, variables);
    const summary = results.map((r) => `${r.id}: ${r.outcome}${r.detail ? ` (${r.detail})` : ''}`).join('; ');
    say(results.length ? `Replayed — ${summary}` : 'Nothing to replay.', results.some((r) => r.outcome === 'failed') ? 'error' : 'info');
    await show('dead-letters', { keepStatus: true });
  } catch (error) {
    failed(error);
  }
}

async function renderDeadLetters(signal) {
  const { deadLetters } = await gql(deadLettersQuery, { all: showReplayed });
  if (signal.aborted) return;
  const rows = deadLetters.flatMap((letter) => {
    const details = h('tr', { hidden: true }, h('td', { colspan: 8 }, figures([
      ['source', letter.source],
      ['row', `${letter.employeId ?? '—'} (${letter.op ?? '?'}) version ${letter.version ?? '—'}, now ${letter.currentVersion ?? 'no row'}`],
      ['last seen', `${when(letter.lastSeenAt)} (${letter.seenCount}×)`],
      ['last replay error', letter.lastError ?? '—'],
    ]), h('pre', { tabindex: 0, 'aria-label': `event ${letter.id}` }, letter.payloadEncoding === 'utf8' ? letter.payload : `${letter.payloadEncoding}: ${letter.payload}`)));
    const inspect = h('button', {
      type: 'button',
      'aria-expanded': 'false',
      onclick: (event) => {
        details.hidden = !details.hidden;
        event.currentTarget.setAttribute('aria-expanded', String(!details.hidden));
      },
    }, 'Inspect');
    return [
      h(
        'tr',
        { 'data-id': letter.id },
        h('td', {}, letter.id),
        h('td', {}, letter.stage),
        h('td', {}, letter.code),
        h('td', {}, letter.reason),
        h('td', {}, when(letter.firstSeenAt)),
        h('td', { class: letter.status === 'parked' ? 'bad' : 'good' }, letter.status, letter.superseded ? ' (superseded)' : ''),
        h('td', {}, inspect),
        h('td', {}, letter.status === 'parked' ? h('button', { type: 'button', onclick: () => replay({ ids: [letter.id] }) }, `Replay ${letter.id}`) : ''),
      ),
      details,
    ];
  });
  const parked = deadLetters.filter((l) => l.status === 'parked').length;
  view.replaceChildren(
    h('h2', {}, 'Dead letters'),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'button', class: 'primary', disabled: parked === 0, onclick: () => replay({ all: true }) }, 'Replay all'),
      h('label', {}, h('input', { type: 'checkbox', checked: showReplayed, onchange: (e) => { showReplayed = e.currentTarget.checked; show('dead-letters'); } }), ' include replayed'),
    ),
    table(`${parked} parked event${parked === 1 ? '' : 's'}`, ['id', 'stage', 'code', 'reason', 'first seen', 'status', 'event', 'action'], rows),
  );
}

// ---------------------------------------------------------------- conflicts

const conflictsQuery = `query ConsoleConflicts {
  syncConflicts(limit: 50) {
    store employeId kind outcome policy localVersion localOrigin incomingVersion incomingOrigin detectedAt
    mysqlRow { ...ConsoleRow } postgresRow { ...ConsoleRow }
  }
}
fragment ConsoleRow on EmployeType { nom prenom email poste salaireExact department dateEmbauche syncState { version origin } }`;
const overrideMutation = `mutation ConsoleOverride($id: Int!, $keep: String!) { resolveConflict(employeId: $id, keep: $keep) { employeId kept version } }`;
const rowFields = ['nom', 'prenom', 'email', 'poste', 'salaireExact', 'department', 'dateEmbauche'];

function sideBySide(mysqlRow, postgresRow) {
  const cell = (row, field) => {
    const differs = mysqlRow && postgresRow && mysqlRow[field] !== postgresRow[field];
    return h('td', differs ? { class: 'differs' } : {}, row ? String(row[field]) : 'no row', differs ? h('span', { class: 'visually-hidden' }, ' (differs)') : null);
  };
  return table('Both versions of the row now', ['column', 'MySQL', 'PostgreSQL'], [
    ...rowFields.map((field) => h('tr', {}, h('th', { scope: 'row' }, field), cell(mysqlRow, field), cell(postgresRow, field))),
    h('tr', {}, h('th', { scope: 'row' }, 'version'), h('td', {}, mysqlRow?.syncState?.version ?? '—'), h('td', {}, postgresRow?.syncState?.version ?? '—')),
  ]);
}

async function override(id, keep) {
  try {
    const { resolveConflict: result } = await gql(overrideMutation, { id, keep });
    say(`Employee ${result.employeId}: ${result.kept}'s row kept (version ${result.version}), re-published to the other side.`);
    await show('conflicts', { keepStatus: true });
  } catch (error) {
    failed(error);
  }
}

async function renderConflicts(signal) {
  const { syncConflicts } = await gql(conflictsQuery);
  if (signal.aborted) return;
  const sections = syncConflicts.map((c, i) =>
    h(
      'section',
      { class: 'card', 'aria-labelledby': `conflict-${i}` },
      h('h3', { id: `conflict-${i}` }, `Employee ${c.employeId} — ${c.kind} conflict in ${c.store}, ${when(c.detectedAt)}`),
      figures([
        ['outcome', `${c.outcome} (${c.policy})`],
        ['local', `${c.localOrigin} version ${c.localVersion}`],
        ['incoming', `${c.incomingOrigin} version ${c.incomingVersion}`],
      ]),
      sideBySide(c.mysqlRow, c.postgresRow),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', disabled: !c.mysqlRow, onclick: () => override(c.employeId, 'mysql') }, `Keep MySQL's row for ${c.employeId}`),
        h('button', { type: 'button', disabled: !c.postgresRow, onclick: () => override(c.employeId, 'postgres') }, `Keep PostgreSQL's row for ${c.employeId}`),
      ),
    ),
  );
  view.replaceChildren(h('h2', {}, 'Conflicts'), sections.length ? h('div', {}, sections) : h('p', {}, 'No conflict recorded.'));
}

// ---------------------------------------------------------------- drift

const divergenceFields = 'table id kind columns source repair mysqlVersion postgresVersion';
const driftQuery = `query ConsoleDrift { syncStatus { drift { rows lastCompletePassAt lastPassSeconds intervalSeconds lastError tables { table rows } divergences { ${divergenceFields} } } } }`;
const checkMutation = `mutation ConsoleCheckDrift($repair: Boolean) {
  checkDrift(repair: $repair) {
    compared divergent inFlight repaired unrepaired seconds startedAt notes
    divergences { ${divergenceFields} }
  }
}`;
let lastReport = null;

async function check(repair, button) {
  button.disabled = true;
  say(repair ? 'Repairing: comparing, repairing through the pipeline, verifying…' : 'Comparing both stores…');
  try {
    lastReport = (await gql(checkMutation, { repair })).checkDrift;
    const r = lastReport;
    say(repair ? `Repair done: ${r.repaired} repaired, ${r.unrepaired} still differ.` : `Check done: ${r.divergent} divergent row(s) of ${r.compared}.`, r.unrepaired ? 'error' : 'info');
    await show('drift', { keepStatus: true });
  } catch (error) {
    failed(error);
    button.disabled = false;
  }
}

function divergenceTable(caption, divergences) {
  return table(
    caption,
    ['table', 'id', 'kind', 'columns', 'MySQL version', 'PostgreSQL version', 'repair'],
    divergences.map((d) =>
      h('tr', {}, h('td', {}, d.table), h('td', { class: 'num' }, d.id), h('td', {}, d.kind), h('td', {}, d.columns.join(', ') || '—'), h('td', {}, d.mysqlVersion ?? '—'), h('td', {}, d.postgresVersion ?? '—'), h('td', {}, `${d.repair} from ${d.source}`)),
    ),
  );
}

async function renderDrift(signal) {
  const { syncStatus } = await gql(driftQuery);
  if (signal.aborted) return;
  const drift = syncStatus.drift;
  const report = lastReport;
  view.replaceChildren(
    h('h2', {}, 'Drift'),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'drift-last' },
      h('h3', { id: 'drift-last' }, 'Last scheduled pass'),
      drift
        ? figures([
            ['rows that differed', number(drift.rows), drift.rows ? 'bad' : 'good'],
            ['at', when(drift.lastCompletePassAt)],
            ['took', seconds(drift.lastPassSeconds)],
            ['every', seconds(drift.intervalSeconds)],
            ['error', drift.lastError ?? 'none', drift.lastError ? 'bad' : null],
            ...drift.tables.map((t) => [`table ${t.table}`, number(t.rows)]),
          ])
        : h('p', {}, 'No drift check pass recorded yet.'),
      drift?.divergences.length ? divergenceTable(`${drift.divergences.length} divergent row(s) at that pass`, drift.divergences) : null,
    ),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'button', onclick: (e) => check(false, e.currentTarget) }, 'Check now'),
      h('button', { type: 'button', class: 'primary', onclick: (e) => check(true, e.currentTarget) }, 'Repair'),
    ),
    report
      ? h(
          'section',
          { 'aria-labelledby': 'drift-report' },
          h('h3', { id: 'drift-report' }, `Pass of ${when(report.startedAt)}: ${report.divergent} divergent, ${report.repaired} repaired, ${report.unrepaired} unrepaired, ${report.inFlight} in flight (${seconds(report.seconds)})`),
          report.notes.map((note) => h('p', {}, note)),
          divergenceTable(`${report.divergences.length} divergent row(s) shown`, report.divergences),
        )
      : null,
  );
}

// ---------------------------------------------------------------- schema

const schemaQuery = `query ConsoleSchema { syncSchema { table schemaVersion columns { name type mysql { engineType nullable } postgres { engineType nullable } } mismatches { column reason } } }`;

async function renderSchema(signal) {
  const { syncSchema } = await gql(schemaQuery);
  if (signal.aborted) return;
  const engine = (c) => (c ? `${c.engineType}${c.nullable ? '' : ' not null'}` : h('span', { class: 'bad' }, 'missing'));
  view.replaceChildren(
    h('h2', {}, 'Schema'),
    ...syncSchema.map((t) =>
      h(
        'section',
        { 'aria-labelledby': `schema-${t.table}` },
        h('h3', { id: `schema-${t.table}` }, `${t.table} (schema ${t.schemaVersion})`),
        t.mismatches.length
          ? h('ul', { class: 'bad' }, t.mismatches.map((m) => h('li', {}, `${m.column}: ${m.reason}`)))
          : h('p', { class: 'good' }, 'No mismatch: every column syncs.'),
        table('Columns in both engines', ['column', 'synced as', 'MySQL', 'PostgreSQL'], t.columns.map((c) => h('tr', {}, h('th', { scope: 'row' }, c.name), h('td', {}, c.type ?? h('span', { class: 'warn' }, 'not synced')), h('td', {}, engine(c.mysql)), h('td', {}, engine(c.postgres))))),
      ),
    ),
  );
}

// ---------------------------------------------------------------- routing

const views = {
  overview: { render: renderOverview, refreshMs: 0 },
  'dead-letters': { render: renderDeadLetters, refreshMs: 0 },
  conflicts: { render: renderConflicts, refreshMs: 0 },
  drift: { render: renderDrift, refreshMs: 0 },
  schema: { render: renderSchema, refreshMs: 0 },
};
let current = { name: null, controller: new AbortController(), timer: null };

async function show(name, { keepStatus = false } = {}) {
  const entry = views[name] ?? views.overview;
  const viewName = views[name] ? name : 'overview';
  if (current.name !== viewName) {
    current.controller.abort();
    clearTimeout(current.timer);
    for (const c of charts.values()) c.destroy();
    charts.clear();
    current = { name: viewName, controller: new AbortController(), timer: null };
    view.replaceChildren(h('p', {}, 'Loading…'));
  }
  for (const link of document.querySelectorAll('nav a')) {
    if (link.dataset.view === viewName) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `empsync console — ${document.querySelector(`nav a[data-view="${viewName}"]`).textContent}`;
  const { signal } = current.controller;
  if (!keepStatus) say('');
  try {
    await entry.render(signal);
  } catch (error) {
    if (!signal.aborted) {
      failed(error);
      if (view.textContent === 'Loading…') view.replaceChildren(h('p', {}, 'Nothing to show.'));
    }
  }
  if (entry.refreshMs && !signal.aborted) {
    clearTimeout(current.timer);
    current.timer = setTimeout(() => show(viewName, { keepStatus: true }), entry.refreshMs);
  }
}

credentialForm.addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem('empsync.credential', credentialValue.value.trim());
  sessionStorage.setItem('empsync.credential.kind', credentialKind.value);
  history.clear();
  show(location.hash.slice(1) || 'overview');
});
addEventListener('hashchange', () => show(location.hash.slice(1)));
addEventListener('resize', () => {
  for (const c of charts.values()) c.setSize({ width: Math.max(200, c.root.parentElement.clientWidth), height: 140 });
});
show(location.hash.slice(1) || 'overview');
