/**
 * Runs the reshard the way an operator would (the CLI, as a child process,
 * `plan --split … --apply --cleanup`), then reads its numbers back from
 * `reshard status --json`: the workflow record in the catalog.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import pg from 'pg';
import type { CutoverTimings, VerifyResult } from '../../src/reshard/index.js';

const CLI = resolve('bin/tessera.mjs');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `tessera reshard …args --catalog <url>`; killed (by its pid) past `timeoutMs`. */
export function reshardCli(args: string[], catalogUrl: string, timeoutMs: number): Promise<CliResult> {
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, 'reshard', ...args, '--catalog', catalogUrl], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => {
    stderr += `\n[bench] killed after ${timeoutMs} ms`;
    child.kill('SIGKILL');
  }, timeoutMs);
  return new Promise((res, rej) => {
    child.on('error', rej);
    child.on('exit', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** The fields of `reshard status --json` the benchmark uses (dates arrive as ISO strings). */
export interface WorkflowJson {
  id: string;
  range: string;
  phase: string;
  rowsTotal: number;
  bytesTotal: number;
  rowsCopied: number;
  copyStartedAt: string | null;
  copyDoneAt: string | null;
  verify: VerifyResult | null;
  cutover: CutoverTimings | null;
  mapVersionAfter: number | null;
  error: string | null;
}

export async function workflowStatus(catalogUrl: string): Promise<WorkflowJson> {
  const list = await reshardCli(['status', '--json'], catalogUrl, 60_000);
  if (list.code !== 0) throw new Error(`reshard status failed: ${list.stderr}`);
  const all = JSON.parse(list.stdout) as WorkflowJson[];
  if (all.length !== 1) throw new Error(`expected exactly one workflow on the bench stack, found ${all.length}`);
  const one = await reshardCli(['status', (all[0] as WorkflowJson).id, '--json'], catalogUrl, 60_000);
  if (one.code !== 0) throw new Error(`reshard status ${(all[0] as WorkflowJson).id} failed: ${one.stderr}`);
  return JSON.parse(one.stdout) as WorkflowJson;
}

/** When the catalog stored a map version (epoch ms): the end of the cutover window. */
export async function mapPublishedAt(catalogUrl: string, version: number): Promise<number> {
  const c = new pg.Client({ connectionString: catalogUrl });
  await c.connect();
  try {
    const r = await c.query<{ at: Date }>('SELECT created_at AS at FROM shard_maps WHERE version = $1', [version]);
    const at = r.rows[0]?.at;
    if (!at) throw new Error(`shard map v${version} not found`);
    return at.getTime();
  } finally {
    await c.end();
  }
}
