import { InvalidArgumentError, type Command } from 'commander';
import { CatalogStore } from '../../catalog/store.js';
import { tryReadStack } from '../../cluster/stack-file.js';
import { formatKeyRange, ksidHex } from '../../routing/keyrange.js';
import {
  buildPlan, createReporter, describeWorkflow, parseKsidArg, runWorkflow, startPlan, workflowLag, WorkflowStore,
  type Action, type Plan, type PlanRequest, type RunDeps,
} from '../../reshard/index.js';
import { summaryLine } from '../../reshard/describe.js';

interface CommonFlags {
  catalog?: string;
  dir: string;
}

interface PlanFlags extends CommonFlags {
  split?: string;
  to?: string;
  at?: string;
  merge?: string[];
  move?: string;
  addShard?: string;
  primary?: string;
  replica?: string[];
  apply?: boolean;
  wait: boolean;
  cleanup?: boolean;
  json?: boolean;
}

/** `--catalog`, else TESSERA_CATALOG_URL, else the catalog of the stack in `--dir`. */
function catalogUrl(flags: CommonFlags): string {
  const url = flags.catalog ?? process.env.TESSERA_CATALOG_URL ?? tryReadStack(flags.dir)?.catalog.url;
  if (!url) throw new Error(`no catalog: pass --catalog <url>, set TESSERA_CATALOG_URL, or run from a folder with a stack (${flags.dir}/stack.json)`);
  return url;
}

async function withDeps<T>(flags: CommonFlags, fn: (deps: RunDeps) => Promise<T>): Promise<T> {
  const catalog = new CatalogStore(catalogUrl(flags), { applicationName: 'tessera-reshard', timeoutMs: 30_000 });
  try {
    const stepDelayMs = Number(process.env.TESSERA_RESHARD_STEP_DELAY_MS ?? 0);
    return await fn({ catalog, workflows: new WorkflowStore(catalog.pool), report: createReporter(), opts: { stepDelayMs } });
  } finally {
    await catalog.close();
  }
}

function request(flags: PlanFlags): PlanRequest {
  const given = [flags.split, flags.merge, flags.move, flags.addShard].filter((x) => x !== undefined).length;
  if (given !== 1) throw new InvalidArgumentError('give exactly one of --split, --merge, --move, --add-shard');
  if (flags.split) {
    if (!flags.to) throw new InvalidArgumentError('--split needs --to <shard>: an empty shard to take the upper part (`tessera shard add` makes one)');
    return { kind: 'split', shard: flags.split, to: flags.to, ...(flags.at !== undefined && { at: parseKsidArg(flags.at) }) };
  }
  if (flags.merge) {
    if (flags.merge.length !== 2) throw new InvalidArgumentError('--merge takes two shards: <into> <from> (the second one\'s ranges move to the first)');
    return { kind: 'merge', into: flags.merge[0] as string, from: flags.merge[1] as string };
  }
  if (flags.move) {
    if (!flags.to) throw new InvalidArgumentError('--move needs --to <shard>');
    return { kind: 'move', range: flags.move, to: flags.to };
  }
  return { kind: 'add-shard', name: flags.addShard as string, ...(flags.primary && { primary: flags.primary }), ...(flags.replica && { replicas: flags.replica }) };
}

function printPlan(plan: Plan): void {
  console.log(`plan against shard map v${plan.mapVersion} (${plan.strategy}):`);
  for (const m of plan.moves) {
    const detail = m.sizes.map((s) => `${s.rows} ${s.table}`).join(', ');
    console.log(`  move ${formatKeyRange(m.range).padEnd(22)} ${m.source} → ${m.target}: ${m.rows} rows (${detail}), ${(m.bytes / 1024 / 1024).toFixed(2)} MB`);
  }
  if (plan.register) console.log(`  register shard ${plan.register.name} in the catalog`);
  console.log(`estimated copy + verify time: ~${Math.ceil(plan.estimatedSeconds)} s`);
}

async function runOne(deps: RunDeps, id: string, action: Action): Promise<void> {
  const wf = await runWorkflow(deps, id, action);
  console.log(describeWorkflow(wf, null));
}

