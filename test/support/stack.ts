import { inject } from 'vitest';
import pg from 'pg';
import { readStack } from '../../src/cluster/index.js';
import type { StackInfo } from '../../src/cluster/index.js';

/** The stack the global setup started (re-read, since suites may restart processes). */
export function testStack(): StackInfo {
  return readStack(inject('stackDir'));
}

/** The NGINX base URL of the test stack. */
export function baseUrl(): string {
  return testStack().nginx.url;
}

/** A client to any database of the stack; the caller ends it. */
export async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

/** Runs `fn` with a client of a database and always closes it. */
export async function withDb<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(url);
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
