/**
 * Cores: which ones the servers get and which one the load generator gets
 * (`taskset`), how busy each was during a run (/proc/stat), and a process's
 * resident memory (/proc/<pid>/status). Linux only; elsewhere the bench runs
 * unpinned and says so.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Where servers and the load generator run. */
export interface Pinning {
  pinned: boolean;
  /** CPUs for every server process (apps, baselines, PostgreSQL, Redis, NGINX). */
  serverCpus: number[];
  /** CPU for the load generator. */
  generatorCpus: number[];
  /** Why pinning is off, when it is. */
  reason?: string;
}

/** Parses a kernel CPU list such as `0-3,6`. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    if (!part) continue;
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || Number.isNaN(a)) continue;
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

/** The CPUs this process may run on. */
export function allowedCpus(pid: number | 'self' = 'self'): number[] | null {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('Cpus_allowed_list:'));
    return line ? parseCpuList(line.split(':')[1] ?? '') : null;
  } catch {
    return null;
  }
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Servers on every allowed CPU but the last; the generator alone on the last. */
export function planPinning(disabled = false): Pinning {
  const all = allowedCpus() ?? Array.from({ length: availableParallelism() }, (_, i) => i);
  const unpinned = (reason: string): Pinning => ({ pinned: false, serverCpus: all, generatorCpus: all, reason });
  if (disabled) return unpinned('disabled by --no-pin');
  if (process.platform !== 'linux') return unpinned(`not Linux (${process.platform})`);
  if (all.length < 2) return unpinned(`only ${all.length} CPU available`);
  if (!hasTaskset()) return unpinned('taskset not found (util-linux)');
  return { pinned: true, serverCpus: all.slice(0, -1), generatorCpus: all.slice(-1) };
}

/** The command prefix that runs a program on `cpus` (empty when not pinning). */
export function tasksetPrefix(p: Pinning, cpus: number[]): string[] {
  return p.pinned ? ['taskset', '-c', cpus.join(',')] : [];
}

/** Pids of `pid` and all its descendants (from /proc/<pid>/stat parent links). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop() as number;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

/**
 * Pins `pid`, every thread of it and every process below it to `cpus`.
 * Processes forked later inherit it. Returns how many processes were pinned.
 */
export function pinTree(pid: number, cpus: number[]): number {
  let n = 0;
  for (const p of processTree(pid)) {
    try {
      execFileSync('taskset', ['-a', '-p', '-c', cpus.join(','), String(p)], { stdio: 'ignore' });
      n += 1;
    } catch {
      // exited meanwhile
    }
  }
  return n;
}

/** Busy and total jiffies per CPU, from /proc/stat. */
export type CpuTimes = Map<number, { busy: number; total: number }>;

export function cpuTimes(): CpuTimes {
  const out: CpuTimes = new Map();
  try {
    for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
      const m = /^cpu(\d+)\s+(.*)$/.exec(line);
      if (!m) continue;
      // user nice system idle iowait irq softirq steal …: idle + iowait are not busy.
      const v = (m[2] ?? '').split(/\s+/).map(Number);
      const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
      const idle = (v[3] ?? 0) + (v[4] ?? 0);
      out.set(Number(m[1]), { busy: total - idle, total });
    }
  } catch {
    // not Linux
  }
  return out;
}

/** Share (0..1) of the time `cpus` were busy between two samples; null without /proc. */
export function busyShare(before: CpuTimes, after: CpuTimes, cpus: number[]): number | null {
  let busy = 0;
  let total = 0;
  for (const c of cpus) {
    const a = before.get(c);
    const b = after.get(c);
    if (!a || !b) return null;
    busy += b.busy - a.busy;
    total += b.total - a.total;
  }
  return total > 0 ? busy / total : null;
}

/** Resident set size in MiB (VmRSS), or null when the process is gone. */
export function rssMiB(pid: number): number | null {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
    const kb = Number(/(\d+)/.exec(line ?? '')?.[1]);
    return Number.isFinite(kb) ? kb / 1024 : null;
  } catch {
    return null;
  }
}

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/**
 * CPU seconds (user + system) used so far by `roots` and every process below
 * them. On a shared machine this, not wall-clock busy time, tells how much
 * work our servers did: other tenants' load does not count here.
 */
export function treeCpuSeconds(roots: number[]): number {
  const seen = new Set<number>();
  let ticks = 0;
  for (const root of roots) {
    if (root <= 0) continue;
    for (const pid of processTree(root)) {
      if (seen.has(pid)) continue;
      seen.add(pid);
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        // After "pid (comm) ": state is field 3, so utime, stime, cutime, cstime (14–17) sit at 11–14.
        // cutime/cstime hold reaped children: a PostgreSQL backend or NGINX worker that exits
        // mid-case moves its CPU into its parent's instead of vanishing from the sum.
        ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
      } catch {
        // exited meanwhile
      }
    }
  }
  return ticks / clockTicks();
}
