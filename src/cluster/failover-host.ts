/**
 * The local stack as a failover host: its instances are processes on this
 * machine (stack.json), so stopping, starting and re-pointing them is
 * pg_ctl and a rewritten `tessera.conf`, and a demoted primary is made a
 * standby on disk (`standby.signal`) before anything can start it again.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { InstanceRef, ShardHost, ShardInstances } from '../failover/host.js';
import { streamingStandbys, withPg } from '../failover/pg-ops.js';
import { slotName } from './layout.js';
import { runningPgPid, startInstance, stopInstance, withDatabase, writeInstanceConf, writeOwned, type PgContext } from './pg-instance.js';
import { rebuildStandby } from './pg-rebuild.js';
import { readStack, writeStack, type PgInstanceInfo, type ReplicaInfo, type StackInfo } from './stack-file.js';

const ref = (i: PgInstanceInfo): InstanceRef => ({ name: i.name, url: i.url, slot: (i as Partial<ReplicaInfo>).slot ?? slotName(i.name) });

/** A failover host over the stack in `dir`; stack.json is re-read for every question (other commands may change it). */
export function localFailoverHost(dir: string, ctx: PgContext): ShardHost {
  const stack = (): StackInfo => readStack(dir);
  const find = (name: string): PgInstanceInfo => {
    for (const s of stack().shards) {
      for (const i of [s.primary, ...s.replicas]) if (i.name === name) return i;
    }
    throw new Error(`no instance ${name} in ${dir}/stack.json`);
  };
  const waitStreaming = async (primary: InstanceRef, inst: InstanceRef, timeoutMs: number): Promise<boolean> => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((await streamingStandbys(primary.url).catch((): string[] => [])).includes(inst.slot)) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  };

  const host: ShardHost = {
    instances(shard: string): ShardInstances | undefined {
      const s = stack().shards.find((x) => x.name === shard);
      return s && { primary: ref(s.primary), replicas: s.replicas.map(ref) };
    },

    running(inst) {
      return Promise.resolve(runningPgPid(find(inst.name).dataDir) !== null);
    },

    async stop(inst, mode) {
      const i = find(inst.name);
      const pid = runningPgPid(i.dataDir);
      if (pid && mode === 'fast') {
        // SIGINT is what `pg_ctl stop -m fast` sends; pg_ctl then checks ten times a second, and a
        // planned failover's writes wait for this stop, so the exit is watched more closely here.
        process.kill(pid, 'SIGINT');
        const deadline = Date.now() + 60_000;
        while (runningPgPid(i.dataDir) === pid && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      }
      await stopInstance(ctx, i, mode);
    },

    async restorePrimary(inst) {
      const i = find(inst.name);
      await rm(join(i.dataDir, 'standby.signal'), { force: true });
      await writeInstanceConf(ctx, i);
      await startInstance(ctx, i);
    },

    async repoint(inst, primary) {
      const p = find(primary.name);
      await withPg(withDatabase(primary.url, 'postgres'), (c) => c.query('SELECT pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)', [inst.slot]));
      await writeInstanceConf(ctx, find(inst.name), { primaryPort: p.port, slot: inst.slot });
      // primary_conninfo and primary_slot_name take effect on reload (PostgreSQL 13+): the WAL receiver reconnects.
      if (await host.running(inst)) await withPg(withDatabase(inst.url, 'postgres'), (c) => c.query('SELECT pg_reload_conf()'));
    },

    async demote(inst, primary) {
      const i = find(inst.name);
      if (runningPgPid(i.dataDir)) throw new Error(`${inst.name} runs; stop it before demoting it`);
      await writeInstanceConf(ctx, i, { primaryPort: find(primary.name).port, slot: inst.slot });
      await writeOwned(join(i.dataDir, 'standby.signal'), '', ctx.as);
    },

    async rejoin(inst, primary, log, opts) {
      const i = find(inst.name);
      const p = find(primary.name);
      if (runningPgPid(i.dataDir)) await stopInstance(ctx, i, 'fast');
      if (!opts.rebuild) {
        await withPg(withDatabase(primary.url, 'postgres'), (c) => c.query('SELECT pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)', [inst.slot]));
        await host.demote(inst, primary);
        await startInstance(ctx, i);
        if (await waitStreaming(primary, inst, 10_000)) return 'followed';
        log(`  ${inst.name} cannot follow ${primary.name}'s timeline; rebuilding it from a copy of ${primary.name}`);
        await stopInstance(ctx, i, 'immediate');
      }
      await rebuildStandby(ctx, i, inst.slot, p);
      await startInstance(ctx, i);
      if (!(await waitStreaming(primary, inst, 60_000))) throw new Error(`${inst.name} was rebuilt but does not stream from ${primary.name}; see ${i.log}`);
      return 'rebuilt';
    },

    async recordRoles(shard, primary, replicas, pendingRejoin = []) {
      const info = stack();
      const s = info.shards.find((x) => x.name === shard);
      if (!s) throw new Error(`no ${shard} in ${dir}/stack.json`);
      const all = [s.primary, ...s.replicas];
      const get = (r: InstanceRef) => all.find((x) => x.name === r.name)!;
      const { slot: _slot, ...newPrimary } = get(primary) as ReplicaInfo;
      s.primary = newPrimary;
      s.replicas = replicas.map((r) => {
        const { pendingRejoin: _was, ...rest } = get(r) as ReplicaInfo;
        return { ...rest, slot: r.slot, ...(pendingRejoin.includes(r.name) && { pendingRejoin: true }) };
      });
      await writeStack(info);
    },
  };
  return host;
}
