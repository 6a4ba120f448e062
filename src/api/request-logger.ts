/**
 * Request loggers made only when a request logs something.
 *
 * Fastify gives every request a child of the process logger (bound to its
 * request id) before any hook runs; a pino child costs an object, a bindings
 * string and a prototype chain, and on an L1 hit that was a measurable share
 * of the request, for a logger that almost never writes (Fastify's own
 * request lines are off; NGINX writes the access log). This stands in for the
 * child and makes the real one on the first call, with the same bindings and
 * options, so what is logged is unchanged.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'fastify/types/logger.js';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

function call(logger: FastifyBaseLogger, level: Level, args: unknown[]): void {
  (logger[level] as (...a: unknown[]) => void).apply(logger, args);
}

export class LazyRequestLogger {
  #real: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly opts: ChildLoggerOptions,
  ) {}

  #logger(): FastifyBaseLogger {
    return (this.#real ??= this.parent.child(this.bindings, this.opts));
  }

  get level(): string {
    return this.#real?.level ?? this.opts.level ?? this.parent.level;
  }

  set level(level: string) {
    this.#logger().level = level;
  }

  isLevelEnabled(level: string): boolean {
    const l = this.#logger() as FastifyBaseLogger & { isLevelEnabled?: (level: string) => boolean };
    return l.isLevelEnabled ? l.isLevelEnabled(level) : true;
  }

  child(bindings: Bindings, opts?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#logger().child(bindings, opts);
  }

  // Prototype methods, not per-instance closures: an instance is made per request.
  fatal(...args: unknown[]): void {
    call(this.#logger(), 'fatal', args);
  }
  error(...args: unknown[]): void {
    call(this.#logger(), 'error', args);
  }
  warn(...args: unknown[]): void {
    call(this.#logger(), 'warn', args);
  }
  info(...args: unknown[]): void {
    call(this.#logger(), 'info', args);
  }
  debug(...args: unknown[]): void {
    call(this.#logger(), 'debug', args);
  }
  trace(...args: unknown[]): void {
    call(this.#logger(), 'trace', args);
  }
  silent(...args: unknown[]): void {
    call(this.#logger(), 'silent', args);
  }
}

/** Fastify's `childLoggerFactory` that hands each request a {@link LazyRequestLogger}. */
export function lazyChildLoggerFactory(logger: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyRequestLogger(logger, bindings, opts) as unknown as FastifyBaseLogger;
}
