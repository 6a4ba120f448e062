/**
 * Whether and how to trace, read from the standard OpenTelemetry variables
 * (pure: no SDK is loaded here, so that deciding "off" costs nothing).
 *
 * Tracing is off unless an exporter is asked for: `OTEL_TRACES_EXPORTER`
 * set to `otlp` or `console`, or an OTLP endpoint
 * (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`).
 * `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` keeps it off
 * whatever else is set. The SDK's own default (on, exporting to localhost)
 * would make every replica pay for spans nobody collects.
 */

/** The samplers of the OpenTelemetry specification (`OTEL_TRACES_SAMPLER`). */
export type SamplerName = 'always_on' | 'always_off' | 'traceidratio' | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio';

/** Tracing settings for one process. */
export interface TracingConfig {
  /** False: no SDK is loaded and no request pays for tracing. */
  enabled: boolean;
  exporter: 'otlp' | 'console';
  sampler: SamplerName;
  /** The ratio of the `traceidratio` samplers, 0–1. */
  ratio: number;
  /** `service.name` of every span. */
  serviceName: string;
}

const SAMPLERS: readonly SamplerName[] = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'];

const truthy = (v: string | undefined) => v !== undefined && ['true', '1', 'yes'].includes(v.trim().toLowerCase());

/**
 * Reads the tracing settings from `env`; throws naming the variable when a
 * value is not one the specification allows, or a protocol Tessera does not
 * ship an exporter for.
 */
export function tracingConfig(env: NodeJS.ProcessEnv, defaultServiceName = 'tessera'): TracingConfig {
  const exporterVar = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const exporters = exporterVar ? exporterVar.split(',').map((s) => s.trim()) : [];
  for (const e of exporters) {
    if (!['otlp', 'console', 'none'].includes(e)) throw new Error(`OTEL_TRACES_EXPORTER: ${e} is not supported (otlp, console or none)`);
  }
  const exporter: TracingConfig['exporter'] = exporters.includes('otlp') || (exporters.length === 0 && endpoint) ? 'otlp' : 'console';
  const enabled = !truthy(env.OTEL_SDK_DISABLED) && !exporters.includes('none') && (exporters.length > 0 || Boolean(endpoint));

  const samplerVar = (env.OTEL_TRACES_SAMPLER?.trim().toLowerCase() || 'parentbased_always_on') as SamplerName;
  if (!SAMPLERS.includes(samplerVar)) throw new Error(`OTEL_TRACES_SAMPLER: ${samplerVar} is not one of ${SAMPLERS.join(', ')}`);
  let ratio = 1;
  if (samplerVar.endsWith('traceidratio') && env.OTEL_TRACES_SAMPLER_ARG !== undefined && env.OTEL_TRACES_SAMPLER_ARG !== '') {
    ratio = Number(env.OTEL_TRACES_SAMPLER_ARG);
    if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) throw new Error(`OTEL_TRACES_SAMPLER_ARG: a ratio from 0 to 1, got ${env.OTEL_TRACES_SAMPLER_ARG}`);
  }
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/protobuf').trim();
  if (enabled && exporter === 'otlp' && protocol !== 'http/protobuf') {
    throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL: Tessera exports OTLP over http/protobuf only, got ${protocol}`);
  }
  return { enabled, exporter, sampler: samplerVar, ratio, serviceName: env.OTEL_SERVICE_NAME?.trim() || defaultServiceName };
}
