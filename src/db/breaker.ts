/**
 * A per-shard circuit breaker: after `threshold` consecutive failures the
 * shard is skipped for `coolDownMs`, so callers fail fast (503) instead of
 * queueing on a dead server; then one trial request decides.
 */
export class CircuitBreaker {
  #failures = 0;
  #openUntil = 0;
  #trialInFlight = false;

  constructor(
    private readonly threshold = 3,
    private readonly coolDownMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a request may go to the shard now. */
  allow(): boolean {
    if (this.#failures < this.threshold) return true;
    if (this.now() < this.#openUntil || this.#trialInFlight) return false;
    this.#trialInFlight = true;
    return true;
  }

  /** Records a success: the breaker closes. */
  success(): void {
    this.#failures = 0;
    this.#trialInFlight = false;
  }

  /** Records a failure that says the shard is unavailable. */
  failure(): void {
    this.#failures += 1;
    this.#trialInFlight = false;
    if (this.#failures >= this.threshold) this.#openUntil = this.now() + this.coolDownMs;
  }

  /** `closed` (serving), `open` (failing fast) or `half-open` (a trial may pass). */
  get state(): 'closed' | 'open' | 'half-open' {
    if (this.#failures < this.threshold) return 'closed';
    return this.now() < this.#openUntil ? 'open' : 'half-open';
  }
}
