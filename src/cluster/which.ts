/** Finds system binaries (redis-server, nginx), including sbin folders a non-root PATH lacks. */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Absolute path of `cmd` on PATH or in the usual sbin folders; throws with an install hint. */
export function findBinary(cmd: string, hint: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/local/bin', '/usr/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, cmd);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(`${cmd} not found. ${hint}`);
}
