import { InvalidArgumentError, type Command } from 'commander';
import type { StrategyName } from '../../catalog/topology.js';
import { describeStack } from '../../cluster/summary.js';
import type { StackLayoutOptions } from '../../cluster/layout.js';
import { up } from '../../cluster/up.js';

function int(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('not a non-negative integer');
  return n;
}

function durabilityMode(value: string): 'sync' | 'async' {
  if (value !== 'sync' && value !== 'async') throw new InvalidArgumentError('must be sync or async');
  return value;
}

function ratio(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('a ratio from 0 to 1, e.g. 0.01');
  return n;
}

function strategy(value: string): StrategyName {
  if (value !== 'hash' && value !== 'range') throw new InvalidArgumentError('must be hash or range');
  return value;
}

/** The flags are the layout options, minus the ones only code sets. */
type UpFlags = Omit<StackLayoutOptions, 'nginxWorkers' | 'appEntry' | 'noAuth'> & { dir: string; auth?: boolean };

/** `tessera up`: starts (or restarts) the local stack and prints where to send requests. */
export function register(program: Command): void {
  program
    .command('up')
    .description(
      'start the local stack as background processes on 127.0.0.1: PostgreSQL catalog, shard primaries with streaming replicas, ' +
        'Redis, app replicas and NGINX; data and logs under --dir. Running it again while the stack is up changes nothing; ' +
        'on a stopped stack it starts it again as it was, applying --rate, --burst and --affinity and refusing flags that would change its layout.',
    )
    // No commander defaults: an absent flag must stay undefined so that a restart can tell what was asked for.
    .option('--dir <dir>', 'stack folder', '.tessera')
    .option('--shards <n>', 'number of shards (default 2)', int)
    .option('--replicas <n>', 'streaming replicas per shard (default 1)', int)
    .option('--apps <n>', 'app replicas behind NGINX (default 2)', int)
    .option('--app-slots <n>', 'app ports in NGINX\'s upstream, so `tessera scale` up to n needs no NGINX reload (default max(apps, 4))', int)
    .option('--strategy <name>', 'sharding strategy: hash or range (default hash)', strategy)
    .option('--port <port>', 'NGINX port, where clients send requests (default 8080)', int)
    .option('--pg-base-port <port>', 'catalog port; shard instances take the next ones (default 15432)', int)
    .option('--redis-port <port>', 'Redis port (default 6390)', int)
    .option('--app-base-port <port>', 'first app port (default 3001)', int)
    .option('--rate <rate>', 'NGINX rate limit per client address, every request (default 2000r/s)')
    .option('--burst <n>', 'NGINX burst per client address (default 4000)', int)
    .option('--anon-rate <rate>', 'NGINX rate limit per client address for requests without a bearer token (default 20r/s)')
    .option('--anon-burst <n>', 'NGINX burst per client address for requests without a bearer token (default 40)', int)
    .option('--durability <mode>', 'sync: shard primaries commit only once a replica has the commit (no acknowledged write lost in a failover); async: they do not (default sync)', durabilityMode)
    .option('--no-auth', 'apps without authentication: anyone who reaches the stack can read and change everything (local experiments only)')
    .option('--affinity', 'NGINX sends each user id to one app replica (consistent hash) instead of least connections')
    .option('--exact-ranges', 'write exact key-range boundaries (5555555555555555) instead of Vitess short names (55)')
    .option('--tracing', 'start Jaeger (built from the Go module proxy on first use) and have the apps trace into it over OTLP')
    .option('--no-tracing', 'on a stopped stack that traces: start it without Jaeger and without tracing')
    .option('--trace-sample <ratio>', 'share of new traces the apps sample with --tracing; a caller\'s sampled traceparent is always followed (default 1)', ratio)
    .option('--jaeger-port <port>', 'Jaeger UI and query API; OTLP/HTTP on the next port, query gRPC on the one after (default 16686)', int)
    .option('--monitoring', 'start Prometheus (Debian\'s package) scraping every app, Redis and PostgreSQL, with the alert rules of monitoring/alerts.yml')
    .option('--no-monitoring', 'on a stopped stack with monitoring: start it without Prometheus and its exporters')
    .option('--prometheus-port <port>', 'Prometheus port; the Redis and PostgreSQL exporters take the next two (default 9090)', int)
    .addHelpText('after', '\nEnvironment: TESSERA_* and OTEL_* variables are passed to the apps; TESSERA_PG_BIN_DIR uses a system PostgreSQL; TESSERA_APP_ENTRY replaces src/server.ts.')
    .action(async ({ auth, ...flags }: UpFlags) => {
      // commander sets `auth: true` unless --no-auth is given; only an explicit --no-auth counts.
      const result = await up({ ...flags, ...(auth === false && { noAuth: true }) });
      if (result.alreadyRunning) {
        console.error(`the stack in ${result.stack.dir} is already up; nothing changed`);
      } else {
        console.error(`${result.restarted ? 'restarted' : 'started'}; shard map v${result.mapVersion ?? '?'}`);
      }
      console.log(describeStack(result.stack));
    });
}
