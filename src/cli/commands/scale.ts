import { InvalidArgumentError, type Command } from 'commander';
import { scale } from '../../cluster/scale.js';
import { describeStack } from '../../cluster/summary.js';

function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('not a positive integer');
  return n;
}

/** `tessera scale --apps N`: adds or removes app replicas of a running local stack. */
export function register(program: Command): void {
  program
    .command('scale')
    .description(
      'add or remove app replicas of the running local stack without failing a request: new replicas start in NGINX\'s ' +
        'empty upstream slots and are ready before it sends to them; removed ones drain (SIGTERM) while NGINX moves on. ' +
        'NGINX reloads only to grow past its slots (tessera up --app-slots).',
    )
    .requiredOption('--apps <n>', 'app replicas wanted', count)
    .option('--dir <dir>', 'stack folder', '.tessera')
    .action(async (flags: { apps: number; dir: string }) => {
      const result = await scale({ dir: flags.dir, apps: flags.apps });
      const changed = [...result.added.map((id) => `+${id}`), ...result.removed.map((id) => `-${id}`)];
      console.error(changed.length > 0 ? `scaled to ${result.stack.apps.length} app replicas (${changed.join(', ')})` : 'nothing changed');
      console.log(describeStack(result.stack));
    });
}
