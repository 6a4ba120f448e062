/**
 * `tessera seed`, run as a person runs it, against the test stack through NGINX.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { baseUrl, testStack } from '../support/stack.js';
import { serviceAuthHeaders } from '../support/auth.js';

const ROOT = resolve(import.meta.dirname, '../..');

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

function tessera(args: string[]): Promise<Exit> {
  return new Promise((done, fail) => {
    // BASE_URL from the caller's shell must not override the stack under test.
    const child = spawn(process.execPath, ['bin/tessera.mjs', ...args], { cwd: ROOT, env: { ...process.env, BASE_URL: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

interface SeedFile {
  baseUrl: string;
  docsPerUser: number;
  users: { id: string; email: string }[];
}

describe('tessera seed', () => {
  it('creates N users with their documents through NGINX and writes their ids', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'tessera-seed-')), 'seed-users.json');
    const run = await tessera(['seed', '--users', '50', '--docs-per-user', '1', '--concurrency', '8', '--base-url', baseUrl(), '--dir', testStack().dir, '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('seeded 50 users and 50 documents');
    // Not a terminal: progress comes as JSON lines, ending with a "done" line.
    const last = JSON.parse(run.stderr.trim().split('\n').at(-1) ?? '{}');
    expect(last).toMatchObject({ msg: 'seed done', done: 50, total: 50, unit: 'users' });

    const seed = JSON.parse(await readFile(out, 'utf8')) as SeedFile;
    expect(seed.baseUrl).toBe(baseUrl());
    expect(new Set(seed.users.map((u) => u.id)).size).toBe(50);
    for (const user of seed.users) {
      const res = await fetch(`${baseUrl()}/v1/users/by-email/${encodeURIComponent(user.email)}`, { headers: await serviceAuthHeaders() });
      expect(res.status, user.email).toBe(200);
      expect(((await res.json()) as { id: string }).id).toBe(user.id);
    }
    const doc = await fetch(`${baseUrl()}/v1/users/${seed.users[0]?.id}/data/seed.doc-0`, { headers: await serviceAuthHeaders() });
    expect(doc.status).toBe(200);
  });

  it('refuses --users 0 with a clear message and a failing exit code', async () => {
    const run = await tessera(['seed', '--users', '0', '--base-url', baseUrl()]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('--users must be a positive integer, got "0"');
  });

  it('stops before creating anything when the target is not ready', async () => {
    const run = await tessera(['seed', '--users', '5', '--base-url', 'http://127.0.0.1:9']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('run `npm run up` first');
  });
});
