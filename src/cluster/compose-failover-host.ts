/**
 * The compose stack as a failover host. The CLI runs in the `cli` container
 * with no Docker socket, so it acts on an instance only through SQL; the rest
 * is done by the postgres image's entrypoint (docker/postgres/entrypoint.sh),
 * which asks the catalog at every start what its instance is:
 *  - stop: the instance's superuser signals its own postmaster
 *    (`COPY … TO PROGRAM 'kill -INT …'`); the container exits and its restart
 *    policy starts it again, and the entrypoint then waits while a failover
 *    is replacing it, or turns it into a standby of the primary the catalog
 *    names (pg_rewind, or a fresh copy). A planned failover's stop returns
 *    once the server has ended the session that signalled it: waiting for
 *    the container to exit would put its exit, and Docker's DNS (which does
 *    not answer for a container that is gone), in the write pause;
 *  - demote: nothing to write, since that entrypoint rule is what keeps a
 *    replaced primary from serving; only checked;
 *  - repoint: ALTER SYSTEM primary_conninfo / primary_slot_name and a reload;
 *  - rejoin: wait until it streams, else have the entrypoint rebuild it (a
 *    file it looks for, written with `COPY … TO`, then a stop);
 *  - roles: the catalog's (published by the failover itself).
 * Instances are named by the host name in their URLs (the compose service:
 * shard-a, shard-a-replica); each streams through the slot of that name with
 * - turned into _, which is also its application_name.
 */
import pg from 'pg';
import type { CatalogStore } from '../catalog/store.js';
import type { InstanceRef, ShardHost, ShardInstances } from '../failover/host.js';
import { ensureSlot, position, reachable, streamingStandbys, withPg } from '../failover/pg-ops.js';

/** The slot (and application_name) an instance of the compose stack streams as: its host name, `-` → `_`. */
export function composeSlot(host: string): string {
  return host.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 63);
}

/** An instance as the compose stack names it, from one of the catalog's URLs. */
export function composeInstance(url: string): InstanceRef {
  const name = new URL(url).hostname;
  return { name, url, slot: composeSlot(name) };
}

/** The file the entrypoint looks for to rebuild a standby from a fresh copy of the primary. */
const REBUILD_MARKER = 'tessera.rebuild';
/** How long a stopped instance may take to exit, and a restarted one to answer. */
const STOP_TIMEOUT_MS = 60_000;
const START_TIMEOUT_MS = 120_000;
/** How long a standby that answers may take to stream before it is rebuilt. */
const STREAM_TIMEOUT_MS = 30_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `'…'`, for a shell. */
function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A libpq key/value connection string; values quoted. */
function conninfo(fields: Record<string, string>): string {
  return Object.entries(fields).map(([k, v]) => `${k}='${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`).join(' ');
}

/** The `user` of a libpq key/value connection string, if it names one. */
export function conninfoUser(info: string): string | undefined {
  const m = /(?:^|\s)user\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S+))/.exec(info);
  if (!m) return undefined;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2];
}

/** Whether `err` is a server going away under us (a shutdown, or the connection dropped), not an answer. */
function isShutdown(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === undefined || code === '57P01' || code === '57P02' || code === '57P03' || code.startsWith('08') || /^E[A-Z]+$/.test(code);
}

/** The server's start time; `shutting down` while it refuses connections for that; `gone` when it does not answer. */
async function incarnation(url: string): Promise<string> {
  try {
    return await withPg(url, async (c) => (await c.query<{ t: string }>('SELECT pg_postmaster_start_time()::text AS t')).rows[0]!.t, 1000);
  } catch (err) {
    return (err as { code?: string }).code === '57P03' ? 'shutting down' : 'gone';
  }
}

/** Waits until the server ends the session of `c` (a shutdown ends every session first). */
async function sessionEnded(c: pg.Client, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await c.query('SELECT 1');
    } catch (err) {
      if (isShutdown(err)) return;
      throw err;
    }
    if (Date.now() > deadline) throw new Error(`the server did not end its sessions within ${timeoutMs / 1000} s of the signal`);
    await sleep(2);
  }
}

