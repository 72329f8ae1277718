// CPU time and memory of the processes a phase exercises, read from /proc (Linux): the relay and
// sink children, the bench itself, and the shared services (MariaDB, PostgreSQL, Kafka) for context.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU seconds of one process, or NaN when it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks; // utime, stime (fields 14 and 15)
  } catch {
    return Number.NaN;
  }
}

/** Peak and current resident set size of one process, in MiB (VmHWM, VmRSS). */
export function memoryMiB(pid: number): { peakRssMiB: number; rssMiB: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key: string) =>
      Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { peakRssMiB: kib('VmHWM') / 1024, rssMiB: kib('VmRSS') / 1024 };
  } catch {
    return { peakRssMiB: Number.NaN, rssMiB: Number.NaN };
  }
}

/** Busy and total jiffies of the whole machine (/proc/stat), to tell a saturated box from an idle one. */
export function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (values[3] ?? 0) + (values[4] ?? 0); // idle + iowait
  const total = values.reduce((sum, v) => sum + v, 0);
  return { busy: total - idle, total };
}

export const ticksPerSecond = clockTicks;

/** Pids of the shared services by command name (read-only: the bench never signals them). */
export function servicePids(): Record<'mariadb' | 'postgres' | 'kafka', number[]> {
  const found: Record<'mariadb' | 'postgres' | 'kafka', number[]> = { mariadb: [], postgres: [], kafka: [] };
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      if (comm === 'mariadbd' || comm === 'mysqld') found.mariadb.push(Number(entry));
      else if (comm === 'postgres' || comm.startsWith('postgres:')) found.postgres.push(Number(entry));
      else if (comm === 'java' && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('kafka.Kafka')) {
        found.kafka.push(Number(entry));
      }
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/** CPU seconds per service at one instant, keyed by pid (backends that start or end mid-phase are partly missed). */
export function serviceCpu(): Record<'mariadb' | 'postgres' | 'kafka', Map<number, number>> {
  const pids = servicePids();
  const read = (list: number[]) =>
    new Map(list.map((pid) => [pid, cpuSeconds(pid)] as const).filter(([, s]) => !Number.isNaN(s)));
  return { mariadb: read(pids.mariadb), postgres: read(pids.postgres), kafka: read(pids.kafka) };
}

/** CPU seconds spent between two serviceCpu() readings, counting pids alive at the end (new ones from zero). */
export function serviceCpuDelta(
  before: ReturnType<typeof serviceCpu>,
  after: ReturnType<typeof serviceCpu>,
): Record<'mariadb' | 'postgres' | 'kafka', number> {
  const delta = (a: Map<number, number>, b: Map<number, number>) =>
    [...b].reduce((sum, [pid, seconds]) => sum + seconds - (a.get(pid) ?? 0), 0);
  return {
    mariadb: delta(before.mariadb, after.mariadb),
    postgres: delta(before.postgres, after.postgres),
    kafka: delta(before.kafka, after.kafka),
  };
}
