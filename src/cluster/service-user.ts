/**
 * Root handling. PostgreSQL refuses to run as root and CI runs as root, so
 * when we are root the PostgreSQL processes run as a system user (`tessera`,
 * created if missing; override with TESSERA_PG_OS_USER). Everything else
 * (Redis, NGINX's master, the apps) runs as whoever ran the CLI.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chown, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { RunAs } from './proc.js';

const execFileP = promisify(execFile);

/** True when this process runs as root (uid 0). */
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Name of the OS user PostgreSQL runs as when we are root. */
export function serviceUserName(): string {
  return process.env.TESSERA_PG_OS_USER || 'tessera';
}

/** Looks a user up by name; null when it does not exist. */
export async function lookupUser(name: string): Promise<RunAs | null> {
  try {
    const [{ stdout: uid }, { stdout: gid }] = await Promise.all([execFileP('id', ['-u', name]), execFileP('id', ['-g', name])]);
    return { name, uid: Number(uid.trim()), gid: Number(gid.trim()) };
  } catch {
    return null;
  }
}

/**
 * The identity to run PostgreSQL as: null when we are not root (run as
 * ourselves), else the service user, created as a system user with its own
 * group and no login shell if it does not exist yet.
 */
export async function ensureServiceUser(): Promise<RunAs | null> {
  if (!isRoot()) return null;
  const name = serviceUserName();
  const existing = await lookupUser(name);
  if (existing) return existing;
  try {
    await execFileP('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', name]);
  } catch (err) {
    throw new Error(`running as root: PostgreSQL cannot run as root and creating the system user "${name}" failed (${(err as Error).message.trim()}). Create it yourself or run as a normal user.`);
  }
  const created = await lookupUser(name);
  if (!created) throw new Error(`useradd ${name} succeeded but the user cannot be looked up`);
  return created;
}

/** True when `as` can enter and write `dir` (checked by the kernel, so ACLs and parents count). */
export async function canUseDir(dir: string, as: RunAs): Promise<boolean> {
  try {
    await execFileP('/bin/sh', ['-c', 'test -d "$1" -a -x "$1" -a -w "$1"', 'sh', dir], { uid: as.uid, gid: as.gid, cwd: '/' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates the folder that holds every PostgreSQL data directory and returns it.
 *
 * Normally it is `<stackDir>/pg`, so data and logs live under one folder. When
 * we are root and the service user cannot reach that folder — a clone under
 * /root, or any 0700 parent — it is `/var/tmp/tessera-<hash of stackDir>/pg`
 * instead. We choose that over `chmod o+x` on the parents because it does not
 * loosen permissions of someone's home directory, and /var/tmp (unlike a
 * tmpfs /tmp) keeps a stopped stack's data across reboots.
 */
export async function preparePgRoot(stackDir: string, as: RunAs | null): Promise<string> {
  const local = join(stackDir, 'pg');
  await mkdir(local, { recursive: true });
  if (!as) return local;
  await chown(local, as.uid, as.gid);
  if (await canUseDir(local, as)) return local;
  await rm(local, { recursive: true, force: true });
  const fallback = join('/var/tmp', `tessera-${createHash('sha256').update(stackDir).digest('hex').slice(0, 12)}`, 'pg');
  await mkdir(fallback, { recursive: true, mode: 0o755 });
  await chown(fallback, as.uid, as.gid);
  if (!(await canUseDir(fallback, as))) throw new Error(`user ${as.name} cannot use ${local} nor ${fallback}`);
  return fallback;
}
