import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { clientToken } from '../../auth/stack-token.js';
import { seedUsers } from '../../seed/create-users.js';
import { createProgress } from '../../seed/progress.js';
import { assertReady, resolveBaseUrl } from '../../seed/target.js';

interface SeedFlags {
  users: number;
  docsPerUser: number;
  concurrency: number;
  baseUrl?: string;
  dir: string;
  out: string;
  token?: string;
}

function positiveInt(name: string, allowZero = false) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || (n === 0 && !allowZero)) {
      throw new InvalidArgumentError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got "${raw}"`);
    }
    return n;
  };
}

/**
 * `tessera seed --users N [--docs-per-user D]`: creates users (and documents)
 * through the API so that load scenarios start on a warm, realistic data set,
 * and writes their ids to `load-tests/results/seed-users.json` for them.
 */
export function register(program: Command): void {
  program
    .command('seed')
    .description('create N users (and D documents each) through the API, in parallel, for load tests')
    .requiredOption('--users <n>', 'users to create', positiveInt('--users'))
    .option('--docs-per-user <d>', 'documents to put for each user', positiveInt('--docs-per-user', true), 0)
    .option('--concurrency <c>', 'requests in flight', positiveInt('--concurrency'), 32)
    .option('--base-url <url>', 'target (default: $BASE_URL, else NGINX from <dir>/stack.json)')
    .option('--dir <dir>', 'stack folder (its signing key makes a token when none is given)', '.tessera')
    .option('--token <jwt>', 'bearer token with users:write (default: $TESSERA_TOKEN, else one signed with the stack\'s key)')
    .option('--out <file>', 'where to write the created ids', 'load-tests/results/seed-users.json')
    .action(async (flags: SeedFlags) => {
      const baseUrl = resolveBaseUrl(flags.baseUrl, process.env, flags.dir);
      await assertReady(baseUrl);
      const token = await clientToken({ ...(flags.token !== undefined && { flag: flags.token }), dir: flags.dir, scopes: ['users:write'], clientId: 'tessera-seed' });
      const progress = createProgress({ label: 'seed', total: flags.users, unit: 'users' });
      const result = await seedUsers({
        baseUrl,
        ...(token !== undefined && { token }),
        users: flags.users,
        docsPerUser: flags.docsPerUser,
        concurrency: flags.concurrency,
        onUser: (done) => progress.update(done),
      });
      progress.finish(result.users.length);
      const out = resolve(flags.out);
      await mkdir(dirname(out), { recursive: true });
      const file = { baseUrl, runId: result.runId, createdAt: new Date().toISOString(), docsPerUser: flags.docsPerUser, users: result.users };
      await writeFile(out, `${JSON.stringify(file)}\n`);
      console.log(`seeded ${result.users.length} users and ${result.documents} documents at ${baseUrl}; ids in ${out}`);
    });
}
