/**
 * Tracing is off unless the OTEL_* variables ask for an exporter, and off
 * costs nothing: no SDK module is loaded and no request hook is installed
 * (checked in a fresh process, as server.ts starts).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { tracingConfig } from '../../src/observability/tracing-config.js';

function probe(env: Record<string, string>): { tracing: boolean; requestHooks: boolean; sdkModules: number; status: number } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/support/tracing-probe.ts'], {
    encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/', ...env },
  });
  if (r.status !== 0) throw new Error(`probe failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as ReturnType<typeof probe>;
}

describe('tracing settings from the OTEL_* variables', () => {
  it('are off with no variable, with OTEL_SDK_DISABLED, and with the exporter none', () => {
    expect(tracingConfig({}).enabled).toBe(false);
    expect(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' }).enabled).toBe(false);
    expect(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_TRACES_EXPORTER: 'none' }).enabled).toBe(false);
  });

  it('are on with an OTLP endpoint or an exporter, sampling as asked', () => {
    expect(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toMatchObject({ enabled: true, exporter: 'otlp', sampler: 'parentbased_always_on', ratio: 1, serviceName: 'tessera' });
    expect(tracingConfig({ OTEL_TRACES_EXPORTER: 'console', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01', OTEL_SERVICE_NAME: 'edge' }))
      .toMatchObject({ enabled: true, exporter: 'console', sampler: 'parentbased_traceidratio', ratio: 0.01, serviceName: 'edge' });
  });

  it('refuse values the specification does not allow, naming the variable', () => {
    expect(() => tracingConfig({ OTEL_TRACES_SAMPLER: 'sometimes' })).toThrow(/OTEL_TRACES_SAMPLER/);
    expect(() => tracingConfig({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' })).toThrow(/OTEL_TRACES_SAMPLER_ARG/);
    expect(() => tracingConfig({ OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(/OTEL_TRACES_EXPORTER/);
    expect(() => tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/http\/protobuf/);
  });
});

describe('an app replica', () => {
  it('with tracing off loads no OpenTelemetry SDK module and installs no request hook', () => {
    expect(probe({})).toEqual({ tracing: false, requestHooks: false, sdkModules: 0, status: 200 });
  }, 60_000); // a fresh Node process with tsx: seconds on a busy machine

  it('with tracing on loads the SDK and traces every request', () => {
    const on = probe({ OTEL_TRACES_EXPORTER: 'console', OTEL_TRACES_SAMPLER: 'always_off' });
    expect(on).toMatchObject({ tracing: true, requestHooks: true, status: 200 });
    expect(on.sdkModules).toBeGreaterThan(0);
  }, 60_000);
});
