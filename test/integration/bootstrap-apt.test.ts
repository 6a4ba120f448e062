/**
 * The bootstrap's apt-get waits for a lock that another apt or dpkg process
 * holds, says so, and gives up after a bound. A Python process holds the real
 * dpkg lock here, as apt does (an fcntl lock on the lock file), and
 * `apt-get check`, which takes that lock and changes nothing, plays the
 * install. Needs root, as the bootstrap's apt-get does (CI runs as root).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript without types (it runs before dependencies exist)
import { aptGet } from '../../scripts/apt.mjs';

const LOCK = '/var/lib/dpkg/lock-frontend';

/** Holds `LOCK` for `seconds`; resolves once it is held. */
function holdLock(seconds: number): Promise<ChildProcess> {
  const script = 'import fcntl,os,sys,time\nfd=os.open(sys.argv[1],os.O_RDWR|os.O_CREAT,0o640)\nfcntl.lockf(fd,fcntl.LOCK_EX)\nprint("held",flush=True)\ntime.sleep(float(sys.argv[2]))\n';
  const child = spawn('python3', ['-c', script, LOCK, String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve(child));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`lock holder exited early (${code})`)));
  });
}

const run = (waitSeconds: number, lines: string[]) => () => aptGet(['check', '-qq'], { waitSeconds, retryMs: 200, log: (m: string) => lines.push(m) });

describe("the bootstrap's apt-get and a lock held by another process", () => {
  it('waits for the lock, says so, and carries on once it is released', async () => {
    const holder = await holdLock(2);
    const lines: string[] = [];
    try {
      run(120, lines)();
    } finally {
      holder.kill();
    }
    expect(lines[0]).toMatch(/holds the package lock; waiting up to 120 s/);
    expect(lines[0]).toMatch(/\(\d+ \(python3\)\)/);
    expect(lines.at(-1)).toMatch(/lock is free/);
  });

  it('gives up after the bound with a message that says why', async () => {
    const holder = await holdLock(60);
    const lines: string[] = [];
    try {
      expect(run(1, lines)).toThrow(/the package lock was still held after 1 s/);
    } finally {
      holder.kill();
    }
    expect(lines).toHaveLength(1);
  });
});
