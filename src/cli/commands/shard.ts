import { InvalidArgumentError, type Command } from 'commander';
import { addShard } from '../../cluster/shard-add.js';
import { registerFailover } from './shard-failover.js';

function nonNegativeInt(raw: string): number {
  if (!/^\d+$/.test(raw.trim())) throw new InvalidArgumentError(`--replicas must be a non-negative integer, got "${raw}"`);
  return Number(raw);
}

/** `tessera shard add`: a new empty shard in the local stack, ready for `reshard plan --add-shard`. */
export function register(program: Command): void {
  const shard = program.command('shard').description('shards of the local stack: add one, move its primary role, see its failovers');
  shard
    .command('add')
    .description('start a new, empty shard (primary + streaming replicas) in the local stack and register it in the catalog')
    .option('--dir <dir>', 'stack folder', '.tessera')
    .option('--replicas <n>', 'streaming replicas (default: as many as the first shard has)', nonNegativeInt)
    .action(async (flags: { dir: string; replicas?: number }) => {
      const added = await addShard({ dir: flags.dir, ...(flags.replicas !== undefined && { replicas: flags.replicas }) });
      console.log(`${added.name}: primary ${added.primary.url}${added.replicas.map((r) => `, replica ${r.url}`).join('')}`);
      console.log(`next: npx tessera reshard plan --add-shard ${added.name} --apply   (or --split <shard> --to ${added.name})`);
    });
  registerFailover(shard);
}
