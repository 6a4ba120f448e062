import type { Command } from 'commander';
import { down } from '../../cluster/down.js';

/** `tessera down`: stops the local stack; `--purge` also deletes its data. */
export function register(program: Command): void {
  program
    .command('down')
    .description(
      'stop every process of the local stack (NGINX, apps, Redis, PostgreSQL). Data and logs are kept by default, ' +
        'so `up` brings the same stack back; --purge deletes them too.',
    )
    .option('--dir <dir>', 'stack folder', '.tessera')
    .option('--purge', 'also delete data, logs and stack.json')
    .action(async (flags: { dir: string; purge?: boolean }) => {
      const result = await down({ dir: flags.dir, purge: flags.purge === true });
      if (!result.found && !result.purged) console.error(`no stack in ${flags.dir}; nothing to stop`);
      else console.error(result.purged ? 'stack stopped and deleted' : 'stack stopped; data kept (`npm run up` restarts it, `npm run down -- --purge` deletes it)');
    });
}
