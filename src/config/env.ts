import Type, { type Static } from 'typebox';
import Value from 'typebox/value';

/**
 * Every setting of an app replica, read once from the environment. Defaults
 * suit the local stack; the README lists each variable.
 */
export const ConfigSchema = Type.Object({
  /** Address the HTTP server binds. */
  TESSERA_HOST: Type.String({ default: '127.0.0.1' }),
  /** Port the HTTP server binds. */
  TESSERA_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  /** Name of this replica in logs, metrics and the catalog's heartbeat table. */
  TESSERA_APP_ID: Type.String({ default: 'app' }),
  /** Catalog database: shard map versions, shard connection strings. */
  TESSERA_CATALOG_URL: Type.String({ default: 'postgres://tessera:tessera@127.0.0.1:15432/tessera_catalog' }),
  /** Redis for the L2 cache and the invalidation channel. */
  TESSERA_REDIS_URL: Type.String({ default: 'redis://127.0.0.1:6390' }),
  /** pino log level. */
  TESSERA_LOG_LEVEL: Type.Union([Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')], { default: 'info' }),
  /** One log line per request from the app (NGINX writes the access log anyway). */
  TESSERA_ACCESS_LOG: Type.Boolean({ default: false }),
  /** Largest document value, in bytes of JSON. */
  TESSERA_MAX_DOC_BYTES: Type.Integer({ minimum: 1024, default: 65536 }),
  /** Largest user profile, in bytes of JSON. */
  TESSERA_MAX_PROFILE_BYTES: Type.Integer({ minimum: 256, default: 16384 }),
  /** Connections per shard primary pool, per app replica. */
  TESSERA_PG_POOL_SIZE: Type.Integer({ minimum: 1, default: 10 }),
  /** Bound on any one shard query; past it the request gets 503 and the breaker counts a failure. */
  TESSERA_SHARD_TIMEOUT_MS: Type.Integer({ minimum: 50, default: 2000 }),
  /** How often the shard map is re-read from the catalog when no notification arrives. */
  TESSERA_MAP_POLL_MS: Type.Integer({ minimum: 100, default: 5000 }),
  /** A read replica further behind than this serves no reads until it catches up. */
  TESSERA_REPLICA_MAX_LAG_MS: Type.Integer({ minimum: 0, default: 1000 }),
  /** How often each app replica measures every read replica's lag. */
  TESSERA_REPLICA_POLL_MS: Type.Integer({ minimum: 20, default: 250 }),
  /** L1 (in-process) cache: most entries. */
  TESSERA_L1_MAX_ENTRIES: Type.Integer({ minimum: 0, default: 50000 }),
  /** L1 cache: most bytes of cached JSON. */
  TESSERA_L1_MAX_BYTES: Type.Integer({ minimum: 0, default: 64 * 1024 * 1024 }),
  /** L1 time to live; short, because other replicas' writes reach L1 only through invalidations. */
  TESSERA_L1_TTL_MS: Type.Integer({ minimum: 1, default: 5000 }),
  /** L2 (Redis) time to live. */
  TESSERA_L2_TTL_MS: Type.Integer({ minimum: 1, default: 300000 }),
  /** How long a not-found is remembered (both tiers). */
  TESSERA_NEGATIVE_TTL_MS: Type.Integer({ minimum: 0, default: 2000 }),
  /** TTL jitter, as a fraction: 0.2 spreads expiries over ±20% so keys do not expire together. */
  TESSERA_TTL_JITTER: Type.Number({ minimum: 0, maximum: 0.9, default: 0.2 }),
  /** Past this a Redis command counts as failed and the request goes on without L2. */
  TESSERA_REDIS_TIMEOUT_MS: Type.Integer({ minimum: 5, default: 100 }),
  /** Serves GET /internal/cache (what each tier holds for a key) for tests and debugging. Never expose it. */
  TESSERA_DEBUG_ENDPOINTS: Type.Boolean({ default: false }),
  /**
   * `jwt`: every /v1 call needs a bearer JWT that verifies against the JWKS
   * below. `off`: no authentication at all, for local experiments only (the
   * app logs a warning at start).
   */
  TESSERA_AUTH: Type.Union([Type.Literal('jwt'), Type.Literal('off')], { default: 'jwt' }),
  /** JWKS file with the public keys that verify tokens; re-read when it changes (key rotation without restart). */
  TESSERA_AUTH_JWKS_FILE: Type.String({ default: '' }),
  /** JWKS URL (an identity provider's), instead of a file; cached and re-fetched on an unknown `kid`. */
  TESSERA_AUTH_JWKS_URL: Type.String({ default: '' }),
  /** The `iss` every token must carry. */
  TESSERA_AUTH_ISSUER: Type.String({ minLength: 1, default: 'tessera' }),
  /** An `aud` every token must carry. */
  TESSERA_AUTH_AUDIENCE: Type.String({ minLength: 1, default: 'tessera' }),
  /** Leeway, in seconds, on `exp` and `nbf` for clocks that differ. */
  TESSERA_AUTH_CLOCK_TOLERANCE_S: Type.Integer({ minimum: 0, maximum: 300, default: 30 }),
  /** Requests per window per verified caller (`sub` or client id), across replicas. 0 turns it off. */
  TESSERA_RATE_LIMIT: Type.Integer({ minimum: 0, default: 1000 }),
  /** Requests per window per client address without a valid token (missing, malformed, refused). 0 turns it off. */
  TESSERA_RATE_LIMIT_ANONYMOUS: Type.Integer({ minimum: 0, default: 20 }),
  /** The rate-limit window, in ms (a sliding window). */
  TESSERA_RATE_WINDOW_MS: Type.Integer({ minimum: 100, default: 1000 }),
  /** How often each replica shares its rate-limit counts through Redis; the cross-replica tolerance grows with it. */
  TESSERA_RATE_SYNC_MS: Type.Integer({ minimum: 5, default: 50 }),
  /**
   * Peers whose `X-Forwarded-For` is believed (proxy-addr names or CIDRs),
   * so that per-address limits see the client's address behind NGINX.
   */
  TESSERA_TRUST_PROXY: Type.String({ default: 'loopback,uniquelocal' }),
  /**
   * How long a draining replica waits on SIGTERM for its connections to end
   * (in-flight requests, and NGINX closing its idle ones after 4 s).
   */
  TESSERA_DRAIN_MS: Type.Integer({ minimum: 0, default: 10000 }),
  /**
   * Load shedding: past this mean event-loop delay (ms, sampled every second)
   * new requests get 503 with Retry-After instead of queueing. 0 turns it off.
   * High on purpose: a busy but healthy replica stays far below it.
   */
  TESSERA_MAX_EVENT_LOOP_DELAY_MS: Type.Integer({ minimum: 0, default: 1000 }),
  /** Load shedding: past this event-loop utilisation (0–1, e.g. 0.98) new requests get 503. 0 turns it off. */
  TESSERA_MAX_EVENT_LOOP_UTILIZATION: Type.Number({ minimum: 0, maximum: 1, default: 0 }),
});

export type Config = Static<typeof ConfigSchema>;

/** Validates the environment once; throws with every offending variable named. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(ConfigSchema.properties)) {
    if (env[key] !== undefined && env[key] !== '') picked[key] = env[key];
  }
  // Defaults first, then string → number conversion, then one strict check.
  const value = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, picked));
  if (!Value.Check(ConfigSchema, value)) {
    const detail = [...Value.Errors(ConfigSchema, value)].map((e) => `${e.instancePath.slice(1) || '(root)'} ${e.message}`).join('; ');
    throw new Error(`invalid configuration: ${detail}`);
  }
  return value;
}
