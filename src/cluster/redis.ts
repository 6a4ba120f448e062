/**
 * Redis for the L2 cache and the invalidation channel: `redis-server`
 * daemonized on 127.0.0.1, no persistence (a cache), pid file and log in the
 * stack folder.
 */
import { Socket } from 'node:net';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isOurProcess, readPidFile, run, tailFile, waitForExit, waitUntil } from './proc.js';
import type { RedisInfo } from './stack-file.js';
import { findBinary } from './which.js';

/**
 * Sends one inline command and resolves with the first reply line (`+PONG`,
 * `-ERR …`), or null on timeout or connection error. Enough for PING and
 * SHUTDOWN without a client library.
 */
export function redisCommand(port: number, command: string, timeoutMs = 1000): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let buf = '';
    const done = (value: string | null): void => { socket.destroy(); resolve(value); };
    socket.setTimeout(timeoutMs, () => done(null));
    socket.once('error', () => done(null));
    // SHUTDOWN closes the connection without a reply.
    socket.once('close', () => done(buf ? buf.split('\r\n')[0] ?? null : null));
    socket.on('data', (d) => {
      buf += d.toString('utf8');
      if (buf.includes('\r\n')) done(buf.split('\r\n')[0] ?? null);
    });
    socket.connect(port, '127.0.0.1', () => socket.write(`${command}\r\n`));
  });
}

/** True when Redis answers PING with PONG. */
export async function pingRedis(port: number, timeoutMs = 1000): Promise<boolean> {
  return (await redisCommand(port, 'PING', timeoutMs)) === '+PONG';
}

/** The running redis-server's pid, from its pid file. */
export function runningRedisPid(info: RedisInfo): number | null {
  const pid = readPidFile(info.pidFile);
  return pid && isOurProcess(pid, 'redis-server') ? pid : null;
}

/** Starts redis-server as a daemon and waits for PONG; returns its pid. */
export async function startRedis(info: RedisInfo): Promise<number> {
  const running = runningRedisPid(info);
  if (running) return running;
  const bin = findBinary('redis-server', 'Install it (apt-get install redis-server) or run `npm run bootstrap` as root.');
  await mkdir(dirname(info.pidFile), { recursive: true });
  await mkdir(dirname(info.log), { recursive: true });
  await run(bin, [
    '--bind', '127.0.0.1', '--port', String(info.port), '--protected-mode', 'yes',
    '--daemonize', 'yes', '--pidfile', info.pidFile, '--logfile', info.log, '--dir', dirname(info.pidFile),
    // A cache: no persistence, bounded memory, evict least recently used.
    '--save', '', '--appendonly', 'no', '--maxmemory', '256mb', '--maxmemory-policy', 'allkeys-lru',
  ]);
  const ready = await waitUntil(() => pingRedis(info.port), 10_000);
  const pid = readPidFile(info.pidFile);
  if (!ready || !pid) throw new Error(`redis on :${info.port} did not answer PING; last lines of ${info.log}:\n${tailFile(info.log, 20)}`);
  return pid;
}

/** Stops Redis: SHUTDOWN NOSAVE, then SIGTERM/SIGKILL if it is still there. */
export async function stopRedis(info: RedisInfo): Promise<void> {
  const pid = runningRedisPid(info);
  if (!pid) return;
  await redisCommand(info.port, 'SHUTDOWN NOSAVE', 2000);
  if (await waitForExit(pid, 5000)) return;
  process.kill(pid, 'SIGTERM');
  if (!(await waitForExit(pid, 5000))) process.kill(pid, 'SIGKILL');
}
