/** Builds the auth plugin's parts from the app configuration. */
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import type { AuthOptions } from '../api/plugins/auth.js';
import type { Config } from '../config/env.js';
import { RateLimiter } from '../ratelimit/limiter.js';
import { fileJwks, urlJwks, type JwksSource } from './jwks-source.js';
import { TokenVerifier } from './verifier.js';

/** The auth plugin's options and what must be closed at shutdown. */
export interface AuthRuntime {
  options: AuthOptions;
  close(): Promise<void>;
}

/**
 * Verifier and limiters per the configuration. Throws at start when JWT auth
 * is on but no key source (or two) is configured: an app that cannot verify
 * tokens must not come up and refuse every caller.
 */
export function authFromConfig(config: Config, redis: Redis, log: FastifyBaseLogger): AuthRuntime {
  if (config.TESSERA_AUTH === 'off') {
    log.warn('TESSERA_AUTH=off: authentication is OFF — anyone who reaches this service can read and change every user. For local experiments only.');
    return { options: {}, close: async () => undefined };
  }
  const file = config.TESSERA_AUTH_JWKS_FILE;
  const url = config.TESSERA_AUTH_JWKS_URL;
  if ((file === '') === (url === '')) {
    throw new Error('with TESSERA_AUTH=jwt set exactly one of TESSERA_AUTH_JWKS_FILE and TESSERA_AUTH_JWKS_URL (or TESSERA_AUTH=off for a local experiment)');
  }
  const keys: JwksSource = file !== ''
    ? fileJwks(file, { onError: (err) => log.error({ err, file }, 'JWKS reload failed; the previous keys stay in force') })
    : urlJwks(url);
  if (file !== '') keys.onChange(() => log.info({ file }, 'JWKS changed: keys reloaded'));
  const verifier = new TokenVerifier(keys, {
    issuer: config.TESSERA_AUTH_ISSUER,
    audience: config.TESSERA_AUTH_AUDIENCE,
    clockToleranceSeconds: config.TESSERA_AUTH_CLOCK_TOLERANCE_S,
  });
  let warned = false;
  const onSyncError = (err: Error) => {
    // Once per outage is enough: the L2 logs Redis going away and coming back.
    if (!warned) log.warn({ err }, 'rate limits cannot sync through Redis; each replica limits on its own');
    warned = true;
  };
  const common = { windowMs: config.TESSERA_RATE_WINDOW_MS, syncMs: config.TESSERA_RATE_SYNC_MS, onSyncError };
  const callerLimiter = config.TESSERA_RATE_LIMIT > 0
    ? new RateLimiter({ ...common, limit: config.TESSERA_RATE_LIMIT, prefix: 'tessera:rl:caller:' }, redis)
    : undefined;
  const addressLimiter = config.TESSERA_RATE_LIMIT_ANONYMOUS > 0
    ? new RateLimiter({ ...common, limit: config.TESSERA_RATE_LIMIT_ANONYMOUS, prefix: 'tessera:rl:addr:' }, redis)
    : undefined;
  return {
    options: { verifier, ...(callerLimiter && { callerLimiter }), ...(addressLimiter && { addressLimiter }) },
    async close() {
      keys.close();
      await Promise.all([callerLimiter?.close(), addressLimiter?.close()]);
    },
  };
}
