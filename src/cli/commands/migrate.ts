import type { Command } from 'commander';
import { migrate } from '../../catalog/migrate.js';
import { loadTopologyFile } from '../../catalog/topology.js';
import { applyComposeDurability } from '../../cluster/durability.js';
import { isComposeStack } from '../../cluster/failover-stack.js';
import { loadConfig } from '../../config/env.js';

/**
 * `tessera migrate`: applies catalog and shard migrations; seeds the map from
 * a topology file. In the compose stack (its `migrate` service, on every
 * `up`) it then applies each shard's durability to its primary, as `tessera
 * up` does on the local stack.
 */
export function register(program: Command): void {
  program
    .command('migrate')
    .description('apply SQL migrations to the catalog and every shard, seeding the shard map from a topology file if the catalog has none (idempotent)')
    .option('--catalog <url>', 'catalog connection string (default: TESSERA_CATALOG_URL)')
    .option('--topology <file>', 'topology seed, e.g. shards/compose.json; ${VAR} is read from the environment')
    .action(async (opts: { catalog?: string; topology?: string }) => {
      const catalogUrl = opts.catalog ?? loadConfig().TESSERA_CATALOG_URL;
      const seed = opts.topology ? loadTopologyFile(opts.topology) : undefined;
      const { mapVersion } = await migrate({ catalogUrl, ...(seed && { seed }), log: (line) => console.error(line) });
      if (isComposeStack()) {
        for (const [shard, standbys] of await applyComposeDurability(catalogUrl)) {
          console.error(`${shard}: ${standbys.length > 0 ? `commits wait for ANY 1 of ${standbys.join(', ')}` : 'commits wait for no replica (async, or none listed)'}`);
        }
      }
      console.log(`migrations applied; shard map v${mapVersion}`);
    });
}
