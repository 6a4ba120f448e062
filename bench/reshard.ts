/**
 * `npm run bench:reshard [-- --rows 200000] [--short]`: copy throughput of
 * an online split next to a raw COPY between the same two databases, and the
 * cutover's write-unavailability window, on a stack of its own (see
 * bench/reshard/run.ts). Writes bench/reshard-results.json and prints a
 * markdown table. Missed goals are reported, not turned into an exit code;
 * client errors, a row mismatch and failures are (exit 1).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseOptions } from './reshard/options.js';
import { markdown } from './reshard/results.js';
import { runReshardBench } from './reshard/run.js';
import { stopStack } from './reshard/stack.js';

const opts = parseOptions(process.argv.slice(2));
// Ctrl-C mid-run: the stack's processes are detached and would outlive us.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    opts.log(`${signal}: tearing the stack down`);
    void (opts.keep ? Promise.resolve() : stopStack(opts.stack, opts.log)).finally(() => process.exit(130));
  });
}
try {
  const results = await runReshardBench(opts);
  if (opts.out) {
    await mkdir(dirname(opts.out), { recursive: true });
    await writeFile(opts.out, `${JSON.stringify(results, null, 2)}\n`);
    opts.log(`wrote ${opts.out}`);
  }
  console.log(markdown(results));
  if (results.writer.errors + results.reader.errors > 0 || !results.checks.ok) process.exitCode = 1;
} catch (err) {
  console.error(`[bench:reshard] FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
}
