import type { Command } from 'commander';
import { readStack } from '../../cluster/stack-file.js';
import { collectStatus, formatStatus } from '../../cluster/status.js';

/** `tessera status`: topology, shard-map version and health of every process; exit code 1 when unhealthy. */
export function register(program: Command): void {
  program
    .command('status')
    .description('show the local stack: topology, shard-map version, and the health of every process (exit code 1 when any is unhealthy)')
    .option('--dir <dir>', 'stack folder', '.tessera')
    .option('--json', 'print the report as JSON')
    .action(async (flags: { dir: string; json?: boolean }) => {
      const status = await collectStatus(readStack(flags.dir));
      console.log(flags.json ? JSON.stringify(status, null, 2) : formatStatus(status));
      if (!status.healthy) process.exitCode = 1;
    });
}
