/**
 * Token verification with jose, behind a bounded cache of verdicts: the
 * signature of a token is checked once, and later requests with the same
 * token cost a map look-up and a clock comparison (an L1-hit GET is ~50 µs;
 * an Ed25519 verification alone would add ~60 µs to it).
 *
 * Why jose: maintained, typed, no dependencies, supports EdDSA and ES256,
 * local and remote JWKS with kid selection, and refuses `alg: none` and
 * unexpected algorithms by construction (`algorithms` allow-list).
 */
import { errors, jwtVerify, type JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import type { JwksSource } from './jwks-source.js';
import { parseScopes, type Caller } from './scopes.js';

/** Settings of a {@link TokenVerifier}. */
export interface VerifierOptions {
  /** The `iss` every token must carry. */
  issuer: string;
  /** An `aud` every token must carry. */
  audience: string;
  /** Leeway on `exp` and `nbf`, for clocks that differ a little. @default 30 */
  clockToleranceSeconds?: number;
  /** Verified tokens remembered. @default 10000 */
  cacheEntries?: number;
}

/** Why a token was refused: goes into `WWW-Authenticate` as `error_description`. */
export class InvalidTokenError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InvalidTokenError';
  }
}

interface Verdict {
  caller: Caller;
  /** `exp` and `nbf` in ms, leeway included. */
  notAfter: number;
  notBefore: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Only asymmetric algorithms: a shared secret in every app could mint tokens too. */
const ALGORITHMS = ['EdDSA', 'ES256'];

/** The caller a verified payload describes, or why it describes none. */
export function callerOf(payload: JWTPayload): Caller {
  const scopes = parseScopes(typeof payload.scope === 'string' ? payload.scope : undefined);
  const clientId = payload.client_id;
  if (typeof clientId === 'string' && clientId !== '') return { kind: 'service', id: `client:${clientId}`, scopes };
  if (typeof payload.sub === 'string' && UUID.test(payload.sub)) {
    const userId = payload.sub.toLowerCase();
    return { kind: 'user', id: `user:${userId}`, scopes, userId };
  }
  throw new InvalidTokenError('the token names neither a client (client_id) nor a user (sub)');
}

/** Verifies bearer tokens against a JWKS; see the module comment. */
export class TokenVerifier {
  readonly #cache: LRUCache<string, Verdict>;
  readonly #leewayMs: number;

  constructor(
    private readonly keys: JwksSource,
    private readonly opts: VerifierOptions,
  ) {
    this.#leewayMs = (opts.clockToleranceSeconds ?? 30) * 1000;
    this.#cache = new LRUCache({ max: opts.cacheEntries ?? 10_000, ttl: keys.verdictTtlMs });
    // A rotation or revocation: every verdict is re-checked against the new keys.
    keys.onChange(() => this.#cache.clear());
  }

  /**
   * The caller of a token already verified and still within its validity
   * window, without any I/O or promise; undefined when it must be verified.
   */
  cached(token: string, now = Date.now()): Caller | undefined {
    const v = this.#cache.get(token);
    if (v === undefined) return undefined;
    if (now > v.notAfter || now < v.notBefore) {
      this.#cache.delete(token);
      return undefined;
    }
    return v.caller;
  }

  /** Verifies a token; throws {@link InvalidTokenError} saying why it is refused. */
  async verify(token: string): Promise<Caller> {
    const hit = this.cached(token);
    if (hit) return hit;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys.getKey, {
        algorithms: ALGORITHMS,
        issuer: this.opts.issuer,
        audience: this.opts.audience,
        clockTolerance: this.#leewayMs / 1000,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (err) {
      throw new InvalidTokenError(describe(err), { cause: err });
    }
    const caller = callerOf(payload);
    const exp = (payload.exp as number) * 1000 + this.#leewayMs;
    const nbf = payload.nbf === undefined ? 0 : payload.nbf * 1000 - this.#leewayMs;
    this.#cache.set(token, { caller, notAfter: exp, notBefore: nbf });
    return caller;
  }

  /** Forgets every verdict (tests; a key change does it by itself). */
  clear(): void {
    this.#cache.clear();
  }
}

/** A short, safe reason: which check failed, never key material. */
function describe(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'the token has expired';
  if (err instanceof errors.JWTClaimValidationFailed) return `the token's "${err.claim}" claim is not acceptable (${err.reason})`;
  if (err instanceof errors.JOSEAlgNotAllowed) return 'the token is signed with an algorithm this service does not accept';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'the token signature does not verify';
  if (err instanceof errors.JWKSNoMatchingKey) return 'no key of this service matches the token (kid)';
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSENotSupported) return 'the token is malformed';
  return 'the token could not be verified';
}
