/** Replication facts the failover tests check, read from the servers themselves. */
import { withClient } from '../../src/cluster/index.js';

/** `pg_is_in_recovery()` of the server at `url`. */
export async function isInRecoveryAt(url: string): Promise<boolean> {
  return withClient(url, async (c) => (await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r);
}

/** Application names (slots) of the standbys streaming from the primary at `url`, sorted. */
export async function streamingOn(url: string): Promise<string[]> {
  return withClient(url, async (c) =>
    (await c.query<{ n: string }>("SELECT application_name AS n FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1")).rows.map((r) => r.n));
}
