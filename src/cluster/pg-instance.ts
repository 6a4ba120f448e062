/**
 * One PostgreSQL instance: initdb, its configuration, start and stop through
 * pg_ctl (so the postmaster is a daemon that outlives the CLI), and a few
 * queries the launcher needs.
 */
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { PG_PASSWORD, PG_USER } from './layout.js';
import type { PgBinaries } from './pg-binaries.js';
import { childEnv, isOurProcess, readPidFile, tailFile, type RunAs } from './proc.js';
import type { PgInstanceInfo } from './stack-file.js';

/** What every pg operation needs: the binaries and whom to run them as. */
export interface PgContext {
  bin: PgBinaries;
  /** Service user when we are root; null to run as ourselves. */
  as: RunAs | null;
}

/** Our settings file, included from postgresql.conf so that initdb's file stays untouched. */
const INSTANCE_CONF = 'tessera.conf';

/** Unix socket paths are limited to ~107 bytes; past that the socket goes to /tmp. */
function socketDir(dataDir: string, port: number): string {
  return join(dataDir, `.s.PGSQL.${port}`).length < 100 ? dataDir : '/tmp';
}

/** Writes a file and hands it to the service user (root writes, postgres must own). */
export async function writeOwned(path: string, content: string, as: RunAs | null, mode = 0o600): Promise<void> {
  await writeFile(path, content, { mode });
  if (as) await chown(path, as.uid, as.gid);
}

/**
 * Runs a pg binary with stdout/stderr appended to `logFile`. Opened by us, so
 * the log may live where the service user cannot write; pg_ctl's postmaster
 * inherits the descriptor and keeps logging to it after we exit.
 */
