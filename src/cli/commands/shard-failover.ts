/** `tessera shard failover|rejoin|history|durability`: moving a shard's primary role on the local stack. */
import { InvalidArgumentError, type Command } from 'commander';
import { CatalogStore } from '../../catalog/store.js';
import { localFailoverHost } from '../../cluster/failover-host.js';
import { withStackLock } from '../../cluster/lock.js';
import { pgContextFor } from '../../cluster/pg-stack.js';
import { readStack } from '../../cluster/stack-file.js';
import { setDurability } from '../../failover/durability.js';
import { FailoverInputError } from '../../failover/errors.js';
import { failover, rejoinInstance } from '../../failover/failover.js';
import { FailoverHistory } from '../../failover/history.js';
import type { ShardHost } from '../../failover/host.js';

async function withCatalog<T>(dir: string, fn: (catalog: CatalogStore, host: ShardHost) => Promise<T>): Promise<T> {
  const stack = readStack(dir);
  const host = localFailoverHost(stack.dir, await pgContextFor(stack));
  const catalog = new CatalogStore(stack.catalog.url, { applicationName: 'tessera-failover' });
  try {
    return await fn(catalog, host);
  } finally {
    await catalog.close();
  }
}

function bytes(raw: string): number {
  const m = /^(\d+)\s*(|b|kb|kib|mb|mib|gb|gib)$/i.exec(raw.trim());
  if (!m) throw new InvalidArgumentError(`a size like 16MiB or 1048576, got "${raw}"`);
  const unit = (m[2] ?? '').toLowerCase();
  const mult = unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1024 ** 2 : unit.startsWith('g') ? 1024 ** 3 : 1;
  return Number(m[1]) * mult;
}

const when = (d: Date | null) => (d ? d.toISOString().replace('T', ' ').slice(0, 19) : '–');

