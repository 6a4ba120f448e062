/**
 * Which methods a path allows, for `405 Method Not Allowed` (with the `Allow`
 * header RFC 9110 requires) and `OPTIONS`, instead of a 404 for a wrong
 * method on a path that exists.
 *
 * The routes are recorded as they are registered into a router of their own,
 * find-my-way, the one Fastify routes with, so a path matches here exactly
 * when Fastify would match it. It is consulted only for requests Fastify
 * found no route for: the hot path never touches it.
 */
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import type { FastifyInstance } from 'fastify';

/** The methods the API can serve, in the order `Allow` lists them. */
export const API_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** Answers which methods a concrete path allows. */
export type AllowedMethods = (path: string) => string[];

/**
 * Records every route registered on `app` from now on. Call it before the
 * routes are registered. The answer includes OPTIONS for every path that
 * exists, because the not-found handler answers OPTIONS for them.
 */
export function recordAllowedMethods(app: FastifyInstance, opts: { maxParamLength: number }): AllowedMethods {
  const router = FindMyWay({ maxParamLength: opts.maxParamLength });
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat().map((m) => m.toUpperCase() as HTTPMethod)) {
      if (!router.hasRoute(method, route.url)) router.on(method, route.url, () => undefined);
    }
  });
  return (path) => {
    const allowed = API_METHODS.filter((m) => m !== 'OPTIONS' && router.find(m, path) !== null);
    return allowed.length === 0 ? [] : [...allowed, 'OPTIONS'];
  };
}