function runLogged(ctx: PgContext, file: string, args: string[], logFile: string, timeoutMs = 120_000): Promise<void> {
  const fd = openSync(logFile, 'a');
  return new Promise<void>((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: '/',
      env: childEnv(ctx.as, { LC_ALL: 'C', LANG: 'C' }),
      stdio: ['ignore', fd, fd],
      detached: true,
      ...(ctx.as ? { uid: ctx.as.uid, gid: ctx.as.gid } : {}),
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${file.split('/').pop()} ${args.join(' ')} exited with ${code ?? signal}; last lines of ${logFile}:\n${tailFile(logFile, 20)}`));
    });
  }).finally(() => closeSync(fd));
}

/** The settings of one instance (`tessera.conf`). Primaries and the catalog differ from replicas only by the standby lines. */
export function instanceConf(inst: PgInstanceInfo, standby?: { primaryPort: number; slot: string }): string {
  const lines = [
    `# Written by tessera up (src/cluster/pg-instance.ts).`,
    `listen_addresses = '127.0.0.1'`,
    `port = ${inst.port}`,
    `unix_socket_directories = '${socketDir(inst.dataDir, inst.port)}'`,
    `max_connections = 200`,
    `shared_buffers = 32MB`,
    // logical: resharding streams ranges between primaries with logical replication.
    `wal_level = logical`,
    `max_wal_senders = 16`,
    `max_replication_slots = 16`,
    // Resharding: an apply worker per subscription plus initial-copy workers; a
    // target of an add-shard holds one subscription per source until cleanup.
    `max_logical_replication_workers = 8`,
    `max_worker_processes = 16`,
    // Insurance for replicas whose slot is created a moment after the primary's first start.
    `wal_keep_size = 128MB`,
    `hot_standby = on`,
    // Replicas serve reads: do not cancel them for vacuum on the primary.
    `hot_standby_feedback = on`,
    `timezone = 'UTC'`,
    `log_timezone = 'UTC'`,
    `log_line_prefix = '%m [%p] %q%u@%d '`,
    `logging_collector = off`,
  ];
  if (standby) {
    lines.push(
      `primary_conninfo = 'host=127.0.0.1 port=${standby.primaryPort} user=${PG_USER} password=${PG_PASSWORD} application_name=${standby.slot}'`,
      `primary_slot_name = '${standby.slot}'`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Trust on 127.0.0.1 and the local socket, for sessions and replication alike (a local, loopback-only stack). */
const HBA = [
  '# Written by tessera up: loopback only, trust.',
  'local   all          all                 trust',
  'host    all          all   127.0.0.1/32  trust',
  'local   replication  all                 trust',
  'host    replication  all   127.0.0.1/32  trust',
  '',
].join('\n');

/**
 * Creates a data directory with initdb (superuser `tessera`, password
 * `tessera`, UTF8, C collation) and writes our settings and pg_hba.conf.
 * Does not start it: replicas are copied from it first.
 */
export async function initInstance(ctx: PgContext, inst: PgInstanceInfo): Promise<void> {
  if (existsSync(join(inst.dataDir, 'PG_VERSION'))) throw new Error(`${inst.dataDir} already holds a database cluster`);
  await mkdir(dirname(inst.log), { recursive: true });
  const pwfile = join(dirname(inst.dataDir), `.pw-${inst.name}`);
  await writeOwned(pwfile, `${PG_PASSWORD}\n`, ctx.as);
  try {
    // --no-sync: initdb's fsyncs are most of its time; a local stack lost to a
    // power cut right after creation is simply created again.
    await runLogged(ctx, ctx.bin.initdb, ['-D', inst.dataDir, '-U', PG_USER, `--pwfile=${pwfile}`, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'], inst.log);
  } finally {
    await rm(pwfile, { force: true });
  }
  await writeOwned(join(inst.dataDir, INSTANCE_CONF), instanceConf(inst), ctx.as);
  await writeOwned(join(inst.dataDir, 'pg_hba.conf'), HBA, ctx.as);
  const conf = join(inst.dataDir, 'postgresql.conf');
  const base = await readFile(conf, 'utf8');
  await writeOwned(conf, `${base}\n# Tessera's settings (last one wins).\ninclude_if_exists = '${INSTANCE_CONF}'\n`, ctx.as);
}

/** Rewrites the instance's own settings file (e.g. to make a copied data dir a standby on another port). */
export async function writeInstanceConf(ctx: PgContext, inst: PgInstanceInfo, standby?: { primaryPort: number; slot: string }): Promise<void> {
  await writeOwned(join(inst.dataDir, INSTANCE_CONF), instanceConf(inst, standby), ctx.as);
}

/** The postmaster's pid when the instance runs (from postmaster.pid, checked against the live process). */
export function runningPgPid(dataDir: string): number | null {
  const pid = readPidFile(join(dataDir, 'postmaster.pid'));
  return pid && isOurProcess(pid, 'postgres') ? pid : null;
}

/** Starts the instance as a daemon and waits until it accepts connections; returns the postmaster pid. */
export async function startInstance(ctx: PgContext, inst: PgInstanceInfo): Promise<number> {
  const running = runningPgPid(inst.dataDir);
  if (running) return running;
  await mkdir(dirname(inst.log), { recursive: true });
  await runLogged(ctx, ctx.bin.pg_ctl, ['start', '-D', inst.dataDir, '-w', '-t', '60', '-s'], inst.log, 90_000);
  const pid = runningPgPid(inst.dataDir);
  if (!pid) throw new Error(`${inst.name} did not stay up; last lines of ${inst.log}:\n${tailFile(inst.log, 20)}`);
  return pid;
}

/**
 * Stops the instance (`fast`: roll back sessions, checkpoint, exit) and waits.
 * No-op when it is not running or its data directory is gone.
 */
export async function stopInstance(ctx: PgContext, inst: PgInstanceInfo, mode: 'smart' | 'fast' | 'immediate' = 'fast'): Promise<void> {
  if (!existsSync(inst.dataDir) || !runningPgPid(inst.dataDir)) return;
  await runLogged(ctx, ctx.bin.pg_ctl, ['stop', '-D', inst.dataDir, '-m', mode, '-w', '-t', '60', '-s'], inst.log, 90_000);
}

/** Runs `fn` with a short-lived client; `database` defaults to the URL's. */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>, timeoutMs = 5000): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, statement_timeout: timeoutMs, query_timeout: timeoutMs });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Replaces the database name in a connection string. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Creates the instance URL's database (connecting to `postgres`) unless it exists. */
export async function ensureDatabase(inst: PgInstanceInfo): Promise<void> {
  const name = new URL(inst.url).pathname.slice(1);
  await withClient(withDatabase(inst.url, 'postgres'), async (c) => {
    const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  });
}