/** Adds the failover verbs to `tessera shard`. */
export function registerFailover(shard: Command): void {
  shard
    .command('failover <shard>')
    .description(
      'move the shard\'s primary role to a replica. Planned (default, the primary alive): writes pause, never fail; the old primary comes back ' +
        'as a replica. --emergency (the primary gone): the most advanced replica is promoted; writes get 503 until it is. Run it again after a ' +
        'crash to finish what it started.',
    )
    .option('--to <replica>', 'the replica to promote (instance name, e.g. shard-a-replica-1); default: the most advanced')
    .option('--emergency', 'the primary is unreachable: promote without it')
    .option('--force', 'promote a replica past the lag limit, or fail over a primary that still answers in an emergency')
    .option('--max-lag <size>', 'a replica further behind than this is not promoted without --force', bytes, 16 * 1024 * 1024)
    .option('--dir <dir>', 'stack folder', '.tessera')
    .action(async (name: string, flags: { to?: string; emergency?: boolean; force?: boolean; maxLag: number; dir: string }) => {
      const delay = Number(process.env.TESSERA_FAILOVER_STEP_DELAY_MS ?? 0);
      await withStackLock(readStack(flags.dir).dir, () => withCatalog(flags.dir, async (catalog, host) => {
        const { record, resumed } = await failover({
          shard: name,
          ...(flags.to !== undefined && { to: flags.to }),
          ...(flags.emergency !== undefined && { emergency: flags.emergency }),
          force: flags.force === true,
          maxLagBytes: flags.maxLag,
          catalog, host,
          log: (line) => console.error(line),
          ...(delay > 0 && { stepDelayMs: delay }),
        });
        const d = record.detail;
        const pause = typeof d.writePauseMs === 'number' ? `; writes paused ${d.writePauseMs} ms` : '';
        console.log(`${name}: ${record.kind} failover #${record.id} ${resumed ? 'finished' : 'done'}: primary ${record.newPrimaryUrl}, epoch ${record.epochAfter ?? '?'}${pause}`);
        if (record.kind === 'emergency') console.log(`the old primary is a standby on disk and serves nothing; when it is back: npx tessera shard rejoin ${name}`);
      }));
    });

  shard
    .command('rejoin <shard> [instance]')
    .description('bring a demoted primary (or a lost replica) back as a streaming replica of the shard\'s primary, rebuilding it when it diverged')
    .option('--dir <dir>', 'stack folder', '.tessera')
    .action(async (name: string, instance: string | undefined, flags: { dir: string }) => {
      await withStackLock(readStack(flags.dir).dir, () => withCatalog(flags.dir, async (catalog, host) => {
        const ep = await catalog.shard(name);
        const inst = host.instances(name);
        if (!ep || !inst) throw new FailoverInputError(`no shard ${name} in this stack`);
        const primary = [inst.primary, ...inst.replicas].find((i) => i.url === ep.primaryUrl)!;
        const stack = readStack(flags.dir);
        const info = stack.shards.find((s) => s.name === name)!;
        const wanted = instance !== undefined
          ? inst.replicas.filter((r) => r.name === instance)
          : inst.replicas.filter((r) => !ep.replicaUrls.includes(r.url) || info.replicas.find((x) => x.name === r.name)?.pendingRejoin);
        if (instance !== undefined && wanted.length === 0) throw new FailoverInputError(`${name} has no replica named ${instance}`);
        if (wanted.length === 0) {
          console.log(`${name}: every replica already serves; nothing to rejoin`);
          return;
        }
        for (const r of wanted) {
          const pending = info.replicas.find((x) => x.name === r.name)?.pendingRejoin === true;
          const how = await rejoinInstance({ catalog, host, log: (l) => console.error(l) }, name, r, primary, pending);
          await host.recordRoles(name, primary, inst.replicas, info.replicas.filter((x) => x.pendingRejoin && x.name !== r.name).map((x) => x.name));
          console.log(`${name}: ${r.name} ${how === 'rebuilt' ? 'rebuilt from' : 'follows'} ${primary.name} and serves reads again`);
        }
      }));
    });

  shard
    .command('history <shard>')
    .description('every failover of the shard: when, which kind, from and to which primary, epochs, the write pause, how it ended')
    .option('--dir <dir>', 'stack folder', '.tessera')
    .option('--json', 'print the records as JSON')
    .action(async (name: string, flags: { dir: string; json?: boolean }) => {
      await withCatalog(flags.dir, async (catalog) => {
        const ep = await catalog.shard(name);
        if (!ep) throw new FailoverInputError(`no shard ${name} in the catalog`);
        const records = await new FailoverHistory(catalog.pool).list(name);
        if (flags.json) {
          console.log(JSON.stringify({ shard: name, primary: ep.primaryUrl, epoch: ep.epoch, state: ep.state, durability: ep.durability, failovers: records }, null, 2));
          return;
        }
        console.log(`${name}: primary ${ep.primaryUrl}, epoch ${ep.epoch}, ${ep.state}, ${ep.durability}`);
        if (records.length === 0) console.log('no failovers');
        for (const r of records) {
          const d = r.detail;
          const pause = typeof d.writePauseMs === 'number' ? `, writes paused ${d.writePauseMs} ms` : '';
          console.log(`#${r.id} ${when(r.startedAt)} ${r.kind}: ${r.oldPrimaryUrl} → ${r.newPrimaryUrl}, epoch ${r.epochBefore} → ${r.epochAfter ?? '?'}, ${r.phase}${pause}${r.error ? ` (${r.error})` : ''}`);
        }
      });
    });

  shard
    .command('durability <shard> <mode>')
    .description('sync: commits wait until a replica has them (no acknowledged write lost in a failover); async: they do not (loss bounded by replica lag)')
    .option('--dir <dir>', 'stack folder', '.tessera')
    .action(async (name: string, mode: string, flags: { dir: string }) => {
      if (mode !== 'sync' && mode !== 'async') throw new FailoverInputError(`durability must be sync or async, got "${mode}"`);
      await withCatalog(flags.dir, async (catalog, host) => {
        const standbys = await setDurability(catalog, name, mode, host.instances(name)?.replicas ?? []);
        console.log(`${name}: ${mode}${mode === 'sync' ? ` (commits wait for ANY 1 of ${standbys.join(', ') || 'no replica: the shard has none, so it runs async'})` : ''}`);
      });
    });
}
