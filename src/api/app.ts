import { randomBytes } from 'node:crypto';
import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Metrics } from '../observability/metrics.js';
import type { DocumentService } from '../users/document-service.js';
import type { UserService } from '../users/user-service.js';
import { authPlugin, type AuthOptions } from './plugins/auth.js';
import { drainPlugin } from './plugins/drain.js';
import { loadSheddingPlugin, type LoadSheddingOptions } from './plugins/load-shedding.js';
import { installJsonBodyParser } from './plugins/json-body.js';
import { clientErrorHandler, frameworkErrors, installErrorHandlers } from './problem.js';
import { recordAllowedMethods } from './allowed-methods.js';
import { httpMetrics } from '../observability/http-metrics.js';
import { traceIdOf } from '../observability/log-context.js';
import { installRequestTracing } from '../observability/request-tracing.js';
import { activeSampler, activeTracer } from '../observability/tracing.js';
import { documentsRoutes } from './routes/documents.js';
import type { ReadinessProbe } from './routes/health.js';
import { healthRoutes } from './routes/health.js';
import { usersRoutes } from './routes/users.js';
import { lazyChildLoggerFactory } from './request-logger.js';
import { JsonValue, Problem } from './schemas.js';
import { swaggerOptions } from './openapi.js';
import { validatorCompiler } from './validation.js';

/** What the HTTP layer needs; it runs no SQL itself. */
export interface ApiDeps {
  users: UserService;
  documents: DocumentService;
  probe: ReadinessProbe;
  metrics: Metrics;
  limits: { maxDocBytes: number; maxProfileBytes: number };
  /** Cache inspection for tests; registered only when set. */
  debugCache?: (key: string) => Promise<unknown>;
  /** The process logger (pino); none in tests that do not want one. */
  logger?: FastifyBaseLogger;
  /** This replica's name, sent as `X-Tessera-App` on every response (which replica served it). */
  appId?: string;
  /** Load-shedding thresholds; no shedding when absent. */
  loadShedding?: LoadSheddingOptions;
  /** One access-log line per request (method, url, status, time, request id). */
  accessLog?: boolean;
  /** Token verification and rate limits; absent (or without a verifier) means authentication is off. */
  auth?: AuthOptions;
  /** Peers whose X-Forwarded-For is believed (proxy-addr names or CIDRs), for per-address limits. */
  trustProxy?: string;
}

// Longer than NGINX lets a URI be (8k), so behind NGINX an over-long parameter
// is a schema error naming the field, not a routing error.
const MAX_PARAM_LENGTH = 8192;
const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

// Request ids made here: a random prefix per process and a counter. Unique
// across replicas (48 random bits each) without a random UUID per request.
const REQUEST_ID_PREFIX = randomBytes(6).toString('hex');
let requestCounter = 0;
function nextRequestId(): string {
  requestCounter++;
  return `${REQUEST_ID_PREFIX}-${requestCounter.toString(16).padStart(8, '0')}`;
}

/** Builds the Fastify app: plugins first, then routes. `server.ts` owns the process around it. */
export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger, childLoggerFactory: lazyChildLoggerFactory } : { logger: false }),
    // Fastify's two lines per request cost more than an L1 hit; NGINX writes the
    // access log, and this app logs one line per request only when asked.
    logController: new LogController({ disableRequestLogging: true }),
    // Bodies beyond this are 413 before parsing; documents have their own, smaller limit.
    bodyLimit: Math.max(deps.limits.maxDocBytes, deps.limits.maxProfileBytes) + 16 * 1024,
    // Take the caller's X-Request-ID (NGINX sets one) if it is sane, else make one.
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : nextRequestId();
    },
    // The drain plugin answers 503 itself, as problem+json with Retry-After.
    return503OnClosing: false,
    // Emails (up to 254) and document keys (up to 200) arrive as path parameters.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Routing and HTTP-parser errors as problem+json too.
    frameworkErrors,
    clientErrorHandler,
    // A client that has not sent its whole request in 30 s is cut off. Node checks this on a
    // timer of its own; an idle-socket timeout (connectionTimeout) would re-arm a timer on every
    // request instead, and idle keep-alive sockets are keepAliveTimeout's.
    requestTimeout: 30_000,
    // req.ip is the client behind NGINX, for the per-address limit of callers without a valid token.
    ...(deps.trustProxy && { trustProxy: deps.trustProxy }),
    keepAliveTimeout: 65_000, // longer than NGINX's upstream keepalive_timeout, so NGINX closes first
  }).withTypeProvider<TypeBoxTypeProvider>();

  // First of all hooks, and only with tracing on: everything after runs inside the request's span.
  const tracer = activeTracer();
  const sampler = activeSampler();
  if (tracer && sampler) installRequestTracing(app, tracer, sampler, deps.appId);

  app.setValidatorCompiler(validatorCompiler);
  // JSON only: any other media type is 415, not a string body that fails validation.
  app.removeContentTypeParser(['text/plain']);
  // Every response about one user names its shard: the handlers set it on
  // success (where they know it without hashing the id again), the error
  // handler on failure.
  const allowedMethods = recordAllowedMethods(app, { maxParamLength: MAX_PARAM_LENGTH });
  installErrorHandlers(app, { shardOf: (id) => deps.users.shardOf(id), allowedMethods });
  installJsonBodyParser(app);
  app.addSchema(Problem);
  await app.register(drainPlugin, { draining: () => deps.probe.draining() });
  if (deps.loadShedding) await app.register(loadSheddingPlugin, deps.loadShedding);
  // After draining and shedding (refusing is cheaper than verifying), before any route.
  await app.register(authPlugin, deps.auth ?? {});

  app.addSchema(JsonValue);
  await app.register(swagger, swaggerOptions);
  // Each operation's security requirement comes from what the route declares (config.auth).
  app.addHook('onRoute', (route) => {
    const need = route.config?.auth;
    if (need === undefined) return;
    route.schema = { ...route.schema, security: [{ bearerAuth: [need.scope] }] };
  });

  // The hooks below run on every request: callback style, since an async
  // hook costs a promise each time (measurable on an L1 hit).
  const appId = deps.appId;
  app.addHook('onSend', (req, reply, payload, done) => {
    void reply.header('x-request-id', req.id);
    if (appId) void reply.header('x-tessera-app', appId);
    done(null, payload);
  });
  if (deps.accessLog) {
    app.addHook('onResponse', (req, reply, done) => {
      req.log.info({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, traceId: traceIdOf(req) }, 'request');
      done();
    });
  }
  const http = httpMetrics(deps.metrics);
  app.addHook('onResponse', (req, reply, done) => {
    const tier = reply.getHeader('x-tessera-cache');
    http.record(req.routeOptions.url ?? 'unmatched', req.method, reply.statusCode, typeof tier === 'string' ? tier : 'none', reply.elapsedTime / 1000);
    done();
  });

  await app.register(healthRoutes, { probe: deps.probe, metrics: deps.metrics });
  await app.register(usersRoutes, { users: deps.users, maxProfileBytes: deps.limits.maxProfileBytes });
  await app.register(documentsRoutes, { documents: deps.documents, maxDocBytes: deps.limits.maxDocBytes });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  if (deps.debugCache) {
    const inspect = deps.debugCache;
    app.get<{ Querystring: { key: string } }>(
      '/internal/cache',
      { schema: { hide: true, querystring: { type: 'object', required: ['key'], properties: { key: { type: 'string', maxLength: 300 } } } } },
      async (req) => inspect(req.query.key),
    );
  }
  return app;
}
