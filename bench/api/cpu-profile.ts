// Reads a V8 .cpuprofile (written by `node --cpu-prof`) and says where the server's CPU went: self time
// per package (node_modules/<name>, node: internals, the project's src/) and per hottest function,
// counting only the samples taken while the load ran.
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** A span of the monotonic clock in microseconds (`process.hrtime.bigint() / 1000n`, V8's time base on Linux). */
export interface ProfileWindow {
  fromMicros: number;
  toMicros: number;
}

/** The samples of each node taken inside `window` (start-up and shutdown left out), or all hits. */
function hitsPerNode(profile: CpuProfile, window?: ProfileWindow): Map<number, number> {
  const hits = new Map<number, number>();
  if (!window || !profile.samples || !profile.timeDeltas) {
    for (const node of profile.nodes) hits.set(node.id, node.hitCount ?? 0);
    return hits;
  }
  let at = profile.startTime;
  profile.samples.forEach((id, index) => {
    at += profile.timeDeltas![index] ?? 0;
    if (at >= window.fromMicros && at <= window.toMicros) hits.set(id, (hits.get(id) ?? 0) + 1);
  });
  return hits;
}

export interface ProfileShare {
  name: string;
  percent: number;
}

export interface ProfileSummary {
  samples: number;
  byPackage: ProfileShare[];
  topFunctions: ProfileShare[];
}

function packageOf(url: string): string {
  if (url === '') return '(native / idle / GC)';
  if (url.startsWith('node:')) return 'node: internals';
  const inModules = url.lastIndexOf('node_modules/');
  if (inModules >= 0) {
    const parts = url.slice(inModules + 'node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const inSource = url.indexOf('/src/');
  return inSource >= 0
    ? `empsync ${url
        .slice(inSource + 1)
        .split('/')
        .slice(0, 2)
        .join('/')}`
    : url;
}

function shares(totals: Map<string, number>, all: number, limit: number): ProfileShare[] {
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, hits]) => ({ name, percent: Math.round((hits / all) * 1000) / 10 }));
}

export async function summarizeCpuProfile(
  path: string,
  window?: ProfileWindow,
  limit = 15,
): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(path, 'utf8')) as CpuProfile;
  const hitsOf = hitsPerNode(profile, window);
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let all = 0;
  for (const node of profile.nodes) {
    const hits = hitsOf.get(node.id) ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    if (hits === 0 || functionName === '(idle)' || functionName === '(program)') continue;
    all += hits;
    const pkg = packageOf(url);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + hits);
    const where = url ? `${pkg} ${url.split('/').pop()}:${lineNumber + 1}` : pkg;
    const name = `${functionName || '(anonymous)'} (${where})`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + hits);
  }
  return {
    samples: all,
    byPackage: shares(byPackage, all, limit),
    topFunctions: shares(byFunction, all, limit),
  };
}