function common(cmd: Command): Command {
  return cmd
    .option('--catalog <url>', 'catalog connection string (default: TESSERA_CATALOG_URL, else the stack in --dir)')
    .option('--dir <dir>', 'local stack folder, for its catalog URL', '.tessera');
}

/** `tessera reshard …`: move ksid ranges between shards while the service runs. */
export function register(program: Command): void {
  const reshard = program.command('reshard').description('move key ranges between shards online (plan, status, resume, rollback, abort, cleanup)');

  common(reshard.command('plan'))
    .description('show what would move (ranges, rows, bytes, time); with --apply, start the workflow and run it to cutover')
    .option('--split <shard>', 'split a shard: the upper part of its range moves to --to')
    .option('--at <ksid>', 'split point, a ksid prefix in hex (default: the middle for hash, the median row for range)')
    .option('--to <shard>', 'target shard of --split or --move')
    .option('--merge <shards...>', 'merge: <into> <from>; every range of <from> moves to <into>')
    .option('--move <range>', 'a Vitess-style range (e.g. 40-80) to move to --to')
    .option('--add-shard <name>', 'balance by row count onto a new shard')
    .option('--primary <dsn>', 'primary of the --add-shard shard (when the catalog does not know it yet)')
    .option('--replica <dsn...>', 'replicas of the --add-shard shard')
    .option('--apply', 'start the workflow(s) and run them to cutover')
    .option('--no-wait', 'with --apply: prepare and start the copy, then return (`reshard resume` continues)')
    .option('--cleanup', 'with --apply: also clean up once every app replica routes with the new map')
    .option('--json', 'print the plan as JSON')
    .action(async (flags: PlanFlags) => {
      const req = request(flags);
      await withDeps(flags, async (deps) => {
        const plan = await buildPlan(deps.catalog, deps.workflows, req);
        if (flags.json) console.log(JSON.stringify(plan, (_k, v: unknown) => (typeof v === 'bigint' ? ksidHex(v) : v), 2));
        else printPlan(plan);
        if (!flags.apply) {
          console.log('dry run: nothing stored (add --apply to start)');
          return;
        }
        const created = await startPlan(deps.catalog, deps.workflows, plan);
        for (const wf of created) {
          deps.report.event(wf.id, `started: ${wf.range} ${wf.source} → ${wf.target}`);
          const done = await runWorkflow(deps, wf.id, 'forward', flags.wait ? {} : { stopAfter: 'copy' });
          if (flags.cleanup && done.phase === 'switched') await runWorkflow(deps, wf.id, 'cleanup');
          console.log(describeWorkflow(await deps.workflows.get(wf.id), null));
        }
      });
    });

  common(reshard.command('status'))
    .description('phase, rows copied, rate, replication lag, verify results and cutover window of workflows')
    .argument('[workflow]', 'workflow id (default: all)')
    .option('--json', 'print JSON')
    .action(async (id: string | undefined, flags: CommonFlags & { json?: boolean }) => {
      await withDeps(flags, async (deps) => {
        if (id) {
          const wf = await deps.workflows.get(id);
          const lag = await workflowLag(deps.catalog, wf);
          console.log(flags.json ? JSON.stringify({ ...wf, lagBytes: lag }, null, 2) : describeWorkflow(wf, lag));
          return;
        }
        const all = await deps.workflows.list();
        if (flags.json) console.log(JSON.stringify(all, null, 2));
        else console.log(all.length ? all.map(summaryLine).join('\n') : 'no reshard workflows');
      });
    });

  const verbs: [string, Action, string][] = [
    ['resume', 'forward', 'continue a workflow from the phase it stopped in (after a crash or an error)'],
    ['rollback', 'rollback', 'switch a cut-over range back to its source (before cleanup)'],
    ['abort', 'abort', 'stop a workflow before cutover and remove what it made'],
    ['cleanup', 'cleanup', 'after every app replica routes with the new map: drop replication, delete moved rows from the source'],
  ];
  for (const [name, action, description] of verbs) {
    common(reshard.command(name))
      .description(description)
      .argument('<workflow>', 'workflow id (see `reshard status`)')
      .action(async (id: string, flags: CommonFlags) => withDeps(flags, (deps) => runOne(deps, id, action)));
  }
}


