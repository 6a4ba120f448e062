/**
 * Authentication in the Docker suite: the one switch. The stacks run with
 * TESSERA_AUTH set to this (auth is on by default in every stack), and every
 * request of the suite carries what {@link authHeaders} gives.
 */

/** What the suite's stacks run with. */
export const DOCKER_AUTH: 'jwt' | 'off' = 'off';

/** Headers that authenticate a request of the suite (none while auth is off). */
export function authHeaders(): Record<string, string> {
  return {};
}
