import { Command } from 'commander';
import { startTracing } from '../observability/tracing.js';
import { register as registerDown } from './commands/down.js';
import { register as registerKeys } from './commands/keys.js';
import { register as registerMigrate } from './commands/migrate.js';
import { register as registerScale } from './commands/scale.js';
import { register as registerReshard } from './commands/reshard.js';
import { register as registerSeed } from './commands/seed.js';
import { register as registerShard } from './commands/shard.js';
import { register as registerStatus } from './commands/status.js';
import { register as registerToken } from './commands/token.js';
import { register as registerTop } from './commands/top.js';
import { register as registerUp } from './commands/up.js';

/** The `tessera` command line: one file per command under `commands/`. */
const program = new Command()
  .name('tessera')
  .description('Tessera: sharded, cached user data — local stack, migrations, resharding')
  .showHelpAfterError();

for (const register of [registerUp, registerDown, registerStatus, registerScale, registerMigrate, registerShard, registerReshard, registerSeed, registerToken, registerKeys, registerTop]) register(program);

// With the OTEL_* variables set, a reshard's phases and a failover's steps are traces too.
const tracing = await startTracing({ serviceName: 'tessera-cli' });
try {
  await program.parseAsync(process.argv);
} catch (err) {
  console.error(`tessera: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  await tracing?.shutdown();
}
