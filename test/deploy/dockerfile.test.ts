// A small Dockerfile lint (there is no Docker engine here to build the image): pinned base images,
// production-only dependencies from the lock file, a non-root user, a healthcheck, exec-form
// entrypoint, and a .dockerignore that keeps local state out of the build context.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { isPinnedImage, readRepoFile, repoPath } from './deploy-files.ts';

type Instruction = { keyword: string; args: string; line: number };

/** Instructions with line continuations joined and comments dropped (enough for this lint). */
function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) return;
    if (pending && line.startsWith('#')) return;
    if (!pending) startLine = index + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = pending + line;
    pending = '';
    const match = /^(\S+)\s*(.*)$/.exec(full);
    if (match) instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!, line: startLine });
  });
  return instructions;
}

/** Problems found in a Dockerfile; an empty list means it passes. */
function lintDockerfile(text: string): string[] {
  const problems: string[] = [];
  const instructions = parseDockerfile(text);
  const args = new Map<string, string>();
  const stages: string[] = [];
  let finalStageStart = -1;
  instructions.forEach((instruction, index) => {
    const { keyword, args: rest, line } = instruction;
    if (keyword === 'ARG') {
      const [name, value] = rest.split('=', 2);
      if (name && value !== undefined) args.set(name.trim(), value.trim());
    }
    if (keyword === 'FROM') {
      const [imageWord = '', , alias] = rest.split(/\s+/);
      const image = imageWord.replace(
        /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$/,
        (_all, name: string) => args.get(name) ?? `\${${name}}`,
      );
      if (!stages.includes(image) && !isPinnedImage(image))
        problems.push(`line ${line}: FROM ${image} is not pinned to a release tag`);
      if (alias) stages.push(alias);
      finalStageStart = index;
    }
    if (keyword === 'ADD' && /(https?|ftp):\/\//.test(rest))
      problems.push(`line ${line}: ADD of a URL (use a pinned package or COPY)`);
    if (keyword === 'RUN' && /\bnpm (install|i)\b/.test(rest))
      problems.push(`line ${line}: npm install (use npm ci with the lock file)`);
    if (keyword === 'RUN' && /\b(curl|wget)\b[^|]*\|\s*(ba)?sh\b/.test(rest))
      problems.push(`line ${line}: pipes a download into a shell`);
  });
  if (finalStageStart < 0) return ['no FROM'];
  if (
    !instructions.some(
      (instruction) =>
        instruction.keyword === 'RUN' &&
        /\bnpm ci\b/.test(instruction.args) &&
        /--omit=dev\b/.test(instruction.args),
    )
  ) {
    problems.push('dependencies are not installed with `npm ci --omit=dev`');
  }
  const finalStage = instructions.slice(finalStageStart);
  const lastIndex = (keyword: string) =>
    finalStage.map((instruction) => instruction.keyword).lastIndexOf(keyword);
  const userIndex = lastIndex('USER');
  const user = userIndex >= 0 ? finalStage[userIndex]!.args.split(':')[0]!.trim() : undefined;
  if (user === undefined) problems.push('the final stage sets no USER (it would run as root)');
  else if (user === 'root' || user === '0') problems.push(`the final stage runs as ${user}`);
  for (const keyword of ['CMD', 'ENTRYPOINT']) {
    const index = lastIndex(keyword);
    if (index >= 0 && userIndex > index) problems.push(`USER is set after ${keyword}`);
    if (index >= 0 && !finalStage[index]!.args.startsWith('['))
      problems.push(`${keyword} is not in exec form (signals would not reach node)`);
  }
  if (lastIndex('HEALTHCHECK') < 0) problems.push('no HEALTHCHECK');
  return problems;
}

const dockerfile = readRepoFile('Dockerfile');

describe('Dockerfile', () => {
  it('passes the lint', () => {
    assert.deepEqual(lintDockerfile(dockerfile), []);
  });

  it('the lint bites on the usual mistakes', () => {
    const base =
      'FROM node:24.21.0-slim\nRUN npm ci --omit=dev\nUSER node\nHEALTHCHECK CMD ["true"]\nCMD ["all"]\n';
    assert.deepEqual(lintDockerfile(base), []);
    const cases: [string, RegExp][] = [
      [base.replace('node:24.21.0-slim', 'node:latest'), /not pinned/],
      [base.replace('node:24.21.0-slim', 'node'), /not pinned/],
      [base.replace('USER node\n', ''), /no USER/],
      [base.replace('USER node', 'USER root'), /runs as root/],
      [
        base.replace('USER node\n', '').replace('CMD ["all"]\n', 'CMD ["all"]\nUSER node\n'),
        /USER is set after CMD/,
      ],
      [base.replace('HEALTHCHECK CMD ["true"]\n', ''), /no HEALTHCHECK/],
      [`${base}ADD https://example.com/x.tgz /x\n`, /ADD of a URL/],
      [base.replace('npm ci --omit=dev', 'npm install'), /npm install/],
      [base.replace('CMD ["all"]', 'CMD node src/main.ts all'), /exec form/],
    ];
    for (const [text, problem] of cases) {
      assert.ok(
        lintDockerfile(text).some((message) => problem.test(message)),
        `${problem} in:\n${text}`,
      );
    }
  });

  it('builds on the Node major version the project pins', () => {
    const defaultImage = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1];
    assert.ok(defaultImage, 'ARG NODE_IMAGE has a default');
    assert.match(defaultImage, /^node:24\.\d+\.\d+-slim$/);
    const packageJson = JSON.parse(readRepoFile('package.json')) as {
      engines: { node: string };
      devDependencies: Record<string, string>;
    };
    assert.match(packageJson.engines.node, />=24/);
    const pinnedNode = packageJson.devDependencies['node'];
    if (pinnedNode)
      assert.equal(
        defaultImage,
        `node:${pinnedNode}-slim`,
        'the image runs the same Node as the local stack',
      );
  });

  it('runs the bundle of src/main.ts, built in a stage of its own, with the `all` role by default, on 0.0.0.0:8000, checking /readyz', () => {
    const instructions = parseDockerfile(dockerfile);
    const last = (keyword: string) =>
      instructions.filter((instruction) => instruction.keyword === keyword).at(-1)?.args;
    assert.deepEqual(JSON.parse(last('ENTRYPOINT')!), ['node', 'dist/main.mjs']);
    assert.deepEqual(JSON.parse(last('CMD')!), ['all']);
    assert.ok(existsSync(repoPath('src', 'main.ts')));
    // dist/main.mjs is what scripts/build.mjs writes (test/scripts/build.test.ts runs it), in the build stage.
    assert.ok(instructions.some((i) => i.keyword === 'RUN' && /node scripts\/build\.mjs/.test(i.args)), 'the build stage runs scripts/build.mjs');
    assert.ok(instructions.some((i) => i.keyword === 'COPY' && /--from=build\b.*\/app\/dist \.\/dist/.test(i.args)), 'the runtime copies dist/ from it');
    assert.match(readRepoFile('scripts', 'build.mjs'), /entryPoints: \['src\/main\.ts'\]/);
    assert.match(last('HEALTHCHECK')!, /fetch\(.*127\.0\.0\.1.*\/readyz/);
    assert.match(
      instructions
        .filter((instruction) => instruction.keyword === 'ENV')
        .map((instruction) => instruction.args)
        .join(' '),
      /HTTP_HOST=0\.0\.0\.0/,
    );
    assert.equal(last('EXPOSE'), '8000');
    assert.equal(last('USER'), 'node');
  });

  it('copies only files that exist, and no dev-only tree', () => {
    for (const instruction of parseDockerfile(dockerfile).filter(
      (instruction) => instruction.keyword === 'COPY',
    )) {
      const words = instruction.args.split(/\s+/).filter((word) => !word.startsWith('--'));
      if (/^--from=/.test(instruction.args)) continue;
      for (const source of words.slice(0, -1)) {
        assert.ok(existsSync(repoPath(source)), `COPY source ${source} exists`);
        assert.ok(!/^(test|node_modules|\.git|\.cache)\b/.test(source), `COPY ${source}`);
      }
    }
  });

  it('has a .dockerignore that keeps local state and secrets out and the app in', () => {
    const patterns = readRepoFile('.dockerignore')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    for (const required of ['node_modules/', '.cache/', '.git/', '.env', 'test/', 'coverage/', '*.log']) {
      assert.ok(patterns.includes(required), `.dockerignore lists ${required}`);
    }
    for (const needed of ['src', 'src/', 'package.json', 'package-lock.json', '.npmrc']) {
      assert.ok(!patterns.includes(needed), `.dockerignore must not exclude ${needed}`);
    }
    assert.ok(patterns.indexOf('!scripts/build.mjs') > patterns.indexOf('scripts/'), '.dockerignore lets scripts/build.mjs in');
  });
});
