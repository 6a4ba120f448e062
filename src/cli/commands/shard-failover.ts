/**
 * `tessera shard failover|rejoin|history|durability`: moving a shard's primary
 * role, on the local stack (`--dir`) or, in the compose stack's `cli` service,
 * on the compose stack (src/cluster/failover-stack.ts).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { openFailoverStack, type FailoverStack } from '../../cluster/failover-stack.js';
import { redact } from '../../db/redact.js';
import { setDurability } from '../../failover/durability.js';
import { FailoverInputError } from '../../failover/errors.js';
import { failover, rejoinInstance } from '../../failover/failover.js';
import { FailoverHistory, type FailoverRecord } from '../../failover/history.js';

async function withStack<T>(dir: string, fn: (stack: FailoverStack) => Promise<T>): Promise<T> {
  const stack = await openFailoverStack(dir);
  try {
    return await fn(stack);
  } finally {
    await stack.close();
  }
}

/** A record as printed: connection strings without their passwords. */
const shown = (r: FailoverRecord): FailoverRecord => ({ ...r, oldPrimaryUrl: redact(r.oldPrimaryUrl), newPrimaryUrl: redact(r.newPrimaryUrl) });

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
    .option('--to <replica>', 'the replica to promote (instance name: shard-a-replica-1 locally, shard-a-replica on compose); default: the most advanced')
    .option('--emergency', 'the primary is unreachable: promote without it')
    .option('--force', 'promote a replica past the lag limit, or fail over a primary that still answers in an emergency')
    .option('--max-lag <size>', 'a replica further behind than this is not promoted without --force', bytes, 16 * 1024 * 1024)
    .option('--dir <dir>', 'local stack folder (ignored in the compose stack\'s cli service)', '.tessera')
    .action(async (name: string, flags: { to?: string; emergency?: boolean; force?: boolean; maxLag: number; dir: string }) => {
      const delay = Number(process.env.TESSERA_FAILOVER_STEP_DELAY_MS ?? 0);
      await withStack(flags.dir, ({ kind, catalog, host, exclusive }) => exclusive(async () => {
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
        console.log(`${name}: ${record.kind} failover #${record.id} ${resumed ? 'finished' : 'done'}: primary ${redact(record.newPrimaryUrl)}, epoch ${record.epochAfter ?? '?'}${pause}`);
        if (record.kind === 'emergency') {
          console.log(kind === 'compose'
            ? `the old primary serves nothing: when its container starts again, its entrypoint makes it a standby of the new primary; then: docker compose run --rm cli shard rejoin ${name}`
            : `the old primary is a standby on disk and serves nothing; when it is back: npx tessera shard rejoin ${name}`);
        }
      }));
    });

  shard
    .command('rejoin <shard> [instance]')
    .description('bring a demoted primary (or a lost replica) back as a streaming replica of the shard\'s primary, rebuilding it when it diverged')
    .option('--dir <dir>', 'local stack folder (ignored in the compose stack\'s cli service)', '.tessera')
    .action(async (name: string, instance: string | undefined, flags: { dir: string }) => {
      await withStack(flags.dir, ({ catalog, host, pendingRejoin, exclusive }) => exclusive(async () => {
        const ep = await catalog.shard(name);
        const inst = host.instances(name);
        if (!ep || !inst) throw new FailoverInputError(`no shard ${name} in this stack`);
        const primary = [inst.primary, ...inst.replicas].find((i) => i.url === ep.primaryUrl)!;
        let pending = pendingRejoin(name);
        const wanted = instance !== undefined
          ? inst.replicas.filter((r) => r.name === instance)
          : inst.replicas.filter((r) => !ep.replicaUrls.includes(r.url) || pending.includes(r.name));
        if (instance !== undefined && wanted.length === 0) throw new FailoverInputError(`${name} has no replica named ${instance}`);
        if (wanted.length === 0) {
          console.log(`${name}: every replica already serves; nothing to rejoin`);
          return;
        }
        for (const r of wanted) {
          const how = await rejoinInstance({ catalog, host, log: (l) => console.error(l) }, name, r, primary, pending.includes(r.name));
          pending = pending.filter((p) => p !== r.name);
          await host.recordRoles(name, primary, inst.replicas, pending);
          console.log(`${name}: ${r.name} ${how === 'rebuilt' ? 'rebuilt from' : 'follows'} ${primary.name} and serves reads again`);
        }
      }));
    });

  shard
    .command('history <shard>')
    .description('every failover of the shard: when, which kind, from and to which primary, epochs, the write pause, how it ended')
    .option('--dir <dir>', 'local stack folder (ignored in the compose stack\'s cli service)', '.tessera')
    .option('--json', 'print the records as JSON')
    .action(async (name: string, flags: { dir: string; json?: boolean }) => {
      await withStack(flags.dir, async ({ catalog }) => {
        const ep = await catalog.shard(name);
        if (!ep) throw new FailoverInputError(`no shard ${name} in the catalog`);
        const records = (await new FailoverHistory(catalog.pool).list(name)).map(shown);
        if (flags.json) {
          console.log(JSON.stringify({ shard: name, primary: redact(ep.primaryUrl), replicas: ep.replicaUrls.map(redact), epoch: ep.epoch, state: ep.state, durability: ep.durability, failovers: records }, null, 2));
          return;
        }
        console.log(`${name}: primary ${redact(ep.primaryUrl)}, epoch ${ep.epoch}, ${ep.state}, ${ep.durability}`);
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
    .option('--dir <dir>', 'local stack folder (ignored in the compose stack\'s cli service)', '.tessera')
    .action(async (name: string, mode: string, flags: { dir: string }) => {
      if (mode !== 'sync' && mode !== 'async') throw new FailoverInputError(`durability must be sync or async, got "${mode}"`);
      await withStack(flags.dir, async ({ catalog, host }) => {
        const standbys = await setDurability(catalog, name, mode, host.instances(name)?.replicas ?? []);
        console.log(`${name}: ${mode}${mode === 'sync' ? ` (commits wait for ANY 1 of ${standbys.join(', ') || 'no replica: the shard has none, so it runs async'})` : ''}`);
      });
    });
}
