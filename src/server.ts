import closeWithGrace from 'close-with-grace';
import { pino } from 'pino';
import { buildApp } from './api/app.js';
import { loadConfig } from './config/env.js';
import { createRuntime } from './runtime.js';

/**
 * The app replica process: configuration, logger, runtime, HTTP server, and a
 * graceful close on SIGTERM/SIGINT (stop accepting, answer 503 to new requests
 * on open connections so NGINX retries elsewhere, finish in-flight ones,
 * close pools) bounded by TESSERA_DRAIN_MS.
 */
const config = loadConfig();
const log = pino({ level: config.TESSERA_LOG_LEVEL, base: { app: config.TESSERA_APP_ID } });

const runtime = await createRuntime(config, log);
const app = await buildApp({ ...runtime.api, logger: log });

closeWithGrace({ delay: config.TESSERA_DRAIN_MS, logger: log }, async ({ signal, err }) => {
  if (err) log.error({ err }, 'closing after an unexpected error');
  else log.info({ signal }, 'draining');
  runtime.startDraining();
  await app.close();
  await runtime.close();
});

await app.listen({ host: config.TESSERA_HOST, port: config.TESSERA_PORT });
