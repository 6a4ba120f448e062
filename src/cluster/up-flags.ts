/**
 * What `tessera up` does with flags on a stack that already exists: it never
 * ignores them. A flag that asks for what the stack already is changes
 * nothing. NGINX's own settings (`--rate`, `--burst`, `--anon-rate`,
 * `--anon-burst`, `--affinity`) are
 * applied when `up` starts NGINX again, since its configuration is rendered
 * from stack.json at every start. Anything else (shards, replicas, apps,
 * ports, strategy, range names, `--no-auth`) is data, processes or keys
 * already laid out, so `up` refuses and says what to run instead. (Pure: no I/O.)
 */
import { ANON_BURST_DEFAULT, ANON_RATE_DEFAULT, upstreamPorts, type StackLayoutOptions } from './layout.js';
import type { StackInfo } from './stack-file.js';

/** Flags `up` can compare with a stack that exists. */
export type ComparableFlag = Exclude<keyof StackLayoutOptions, 'dir' | 'nginxWorkers' | 'appEntry'>;

/** A flag whose value differs from the existing stack's. */
export interface FlagChange {
  flag: ComparableFlag;
  /** What the stack has. */
  was: string;
  /** What was asked for. */
  asked: string;
}

/** NGINX settings: safe to apply to an existing stack whenever NGINX (re)starts. */
export const NGINX_FLAGS: ReadonlySet<ComparableFlag> = new Set(['rate', 'burst', 'anonRate', 'anonBurst', 'affinity']);

/**
 * Tracing and monitoring: side processes and the apps' environment, applied
 * when `up` starts the stack again (apps started then trace as asked).
 */
export const OBSERVABILITY_FLAGS: ReadonlySet<ComparableFlag> = new Set(['tracing', 'traceSample', 'jaegerPort', 'monitoring', 'prometheusPort']);

/** Flags `up` applies to a stopped stack as it starts it again. */
export const RESTART_FLAGS: ReadonlySet<ComparableFlag> = new Set([...NGINX_FLAGS, ...OBSERVABILITY_FLAGS]);

/** The command-line spelling of a flag (`appSlots` → `--app-slots`). */
export function flagName(flag: ComparableFlag): string {
  return `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** What each comparable flag is for an existing stack, read off its stack file. */
export function stackFlags(info: StackInfo): Record<ComparableFlag, string | number | boolean> {
  const slots = upstreamPorts(info.nginx, info.apps);
  return {
    shards: info.shards.length,
    replicas: Math.max(0, ...info.shards.map((s) => s.replicas.length)),
    apps: info.apps.length,
    appSlots: slots.length,
    strategy: info.strategy,
    port: info.nginx.port,
    pgBasePort: info.catalog.port,
    redisPort: info.redis.port,
    appBasePort: Math.min(...slots),
    rate: info.nginx.rate,
    burst: info.nginx.burst,
    // Stack files from before the anonymous zone render its defaults.
    anonRate: info.nginx.anonRate ?? ANON_RATE_DEFAULT,
    anonBurst: info.nginx.anonBurst ?? ANON_BURST_DEFAULT,
    affinity: info.nginx.affinity ?? false,
    // Exact boundaries are 16 hex digits; Vitess short names are shorter.
    exactRanges: info.shards.some((s) => s.ranges.some((r) => /[0-9a-f]{16}/i.test(r))),
    // A stack file from before authentication gets it at its next `up`: on.
    noAuth: info.auth?.mode === 'off',
    durability: info.durability ?? 'sync',
    tracing: info.tracing !== undefined,
    traceSample: info.tracing?.sample ?? 1,
    jaegerPort: info.tracing?.jaeger.port ?? 16686,
    monitoring: info.monitoring !== undefined,
    prometheusPort: info.monitoring?.prometheus.port ?? 9090,
  };
}

/** The flags given in `opts` whose values differ from the stack's. Absent flags never differ. */
export function changedFlags(info: StackInfo, opts: StackLayoutOptions): FlagChange[] {
  const current = stackFlags(info);
  const changes: FlagChange[] = [];
  for (const flag of Object.keys(current) as ComparableFlag[]) {
    const asked = opts[flag];
    if (asked === undefined || asked === current[flag]) continue;
    changes.push({ flag, was: String(current[flag]), asked: String(asked) });
  }
  return changes;
}

/** One line per change: `--shards 3 (the stack has 2)`. */
export function describeChanges(changes: FlagChange[]): string {
  return changes.map((c) => `${flagName(c.flag)} ${c.asked} (the stack has ${c.was})`).join(', ');
}
