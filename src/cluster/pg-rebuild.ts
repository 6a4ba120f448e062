/**
 * A standby rebuilt from a running primary on the same machine: the
 * low-level base backup PostgreSQL documents (pg_backup_start, copy the data
 * directory, pg_backup_stop, write its backup_label), which is what
 * pg_basebackup does but needs no binary the bundled PostgreSQL lacks. The
 * slot is made first so the primary keeps the WAL the copy needs; the
 * standby streams it on start.
 */
import { constants } from 'node:fs';
import { copyFile, lstat, mkdir, readdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { ensureSlot } from '../failover/pg-ops.js';
import { writeInstanceConf, writeOwned, withDatabase, type PgContext } from './pg-instance.js';
import { run } from './proc.js';
import type { PgInstanceInfo } from './stack-file.js';

/** Folders whose contents a base backup leaves out (PostgreSQL rebuilds them), and files it skips. */
const EMPTY_DIRS = new Set(['pg_wal', 'pg_replslot', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_stat_tmp', 'pg_subtrans']);
const SKIP_FILES = new Set(['postmaster.pid', 'postmaster.opts', 'standby.signal', 'recovery.signal', 'backup_label', 'tablespace_map', 'postgresql.auto.conf.tmp', 'pg_internal.init', 'tessera.conf']);

/** Copies a live data directory: files may vanish while it runs (temp files), which is fine for a base backup. */
async function copyTree(from: string, to: string, top: boolean): Promise<void> {
  await mkdir(to, { mode: 0o700 });
  let entries: string[];
  try {
    entries = await readdir(from);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const name of entries) {
    if (SKIP_FILES.has(name) || name.startsWith('pgsql_tmp')) continue;
    const src = join(from, name);
    const dst = join(to, name);
    try {
      const st = await lstat(src);
      if (st.isDirectory()) {
        if (top && EMPTY_DIRS.has(name)) {
          await mkdir(dst, { mode: 0o700 });
          if (name === 'pg_wal') await mkdir(join(dst, 'archive_status'), { mode: 0o700 });
        } else {
          await copyTree(src, dst, false);
        }
      } else if (st.isSymbolicLink()) {
        await symlink(await readlink(src), dst);
      } else if (st.isFile()) {
        await copyFile(src, dst, constants.COPYFILE_FICLONE);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/**
 * Replaces `inst`'s (stopped) data directory with a fresh copy of the
 * running `primary`, configured as its standby on slot `slot`.
 */
export async function rebuildStandby(ctx: PgContext, inst: PgInstanceInfo, slot: string, primary: PgInstanceInfo): Promise<void> {
  await ensureSlot(withDatabase(primary.url, 'postgres'), slot);
  const fresh = `${inst.dataDir}.rebuild`;
  await rm(fresh, { recursive: true, force: true });
  const client = new pg.Client({ connectionString: withDatabase(primary.url, 'postgres'), application_name: 'tessera-rebuild' });
  await client.connect();
  try {
    // fast: an immediate checkpoint, so the copy does not wait for the next one.
    await client.query("SELECT pg_backup_start('tessera-rebuild', true)");
    let stopped = false;
    try {
      await copyTree(primary.dataDir, fresh, true);
      const { rows } = await client.query<{ labelfile: string; spcmapfile: string | null }>('SELECT labelfile, spcmapfile FROM pg_backup_stop(true)');
      stopped = true;
      await writeOwned(join(fresh, 'backup_label'), rows[0]!.labelfile, null);
      if (rows[0]!.spcmapfile) await writeOwned(join(fresh, 'tablespace_map'), rows[0]!.spcmapfile, null);
    } finally {
      if (!stopped) await client.query('SELECT pg_backup_stop(false)').catch(() => undefined);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
  if (ctx.as) await run('chown', ['-R', `${ctx.as.uid}:${ctx.as.gid}`, fresh]);
  const old = `${inst.dataDir}.old`;
  await rm(old, { recursive: true, force: true });
  await rename(inst.dataDir, old).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  await rename(fresh, inst.dataDir);
  await rm(old, { recursive: true, force: true });
  // Written in place: the settings name paths under the data directory (the socket).
  await writeInstanceConf(ctx, inst, { primaryPort: primary.port, slot });
  await writeOwned(join(inst.dataDir, 'standby.signal'), '', ctx.as);
}