async function waitUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, stepMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what} (waited ${timeoutMs / 1000} s)`);
    await sleep(stepMs);
  }
}

/**
 * Each shard's instances: the catalog's primary and replicas, and every
 * instance its failover history names (an old primary not yet rejoined is in
 * neither list).
 */
async function loadInstances(catalog: CatalogStore): Promise<Map<string, ShardInstances>> {
  const shards = await catalog.shards();
  const { rows } = await catalog.pool.query<{ shard: string; old: string; new: string }>(
    'SELECT shard, old_primary_url AS old, new_primary_url AS new FROM shard_failovers ORDER BY id',
  );
  const out = new Map<string, ShardInstances>();
  for (const s of shards) {
    const seen = new Map<string, InstanceRef>();
    const urls = [s.primaryUrl, ...s.replicaUrls, ...rows.filter((r) => r.shard === s.name).flatMap((r) => [r.old, r.new])];
    for (const url of urls) {
      const inst = composeInstance(url);
      if (!seen.has(inst.name)) seen.set(inst.name, inst);
    }
    const [primary, ...replicas] = [...seen.values()];
    out.set(s.name, { primary: primary!, replicas });
  }
  return out;
}

/** A failover host over the compose stack whose catalog is `catalog`; see the module comment. */
export async function composeFailoverHost(catalog: CatalogStore): Promise<ShardHost> {
  const roles = await loadInstances(catalog);

  /** Waits until the server at `inst` is no longer the one that started at `startedAt`: exited (and maybe started again). */
  const waitStopped = (inst: InstanceRef, startedAt: string) => waitUntil(`${inst.name} did not stop`, STOP_TIMEOUT_MS, async () => {
    const now = await incarnation(inst.url);
    return now === 'shutting down' || now === startedAt ? undefined : true;
  }, 10);

  /** Instances this host stopped itself (in this command). */
  const stoppedHere = new Set<string>();

  /**
   * Signals the instance's postmaster (`INT`: fast shutdown, `QUIT`:
   * immediate) and waits until it has exited, or with `untilStopping` until
   * it has ended the session that signalled it: a shutdown ends every session
   * first and takes no new connection from then on.
   */
  const signal = async (inst: InstanceRef, sig: 'INT' | 'QUIT', untilStopping: boolean): Promise<void> => {
    let startedAt: string;
    try {
      startedAt = await withPg(inst.url, async (c) => {
        const { rows } = await c.query<{ dir: string; t: string }>("SELECT current_setting('data_directory') AS dir, pg_postmaster_start_time()::text AS t");
        const pidFile = shellQuote(`${rows[0]!.dir}/postmaster.pid`);
        // The backend running this is one of the processes the postmaster then stops.
        const ended = await c.query(`COPY (SELECT 1) TO PROGRAM ${pg.escapeLiteral(`kill -${sig} "$(head -n 1 ${pidFile})"`)}`).then(() => false, (err: unknown) => {
          if (!isShutdown(err)) throw err;
          return true;
        });
        if (untilStopping && !ended) await sessionEnded(c, STOP_TIMEOUT_MS);
        return rows[0]!.t;
      });
    } catch (err) {
      if (await reachable(inst.url)) throw err;
      return; // it does not answer: stopped already
    }
    stoppedHere.add(inst.name);
    if (!untilStopping) await waitStopped(inst, startedAt);
  };

  /** Waits until `inst` streams from `primary`; false after `timeoutMs`. */
  const streams = async (primary: InstanceRef, inst: InstanceRef, timeoutMs: number): Promise<boolean> =>
    waitUntil('', timeoutMs, async () => ((await streamingStandbys(primary.url).catch((): string[] => [])).includes(inst.slot) ? true : undefined), 200).catch(() => false);

  /** Waits until `inst` answers; its position. */
  const answers = (inst: InstanceRef, why: string) => waitUntil(
    `${inst.name} does not answer: ${why}`,
    START_TIMEOUT_MS,
    () => position(inst.url).catch(() => undefined),
    250,
  );

  const host: ShardHost = {
    instances(shard) {
      const r = roles.get(shard);
      return r && { primary: r.primary, replicas: [...r.replicas] };
    },

    running(inst) {
      return reachable(inst.url);
    },

    async stop(inst, mode, opts) {
      await signal(inst, mode === 'fast' ? 'INT' : 'QUIT', opts?.untilStopping === true);
    },

    async restorePrimary(inst) {
      // The entrypoint waits while a failover is replacing this primary; a failover that gave up says so in its record.
      await catalog.pool.query(
        `UPDATE shard_failovers SET detail = detail || '{"restorePrimary": true}'::jsonb, updated_at = now()
         WHERE old_primary_url = $1 AND phase NOT IN ('done', 'failed')`,
        [inst.url],
      );
      await waitUntil(`${inst.name} did not come back as the primary`, START_TIMEOUT_MS, async () => {
        const p = await position(inst.url).catch(() => undefined);
        return p && !p.inRecovery ? true : undefined;
      }, 250);
    },

    async repoint(inst, primary) {
      await ensureSlot(primary.url, inst.slot);
      const { port, hostname } = new URL(primary.url);
      await withPg(inst.url, async (c) => {
        // Same replication role as now; its password is in the server's PGPASSFILE (the entrypoint's), never in SQL.
        const current = (await c.query<{ v: string }>("SELECT current_setting('primary_conninfo') AS v")).rows[0]!.v;
        const info = conninfo({ host: hostname, port: port || '5432', user: conninfoUser(current) ?? 'replicator', application_name: inst.slot });
        await c.query(`ALTER SYSTEM SET primary_conninfo = ${pg.escapeLiteral(info)}`);
        await c.query(`ALTER SYSTEM SET primary_slot_name = ${pg.escapeLiteral(inst.slot)}`);
        // PostgreSQL 13+ applies both on reload: the WAL receiver reconnects to the new primary.
        await c.query('SELECT pg_reload_conf()');
      });
    },

    async demote(inst) {
      // Whatever starts it again, its entrypoint asks the catalog first and does not start a replaced primary as one.
      // One this command has just stopped is not back yet (and asking for it, once its container is gone,
      // waits for Docker's DNS); a primary that came back anyway is stopped again by the rejoin.
      if (stoppedHere.has(inst.name)) return;
      const p = await position(inst.url).catch(() => undefined);
      if (p && !p.inRecovery) {
        throw new Error(`${inst.name} answers as a primary again: its container does not follow the catalog (TESSERA_CATALOG_URL, TESSERA_SHARD, TESSERA_INSTANCE in docker-compose.yml)`);
      }
    },

    async rejoin(inst, primary, log) {
      await ensureSlot(primary.url, inst.slot);
      const why = `start its container (docker compose start ${inst.name}): its entrypoint makes it a standby of ${primary.name}; then run the rejoin again`;
      if (!(await reachable(inst.url))) log(`  waiting up to ${START_TIMEOUT_MS / 1000} s for ${inst.name} to come back as a standby (its container must be running: docker compose start ${inst.name})`);
      let p = await answers(inst, why);
      if (!p.inRecovery) {
        // Started by something that ignores the catalog: stop it; its entrypoint demotes it on the restart.
        await host.stop(inst, 'immediate');
        p = await answers(inst, why);
      }
      if (p.inRecovery && (await streams(primary, inst, STREAM_TIMEOUT_MS))) return 'followed';
      log(`  ${inst.name} does not stream from ${primary.name}; rebuilding it from a copy of ${primary.name}`);
      await withPg(inst.url, async (c) => {
        const dir = (await c.query<{ dir: string }>("SELECT current_setting('data_directory') AS dir")).rows[0]!.dir;
        await c.query(`COPY (SELECT 'asked by tessera shard rejoin') TO ${pg.escapeLiteral(`${dir}/${REBUILD_MARKER}`)}`);
      });
      await host.stop(inst, 'fast');
      await answers(inst, why);
      if (!(await streams(primary, inst, START_TIMEOUT_MS))) throw new Error(`${inst.name} was rebuilt but does not stream from ${primary.name}; see docker compose logs ${inst.name}`);
      return 'rebuilt';
    },

    recordRoles(shard, primary, replicas) {
      // The catalog holds the roles (the failover published them); this is the host's view for the rest of the command.
      roles.set(shard, { primary, replicas: [...replicas] });
      return Promise.resolve();
    },
  };
  return host;
}
