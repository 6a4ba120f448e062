/**
 * Process helpers shared by the launchers: liveness, bounded waits, pid files,
 * running a command (optionally as another OS user) and tails of log files.
 */
import { execFile, type ExecFileOptions } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, fstatSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** An OS identity to run a child as (used for PostgreSQL when we are root). */
export interface RunAs {
  name: string;
  uid: number;
  gid: number;
}

/**
 * True when a process with this pid runs (signal 0 probes without killing).
 * A zombie counts as gone: daemons are reparented to pid 1, which in some
 * containers reaps only now and then, and a zombie has already exited.
 */
export function isAlive(pid: number | null | undefined): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else (e.g. postgres run as `tessera`).
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S …"; comm may hold spaces or parentheses, so read after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return process.platform !== 'linux'; // no /proc: trust the signal probe
  }
}

/**
 * The process's command line, or null when it is gone or unreadable (non-Linux).
 * Used to make sure a pid from a stale file still is the process we started
 * before signalling it: pids get reused.
 */
export function commandLine(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return null;
  }
}

/** True when `pid` is alive and (where /proc exists) its command line contains `needle`. */
export function isOurProcess(pid: number | null | undefined, needle: string): boolean {
  if (!pid || !isAlive(pid)) return false;
  const cmd = commandLine(pid);
  return cmd === null ? true : cmd.includes(needle);
}

/** Waits until `pid` has exited; resolves false if it is still alive after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** Reads the first line of a pid file as a pid; null when missing or garbled. */
export function readPidFile(path: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').split('\n')[0] ?? '', 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Output of a finished command. */
export interface RunResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion and rejects with its output when it fails.
 * With `as`, runs it under that uid/gid (we are root, the child must not be).
 */
export function run(file: string, args: string[], opts: { as?: RunAs | null; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const options: ExecFileOptions = {
    cwd: opts.cwd ?? (opts.as ? '/' : undefined),
    env: opts.env ?? childEnv(opts.as),
    timeout: opts.timeoutMs ?? 120_000,
    maxBuffer: 16 * 1024 * 1024,
    encoding: 'utf8',
  };
  if (opts.as) {
    options.uid = opts.as.uid;
    options.gid = opts.as.gid;
  }
  return new Promise((resolve, reject) => {
    execFile(file, args, options, (err, stdout, stderr) => {
      const out = { stdout: String(stdout), stderr: String(stderr) };
      if (err) {
        const detail = `${out.stderr}${out.stdout}`.trim();
        reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}${detail ? `\n${detail}` : ''}`));
      } else resolve(out);
    });
  });
}

/**
 * The environment for a child run as another user: ours, with HOME/USER/LOGNAME
 * switched, since some tools read them (and $HOME of root is not readable).
 */
export function childEnv(as?: RunAs | null, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  if (as) {
    env.HOME = '/';
    env.USER = as.name;
    env.LOGNAME = as.name;
  }
  return env;
}

/** The last `lines` lines of a text file (reads at most the last 64 KiB). */
export function tailFile(path: string, lines = 30): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return `(no log at ${path})`;
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    return buf.toString('utf8').split('\n').slice(-lines - 1).join('\n').trimEnd();
  } finally {
    closeSync(fd);
  }
}

/** Polls `check` until it returns true or `timeoutMs` passes; `abort` may fail early. */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, opts: { intervalMs?: number; abort?: () => string | null } = {}): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const why = opts.abort?.();
    if (why) throw new Error(why);
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(opts.intervalMs ?? 200);
  }
}
