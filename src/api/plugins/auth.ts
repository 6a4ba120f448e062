/**
 * Authentication, authorization and per-caller rate limits: one plugin that
 * puts the verified caller on the request, and one `onRequest` hook that
 * checks, before any body is parsed and before any database or Redis work:
 *
 * 1. a bearer token is present and verifies (else 401 with
 *    `WWW-Authenticate: Bearer realm="tessera", error="invalid_token"`);
 * 2. the caller is within its rate limit (else 429 with `Retry-After`);
 * 3. the caller holds the route's scope (else 403 `insufficient_scope`);
 * 4. a user token asks only about its own user: another user's id is
 *    answered 404, exactly as an id that does not exist, so that a user
 *    cannot learn who else exists; routes for services only are 403.
 *
 * Routes declare what they need in their options (`config.auth`); a route
 * without it (health, OpenAPI) is open. Verified tokens are cached, so an
 * L1-hit GET pays a map look-up here, not a signature check.
 *
 * Callers without a valid token are limited per address, so that a client
 * sending a new garbage token each time is held to that address's budget and
 * cannot make this replica verify signatures without bound: once over, its
 * unverified tokens are refused with 429 before any verification.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { InvalidTokenError, type TokenVerifier } from '../../auth/verifier.js';
import { READ, LIST, SCOPES, WRITE, type Caller, type RouteAuth } from '../../auth/scopes.js';
import type { RateDecision, RateLimiter } from '../../ratelimit/limiter.js';
import { sendProblem } from '../problem.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller; null on open routes. */
    caller: Caller | null;
  }
  interface FastifyContextConfig {
    /** What the route needs; absent means open (health, OpenAPI). */
    auth?: RouteAuth;
  }
}

/** Options of the auth plugin. */
export interface AuthOptions {
  /** Verifies tokens; absent means authentication is off (`--no-auth`): every caller may do everything. */
  verifier?: TokenVerifier;
  /** Per verified caller (`caller.id`). Absent: no per-caller limit. */
  callerLimiter?: RateLimiter;
  /** Per address, for requests without a valid token. Absent: no such limit in the app. */
  addressLimiter?: RateLimiter;
}

const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;
const REALM = 'Bearer realm="tessera"';
/** The caller when authentication is off: a service with every scope. */
const NO_AUTH_CALLER: Caller = { kind: 'service', id: 'anonymous', scopes: new Set(SCOPES) };

function quote(text: string): string {
  return text.replace(/["\\]/g, "'");
}

function unauthorized(req: FastifyRequest, reply: FastifyReply, why: string): void {
  void reply.header('www-authenticate', `${REALM}, error="invalid_token", error_description="${quote(why)}"`);
  sendProblem(req, reply, 'TESSERA_ERR_UNAUTHENTICATED', why);
}

function limited(req: FastifyRequest, reply: FastifyReply, d: RateDecision, who: string): void {
  void reply.header('retry-after', String(d.retryAfter)).header('x-ratelimit-limit', String(d.limit)).header('x-ratelimit-remaining', '0');
  sendProblem(req, reply, 'TESSERA_ERR_RATE_LIMITED', `rate limit of ${who} exceeded; retry after ${d.retryAfter} s`);
}

const auth: FastifyPluginAsync<AuthOptions> = async (app, opts) => {
  const { verifier, callerLimiter, addressLimiter } = opts;
  app.decorateRequest('caller', null);

  /** Steps 2–4 for a verified caller; returns false when it answered the request itself. */
  const admit = (req: FastifyRequest, reply: FastifyReply, need: RouteAuth, caller: Caller): boolean => {
    if (callerLimiter) {
      const d = callerLimiter.take(caller.id);
      if (!d.allowed) {
        limited(req, reply, d, 'this caller');
        return false;
      }
      void reply.header('x-ratelimit-limit', String(d.limit)).header('x-ratelimit-remaining', String(d.remaining));
    }
    if (!caller.scopes.has(need.scope)) {
      void reply.header('www-authenticate', `${REALM}, error="insufficient_scope", scope="${need.scope}"`);
      sendProblem(req, reply, 'TESSERA_ERR_INSUFFICIENT_SCOPE', `this operation needs the scope ${need.scope}`, { scope: need.scope });
      return false;
    }
    if (caller.kind === 'user') {
      if (need.users === 'services') {
        sendProblem(req, reply, 'TESSERA_ERR_FORBIDDEN', 'a user token reaches only its own user; this operation needs a service token');
        return false;
      }
      const id = (req.params as { id?: unknown }).id;
      if (typeof id === 'string' && id.toLowerCase() !== caller.userId) {
        // Exactly the answer for an id that does not exist: a user token learns nothing of other users.
        sendProblem(req, reply, 'TESSERA_ERR_USER_NOT_FOUND', `no user ${id.toLowerCase()}`);
        return false;
      }
    }
    req.caller = caller;
    return true;
  };

  // A callback hook: it runs on every request, and an async one costs a promise each time.
  app.addHook('onRequest', (req, reply, done) => {
    const need = req.routeOptions.config.auth;
    if (need === undefined) {
      done();
      return;
    }
    if (!verifier) {
      req.caller = NO_AUTH_CALLER;
      done();
      return;
    }
    const header = req.headers.authorization;
    const token = header === undefined ? undefined : BEARER.exec(header)?.[1];
    // The common case, a token verified before: no promise, no signature check.
    const known = token === undefined ? undefined : verifier.cached(token);
    if (known) {
      if (admit(req, reply, need, known)) done();
      return;
    }
    // Callers without a valid token are limited per address: a missing or
    // refused token costs the address one request of its budget, and an
    // address past its budget gets no signature checks at all. A token that
    // verifies costs the address nothing (many users may share one address).
    const refuse = (why: string) => {
      const d = addressLimiter?.take(req.ip);
      if (d && !d.allowed) limited(req, reply, d, 'this address (requests without a valid token)');
      else unauthorized(req, reply, why);
    };
    if (token === undefined) {
      refuse(header === undefined ? 'a bearer token is required' : 'the Authorization header is not "Bearer <token>"');
      return;
    }
    if (addressLimiter && !addressLimiter.wouldAllow(req.ip)) {
      limited(req, reply, addressLimiter.take(req.ip), 'this address (requests without a valid token)');
      return;
    }
    verifier.verify(token).then(
      (caller) => {
        if (admit(req, reply, need, caller)) done();
      },
      (err: unknown) => {
        if (err instanceof InvalidTokenError) refuse(err.message);
        else done(err as Error);
      },
    );
  });
};

/** Authentication and authorization; see the module comment. */
export const authPlugin = fp(auth, { name: 'tessera-auth', fastify: '5.x' });

/** Route options for the common cases. */
export const needs = {
  read: { auth: { scope: READ, users: 'own' } },
  write: { auth: { scope: WRITE, users: 'own' } },
  create: { auth: { scope: WRITE, users: 'services' } },
  list: { auth: { scope: LIST, users: 'services' } },
} as const satisfies Record<string, { auth: RouteAuth }>;
