/**
 * `tessera up --tracing`: Jaeger beside the local stack (in memory, its UI
 * and query API on one port, OTLP over HTTP on the next), and the apps'
 * OpenTelemetry variables pointing at it. Jaeger is built from the Go module
 * proxy once, into .tools/jaeger (scripts/jaeger.mjs).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PROJECT_ROOT } from './project-root.js';
import { answers, runningSidecarPid, startSidecar, stopSidecar, type SidecarInfo } from './sidecar.js';
import type { StackInfo } from './stack-file.js';

/** Jaeger and how the apps trace, as stack.json records them. */
export interface TracingInfo {
  jaeger: SidecarInfo;
  /** Where the apps send spans (OTLP over HTTP). */
  otlpUrl: string;
  /** The Jaeger UI. */
  uiUrl: string;
  /** Share of new traces the apps sample (OTEL_TRACES_SAMPLER_ARG). */
  sample: number;
  config: string;
}

/** The binary scripts/jaeger.mjs builds. */
export const JAEGER_BIN = join(PROJECT_ROOT, '.tools', 'jaeger', 'jaeger');

/** Builds Jaeger if it is not built yet (minutes, the first time; Go's caches make later builds quick). */
export function ensureJaegerBinary(log: (line: string) => void): string {
  if (existsSync(JAEGER_BIN)) return JAEGER_BIN;
  log('building Jaeger from the Go module proxy (once, into .tools/jaeger; the first build takes several minutes)');
  const r = spawnSync(process.execPath, [join(PROJECT_ROOT, 'scripts', 'jaeger.mjs')], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0 || !existsSync(JAEGER_BIN)) throw new Error('could not build Jaeger (see above); `node scripts/jaeger.mjs` retries');
  return JAEGER_BIN;
}

/** Plans Jaeger with its UI on `port`, OTLP/HTTP on `port + 1` and its query gRPC on `port + 2`. */
export function planTracing(info: Pick<StackInfo, 'dir'>, port: number, sample: number): TracingInfo {
  if (!(sample >= 0 && sample <= 1)) throw new Error(`--trace-sample must be a ratio from 0 to 1, got ${sample}`);
  const config = join(info.dir, 'jaeger', 'jaeger.yaml');
  return {
    jaeger: {
      name: 'jaeger', bin: JAEGER_BIN, args: ['--config', config], url: `http://127.0.0.1:${port}`, port, pid: 0,
      log: join(info.dir, 'logs', 'jaeger.log'),
    },
    otlpUrl: `http://127.0.0.1:${port + 1}`,
    uiUrl: `http://127.0.0.1:${port}`,
    sample,
    config,
  };
}

/**
 * Jaeger v2's configuration (an OpenTelemetry Collector): OTLP/HTTP in,
 * in-memory storage, the query service and UI; nothing else listens.
 */
export function renderJaegerConfig(t: TracingInfo): string {
  const port = t.jaeger.port;
  return `# Rendered by \`tessera up --tracing\` (src/cluster/jaeger.ts); edit there.
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:${port}
    grpc:
      endpoint: 127.0.0.1:${port + 2}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${port + 1}
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}

/** The apps' OpenTelemetry variables for a stack that traces. */
export function tracingEnv(t: TracingInfo | undefined): Record<string, string> {
  if (!t) return {};
  return {
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: t.otlpUrl,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: String(t.sample),
    OTEL_SERVICE_NAME: 'tessera',
  };
}

/** Starts Jaeger unless it runs (building it first if needed). */
export async function startJaeger(info: StackInfo, log: (line: string) => void): Promise<void> {
  const t = info.tracing;
  if (!t || runningSidecarPid(t.jaeger)) return;
  ensureJaegerBinary(log);
  await mkdir(join(t.config, '..'), { recursive: true });
  await writeFile(t.config, renderJaegerConfig(t));
  log(`starting jaeger on :${t.jaeger.port} (UI; OTLP/HTTP on :${t.jaeger.port + 1})`);
  t.jaeger.pid = await startSidecar(t.jaeger, () => answers(`${t.uiUrl}/api/services`), 60_000);
}

/** Stops Jaeger (its traces are in memory: they go with it). */
export async function stopJaeger(info: StackInfo): Promise<void> {
  if (!info.tracing) return;
  await stopSidecar(info.tracing.jaeger);
  info.tracing.jaeger.pid = 0;
}
