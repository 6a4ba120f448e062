/**
 * OpenTelemetry tracing for one process: the SDK is loaded only when
 * {@link tracingConfig} says tracing is on, so that with tracing off no SDK
 * module is imported, no context manager (AsyncLocalStorage) is installed
 * and no hook runs per request. Code on the request path asks
 * {@link activeTracer} and does nothing more when it is undefined.
 *
 * Context travels through AsyncLocalStorage (the SDK's context manager),
 * never by argument: a span started inside a request is a child of that
 * request's span wherever the code that starts it lives.
 */
import { context, ROOT_CONTEXT, SpanStatusCode, trace, type Attributes, type Span, type SpanOptions, type Tracer } from '@opentelemetry/api';
import type { Sampler, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { tracingConfig, type TracingConfig } from './tracing-config.js';

let tracer: Tracer | undefined;
let sampler: Sampler | undefined;
let adopt: ((traceId: string) => void) | undefined;

/** The tracer when tracing is on; undefined (and nothing to pay) when it is off. */
export function activeTracer(): Tracer | undefined {
  return tracer;
}

/**
 * The sampler in force (tracing on only): the request hooks ask it first, so
 * that a request it will not sample costs no span at all.
 */
export function activeSampler(): Sampler | undefined {
  return sampler;
}

/** What {@link startTracing} returns: flush before exit. */
export interface TracingHandle {
  config: TracingConfig;
  /** Exports every ended span now. */
  flush(): Promise<void>;
  /** Flushes and stops; spans started afterwards are dropped. */
  shutdown(): Promise<void>;
}

/** Options of {@link startTracing}. */
export interface StartTracingOptions {
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  /** `service.name` when OTEL_SERVICE_NAME is unset. @default `tessera` */
  serviceName?: string;
  /** `service.instance.id` (the app replica's id). */
  instanceId?: string;
  /**
   * Exports here, synchronously at each span's end, whatever the variables
   * say (tests with an in-memory exporter). Turns tracing on.
   */
  exporter?: SpanExporter;
}

/**
 * Starts tracing when the `OTEL_*` variables ask for it (or an exporter is
 * given); resolves undefined, having loaded nothing, when they do not.
 */
export async function startTracing(opts: StartTracingOptions = {}): Promise<TracingHandle | undefined> {
  const config = tracingConfig(opts.env ?? process.env, opts.serviceName);
  if (!config.enabled && !opts.exporter) return undefined;
  // Loaded here, never at import: a process with tracing off never loads the SDK.
  const [sdk, node, res, semconv] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/semantic-conventions'),
  ]);
  const exporter: SpanExporter = opts.exporter ?? (config.exporter === 'console'
    ? new sdk.ConsoleSpanExporter()
    : new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter());
  const processor = opts.exporter ? new sdk.SimpleSpanProcessor(exporter) : new sdk.BatchSpanProcessor(exporter);
  const ids = new AdoptingIdGenerator(new sdk.RandomIdGenerator());
  const ratio = new sdk.TraceIdRatioBasedSampler(config.ratio);
  const root = { always_on: new sdk.AlwaysOnSampler(), always_off: new sdk.AlwaysOffSampler(), traceidratio: ratio };
  const chosen = config.sampler.startsWith('parentbased_')
    ? new sdk.ParentBasedSampler({ root: root[config.sampler.slice('parentbased_'.length) as keyof typeof root] })
    : root[config.sampler as keyof typeof root];
  const resource = res.defaultResource()
    .merge(res.detectResources({ detectors: [res.envDetector] }))
    .merge(res.resourceFromAttributes({
      [semconv.ATTR_SERVICE_NAME]: config.serviceName,
      ...(opts.instanceId && { 'service.instance.id': opts.instanceId }),
    }));
  const provider = new node.NodeTracerProvider({ resource, sampler: chosen, idGenerator: ids, spanProcessors: [processor] });
  // The AsyncLocalStorage context manager and the W3C trace-context propagator.
  provider.register();
  tracer = provider.getTracer('tessera');
  sampler = chosen;
  adopt = (id) => ids.adopt(id);
  return {
    config,
    flush: () => provider.forceFlush(),
    async shutdown() {
      tracer = undefined;
      sampler = undefined;
      adopt = undefined;
      await provider.shutdown();
      trace.disable();
      context.disable();
    },
  };
}

const TRACE_ID = /^[0-9a-f]{32}$/;

/**
 * Starts a root span whose trace id is `traceId` (NGINX's request id, which
 * its access log records), or a random one when that is not a valid id. The
 * root sampler decides as for any new trace.
 */
export function startRootSpan(name: string, options: SpanOptions, traceId: string | undefined): Span {
  const t = tracer;
  if (!t) throw new Error('tracing is off');
  if (traceId !== undefined && TRACE_ID.test(traceId) && !/^0+$/.test(traceId)) adopt?.(traceId);
  try {
    return t.startSpan(name, options, ROOT_CONTEXT);
  } finally {
    adopt?.('');
  }
}

interface IdSource {
  generateTraceId(): string;
  generateSpanId(): string;
}

/** Random ids, except that the next trace id may be handed in (and is used once). */
class AdoptingIdGenerator implements IdSource {
  #next = '';

  constructor(private readonly random: IdSource) {}

  adopt(traceId: string): void {
    this.#next = traceId;
  }

  generateTraceId(): string {
    const id = this.#next || this.random.generateTraceId();
    this.#next = '';
    return id;
  }

  generateSpanId(): string {
    return this.random.generateSpanId();
  }
}

/** Marks a span failed with `err`. */
export function recordError(span: Span, err: unknown): void {
  if (err instanceof Error) span.recordException(err);
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}

/**
 * Runs `fn` inside a new active span (a child of whatever span is active),
 * ending it when `fn` settles; without tracing, just runs `fn`. Callers on
 * the hottest paths check {@link activeTracer} first so that they do not
 * even build `attributes` when tracing is off.
 */
export function inSpan<T>(name: string, attributes: Attributes | undefined, fn: (span: Span | undefined) => Promise<T>): Promise<T> {
  const t = tracer;
  if (!t) return fn(undefined);
  // Inside a request that is not sampled (no recording span around), nothing to record.
  const around = trace.getSpan(context.active());
  if (around && !around.isRecording()) return fn(undefined);
  return t.startActiveSpan(name, attributes ? { attributes } : {}, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      recordError(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * Whether code on a request's path should make spans: tracing is on and a
 * sampled request's span is active. Cheaper to ask than to make a span that
 * records nothing.
 */
export function tracingHere(): boolean {
  return tracer !== undefined && recordingSpan() !== undefined;
}

/** The active span when tracing is on and it records (a sampled request), else undefined. */
export function recordingSpan(): Span | undefined {
  if (!tracer) return undefined;
  const span = trace.getSpan(context.active());
  return span?.isRecording() ? span : undefined;
}
