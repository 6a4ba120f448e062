import { InvalidArgumentError, type Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { readStack } from '../../cluster/stack-file.js';
import { computeFrame, renderFrame } from '../../top/frame.js';
import { scrape, type Target } from '../../top/scrape.js';

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0.2 || n > 60) throw new InvalidArgumentError('seconds from 0.2 to 60');
  return n;
}

/**
 * `tessera top`: a live view of the stack, refreshed every second from the
 * apps' metrics. On a terminal it redraws in place until Ctrl-C; elsewhere
 * (a pipe, a log, CI) it prints one frame, as `--once` does.
 */
export function register(program: Command): void {
  program
    .command('top')
    .description(
      'live view of the stack from every app\'s /metrics, refreshed every second: requests/s, 5xx/s and p99, hit ratios per ' +
        'cache tier, per app, and per shard the work its primary and replicas serve, its health and its replicas\' lag',
    )
    .option('--dir <dir>', 'stack folder (its stack.json lists the apps)', '.tessera')
    .option('--apps <urls>', 'comma-separated app URLs to watch instead of the stack\'s (e.g. http://10.0.0.5:3000)')
    .option('--interval <s>', 'seconds between refreshes (default 1)', seconds, 1)
    .option('--once', 'print one frame (rates over one interval) and exit; the default when stdout is not a terminal')
    .option('--json', 'print one frame as JSON and exit')
    .action(async (flags: { dir: string; apps?: string; interval: number; once?: boolean; json?: boolean }) => {
      const targets = (): Target[] => flags.apps
        ? flags.apps.split(',').map((url, i) => ({ id: `app-${i + 1}`, url: url.trim().replace(/\/$/, '') }))
        // Re-read every frame: `tessera scale` adds and removes apps while top runs.
        : readStack(flags.dir).apps.map((a) => ({ id: a.id, url: a.url }));
      const title = `tessera top — ${flags.apps ? flags.apps : readStack(flags.dir).dir}`;
      const tty = Boolean(process.stdout.isTTY);
      const once = flags.once || flags.json || !tty;
      if (!tty && !flags.once && !flags.json) console.error('tessera top: stdout is not a terminal; printing one frame (--once). Use --json for a machine-readable one.');
      let prev = await scrape(targets());
      if (once) {
        await sleep(flags.interval * 1000);
        const frame = computeFrame(prev, await scrape(targets()));
        console.log(flags.json ? JSON.stringify(frame, null, 2) : renderFrame(frame, title, Number.MAX_SAFE_INTEGER));
        return;
      }
      let running = true;
      process.once('SIGINT', () => {
        running = false;
      });
      process.stdout.write('\x1b[?25l'); // hide the cursor while redrawing
      try {
        while (running) {
          await sleep(flags.interval * 1000);
          const cur = await scrape(targets());
          const text = renderFrame(computeFrame(prev, cur), title, process.stdout.columns || 120);
          prev = cur;
          process.stdout.write(`\x1b[H\x1b[2J${text}\n\n(Ctrl-C to quit)`);
        }
      } finally {
        process.stdout.write('\x1b[?25h\n');
      }
    });
}
