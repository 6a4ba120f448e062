import type { Command } from 'commander';
import { collectCatalogStatus, formatCatalogStatus } from '../../cluster/catalog-status.js';
import { readStack, tryReadStack } from '../../cluster/stack-file.js';
import { collectStatus, formatStatus } from '../../cluster/status.js';

interface StatusFlags {
  dir: string;
  json?: boolean;
  catalog?: string;
  redis?: string;
  baseUrl?: string;
}

/**
 * `tessera status`: topology, shard-map version and health; exit code 1 when
 * unhealthy. The local stack in --dir by default; a stack known by its
 * catalog (compose, Swarm: `docker compose run --rm cli status`) with
 * --catalog or TESSERA_CATALOG_URL when --dir holds no stack.
 */
export function register(program: Command): void {
  program
    .command('status')
    .description(
      'show a stack: topology, shard-map version, and the health of every process (exit code 1 when any is unhealthy). ' +
        'The local stack in --dir; with --catalog (or TESSERA_CATALOG_URL and no local stack) any stack, e.g. the compose one, from its catalog.',
    )
    .option('--dir <dir>', 'local stack folder', '.tessera')
    .option('--catalog <url>', 'catalog connection string (default: TESSERA_CATALOG_URL when --dir holds no stack)')
    .option('--redis <url>', 'Redis to check with --catalog (default: TESSERA_REDIS_URL)')
    .option('--base-url <url>', 'the edge (NGINX) to check with --catalog (default: BASE_URL)')
    .option('--json', 'print the report as JSON')
    .action(async (flags: StatusFlags) => {
      const catalogUrl = flags.catalog ?? (tryReadStack(flags.dir) ? undefined : process.env.TESSERA_CATALOG_URL);
      if (catalogUrl) {
        const redisUrl = flags.redis ?? process.env.TESSERA_REDIS_URL;
        const baseUrl = flags.baseUrl ?? process.env.BASE_URL;
        const status = await collectCatalogStatus({ catalogUrl, ...(redisUrl && { redisUrl }), ...(baseUrl && { baseUrl }) });
        console.log(flags.json ? JSON.stringify(status, null, 2) : formatCatalogStatus(status));
        if (!status.healthy) process.exitCode = 1;
        return;
      }
      const status = await collectStatus(readStack(flags.dir));
      console.log(flags.json ? JSON.stringify(status, null, 2) : formatStatus(status));
      if (!status.healthy) process.exitCode = 1;
    });
}
