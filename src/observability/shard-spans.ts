/**
 * Spans of the routed database layer (tracing on only): the shard an
 * operation ran on and the role that served it, a retry after a stale map or
 * a failover fence, and a shard refused by its open circuit breaker. Attribute
 * names are Tessera's own (`tessera.*`); the statements inside are client
 * spans with the database conventions (client-spans.ts).
 */
import { SpanStatusCode, type Span } from '@opentelemetry/api';
import { activeTracer, inSpan, recordingSpan } from './tracing.js';

/** Names the role (and replica) that served a read on the active shard span. */
export function servedBy(role: 'primary' | 'replica', replica?: string): void {
  const span = recordingSpan();
  if (!span) return;
  span.setAttribute('tessera.shard.role', role);
  if (replica) span.setAttribute('tessera.replica', replica);
}

/**
 * A shard refused by its open breaker: an instant span, failed, so that the
 * trace shows the request never reached the shard and why.
 */
export function breakerRejected(shard: string, state: string): void {
  const tracer = activeTracer();
  if (!tracer || !recordingSpan()) return;
  const span = tracer.startSpan(`breaker open ${shard}`, { attributes: { 'tessera.shard': shard, 'tessera.breaker.state': state } });
  span.setStatus({ code: SpanStatusCode.ERROR, message: `the circuit breaker of ${shard} is ${state}: failing fast` });
  span.end();
}

/** Runs one routed operation (`read`, `tx`, `primary`, `lock`) in a span named for it; the shard is added once known. */
export function shardOperation<T>(op: string, fn: (span: Span | undefined) => Promise<T>): Promise<T> {
  return inSpan(`shard.${op}`, undefined, fn);
}

/** Names the shard a routed operation goes to (the span's name gains it). */
export function routedTo(span: Span | undefined, op: string, shard: string, mapVersion: number): void {
  if (!span) return;
  span.updateName(`shard.${op} ${shard}`);
  span.setAttribute('tessera.shard', shard);
  span.setAttribute('tessera.shard_map.version', mapVersion);
}

/**
 * The wait before a routed operation runs again: the shard's fence refused
 * a write (`stale_map`: the range moved, reload the map) or its primary is
 * moving (`failover`: reload the endpoints).
 */
export function retrySpan<T>(reason: 'stale_map' | 'failover', shard: string, attempt: number, fn: () => Promise<T>): Promise<T> {
  return inSpan(`shard.retry ${reason}`, { 'tessera.retry.reason': reason, 'tessera.shard': shard, 'tessera.retry.attempt': attempt }, () => fn());
}
