// apt-get for the bootstrap, waiting (bounded, and saying so) while another apt
// or dpkg process holds one of apt's locks, instead of failing at once. apt's
// own `DPkg::Lock::Timeout` covers the dpkg lock but not the package lists'
// lock that `apt-get update` takes (apt 2.6), so the wait is done here, the
// same way for both. Plain JavaScript: it runs before dependencies exist.
import { spawnSync } from 'node:child_process';

const LOCK_ERROR = /Could not get lock|Unable to lock|Unable to acquire the dpkg frontend lock/;

function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Runs `apt-get <args>` (stdout shown, stderr shown when it fails). While it
 * fails because a lock is held, it says so once and retries every
 * `retryMs` until `waitSeconds` have passed; then it throws.
 *
 * @param {string[]} args
 * @param {{ waitSeconds?: number, retryMs?: number, log?: (msg: string) => void, env?: NodeJS.ProcessEnv }} [opts]
 */
export function aptGet(args, opts = {}) {
  const waitSeconds = opts.waitSeconds ?? Number(process.env.TESSERA_APT_LOCK_WAIT_S ?? 600);
  const retryMs = opts.retryMs ?? 2000;
  const log = opts.log ?? ((msg) => console.error(`[bootstrap] ${msg}`));
  const deadline = Date.now() + waitSeconds * 1000;
  let waiting = false;
  for (;;) {
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8', env: opts.env ?? process.env });
    if (r.status === 0) {
      if (waiting) log('the apt lock is free; carried on');
      return;
    }
    const stderr = `${r.stderr ?? ''}${r.error ? String(r.error) : ''}`;
    const locked = LOCK_ERROR.test(stderr);
    if (locked && Date.now() < deadline) {
      if (!waiting) {
        const holder = /held by process (\d+ \([^)]*\))/.exec(stderr)?.[1];
        log(`another apt or dpkg process${holder ? ` (${holder})` : ''} holds the package lock; waiting up to ${waitSeconds} s for it (TESSERA_APT_LOCK_WAIT_S)`);
        waiting = true;
      }
      sleepSync(retryMs);
      continue;
    }
    process.stderr.write(stderr);
    const why = locked ? `the package lock was still held after ${waitSeconds} s` : `exit ${r.status}`;
    throw new Error(`apt-get ${args.join(' ')} failed: ${why}`);
  }
}
