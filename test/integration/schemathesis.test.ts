/**
 * An outside contract check: Schemathesis reads the live test stack's
 * `/openapi.json` through NGINX and calls every operation as a client would,
 * with generated valid and invalid input, stateful sequences that follow the
 * document's links (create a user, then read, change and delete it, passing
 * the write's consistency token to the reads), and every check it has. It
 * must find nothing.
 *
 * The run is bounded so that it takes a minute or two on 2 cores: a fixed
 * seed, a fixed number of examples per operation, one worker (two cores are
 * shared with the stack, and Hypothesis's own bookkeeping is not thread-safe
 * enough for more: a second worker once failed with an internal error). What
 * the API's contract says that a schema cannot (a 412 for a precondition that
 * does not hold, a 400 for a cursor the service did not issue) is in
 * test/schemathesis/schemathesis.toml, with the one generation setting
 * turned off (extra header fields, which HTTP says to ignore) and why. One worker sends far fewer requests
 * than NGINX's per-client limit (2000 r/s, burst 4000), so nothing is
 * throttled; a 429 would be documented anyway.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceAuthHeaders } from '../support/auth.js';
import { ensureSchemathesis } from '../support/schemathesis.js';
import { baseUrl } from '../support/stack.js';

/** Checks left out, each with the reason. Empty: every check runs. */
const EXCLUDED_CHECKS: Record<string, string> = {};

const SEED = 20261130;
const MAX_EXAMPLES = 100;

let st: string;
let reports: string;

beforeAll(() => {
  st = ensureSchemathesis((line) => console.error(`[schemathesis] ${line}`));
  reports = mkdtempSync(join(tmpdir(), 'tessera-schemathesis-'));
}, 600_000);

afterAll(() => {
  if (reports) rmSync(reports, { recursive: true, force: true });
});

/** Runs `st` and returns its exit code and output. */
function runSchemathesis(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(st, args, { env: { ...process.env, ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('Schemathesis against the live stack, through NGINX', () => {
  it('finds no failure with every check, the examples, coverage, fuzzing and stateful phases', async () => {
    // The bearer token goes through the document's security scheme (see
    // schemathesis.toml), so the authentication checks can remove it; any
    // other header is sent as is.
    const { authorization, ...others } = await serviceAuthHeaders();
    const bearer = /^Bearer (.+)$/i.exec(authorization ?? '')?.[1];
    if (!bearer) throw new Error('serviceAuthHeaders() gave no bearer token: the test stack has authentication on');
    const headers = Object.entries(others).flatMap(([name, value]) => ['--header', `${name}: ${value}`]);
    const excluded = Object.keys(EXCLUDED_CHECKS);
    const junit = join(reports, 'junit.xml');
    const { code, output } = await runSchemathesis([
      '--config-file', 'test/schemathesis/schemathesis.toml',
      '--no-color',
      'run', `${baseUrl()}/openapi.json`,
      '--checks', 'all',
      ...(excluded.length > 0 ? ['--exclude-checks', excluded.join(',')] : []),
      '--phases', 'examples,coverage,fuzzing,stateful',
      '--seed', String(SEED),
      '--max-examples', String(MAX_EXAMPLES),
      '--workers', '1',
      '--request-timeout', '10',
      ...headers,
      '--report', 'junit', '--report-junit-path', junit,
    ], { TESSERA_SCHEMATHESIS_BEARER: bearer });
    expect(code, output).toBe(0);
    // The report agrees: cases ran, and none failed or erred.
    const report = readFileSync(junit, 'utf8');
    const suite = /<testsuite\b[^>]*>/.exec(report)?.[0] ?? '';
    const count = (name: string) => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(suite)?.[1] ?? NaN);
    expect(count('tests'), output).toBeGreaterThan(0);
    expect(count('failures'), output).toBe(0);
    expect(count('errors'), output).toBe(0);
    // The token worked: the stateful phase followed links, which it does only from successful responses (a 201 create).
    const linksCovered = Number(/API Links:\s+(\d+) covered/.exec(output)?.[1] ?? 0);
    expect(linksCovered, output).toBeGreaterThan(0);
  }, 900_000);
});
