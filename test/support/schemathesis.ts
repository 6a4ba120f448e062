/**
 * Schemathesis for the contract test, from PyPI, in a git-ignored virtualenv
 * at the project root (`.venv-schemathesis`), made on first use and reused
 * while it holds the pinned version.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The Schemathesis release the test is written against. */
export const SCHEMATHESIS_VERSION = '4.32.5';

const VENV = resolve('.venv-schemathesis');

function run(cmd: string, args: string[]): { status: number | null; output: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 600_000 });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/** The path of the `st` command of the pinned Schemathesis, installing it first if needed. */
export function ensureSchemathesis(log: (line: string) => void = () => undefined): string {
  const st = join(VENV, 'bin', 'st');
  if (existsSync(st) && run(st, ['--version']).output.includes(SCHEMATHESIS_VERSION)) return st;
  log(`installing schemathesis ${SCHEMATHESIS_VERSION} into ${VENV}`);
  const steps: [string, string[]][] = [
    ['python3', ['-m', 'venv', '--clear', VENV]],
    [join(VENV, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', `schemathesis==${SCHEMATHESIS_VERSION}`]],
  ];
  for (const [cmd, args] of steps) {
    const r = run(cmd, args);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.output}`);
  }
  return st;
}
