import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import closeWithGrace from 'close-with-grace';
import { pino } from 'pino';
import { buildApp } from './api/app.js';
import { loadConfig } from './config/env.js';
import { traceLogMixin } from './observability/log-context.js';
import { startTracing } from './observability/tracing.js';
import { createRuntime } from './runtime.js';

/**
 * The app replica process: configuration, logger, runtime, HTTP server, and a
 * graceful close on SIGTERM/SIGINT: stop accepting, answer 503 to new
 * idempotent requests on open connections so NGINX retries elsewhere (serve
 * POST and PATCH, which it cannot retry), let the connections end for up to
 * TESSERA_DRAIN_MS, then close the pools and exit 0.
 */
const config = loadConfig();
const traceLog = traceLogMixin();
const log = pino({ level: config.TESSERA_LOG_LEVEL, base: { app: config.TESSERA_APP_ID }, mixin: traceLog.mixin });
traceLog.bindRoot(log);
// Before the runtime: its pools and Redis clients are instrumented as they are made (only when on).
const tracing = await startTracing({ instanceId: config.TESSERA_APP_ID });
if (tracing) log.info({ sampler: tracing.config.sampler, ratio: tracing.config.ratio, exporter: tracing.config.exporter }, 'tracing on (OTEL_* variables)');

const runtime = await createRuntime(config, log);
const app = await buildApp({
  ...runtime.api,
  logger: log,
  appId: config.TESSERA_APP_ID,
  accessLog: config.TESSERA_ACCESS_LOG,
  loadShedding: {
    maxEventLoopDelayMs: config.TESSERA_MAX_EVENT_LOOP_DELAY_MS,
    maxEventLoopUtilization: config.TESSERA_MAX_EVENT_LOOP_UTILIZATION,
  },
});

/**
 * Stops accepting, then lets the open connections end on their own within the
 * drain bound: each response while draining carries `Connection: close`, and
 * NGINX closes its idle upstream connections after its keepalive_timeout
 * (4 s). Closing an idle keep-alive connection from this side instead (what
 * `http.Server#close` does) races with NGINX sending a request on it at that
 * instant, and NGINX cannot resend a POST or PATCH elsewhere. Past the bound,
 * whatever is still open is cut.
 */
async function drainHttp(): Promise<void> {
  const ended = new Promise<boolean>((done) => {
    net.Server.prototype.close.call(app.server, () => done(true));
  });
  const inTime = await Promise.race([ended, sleep(config.TESSERA_DRAIN_MS, false, { ref: false })]);
  if (!inTime) {
    log.warn({ drainMs: config.TESSERA_DRAIN_MS }, 'drain bound reached; closing the connections still open');
    app.server.closeAllConnections();
  }
  await app.close();
}

// The hard bound covers the drain plus closing pools and Redis; past it close-with-grace exits 1.
closeWithGrace({ delay: config.TESSERA_DRAIN_MS + 5000, logger: log }, async ({ signal, err }) => {
  if (err) log.error({ err }, 'closing after an unexpected error');
  else log.info({ signal }, 'draining');
  runtime.startDraining();
  await drainHttp();
  await runtime.close();
  await tracing?.shutdown();
  log.info('drained; exiting');
});

await app.listen({ host: config.TESSERA_HOST, port: config.TESSERA_PORT });
