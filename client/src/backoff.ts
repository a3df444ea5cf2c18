/** Full-jitter exponential backoff: the n-th delay is uniform in [0, min(max, initial × factor^n)). */

export interface BackoffOptions {
  /** Upper bound of the first delay; default 500 ms. */
  readonly initialDelayMs?: number;
  /** Cap of the upper bound; default 30 s. */
  readonly maxDelayMs?: number;
  /** Growth of the upper bound per attempt; default 2. */
  readonly factor?: number;
}

export const DEFAULT_BACKOFF = { initialDelayMs: 500, maxDelayMs: 30_000, factor: 2 } as const;

export class Backoff {
  private attempt = 0;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly factor: number;

  constructor(
    options: BackoffOptions = {},
    private readonly random: () => number = Math.random,
  ) {
    this.initialDelayMs = Math.max(0, options.initialDelayMs ?? DEFAULT_BACKOFF.initialDelayMs);
    this.maxDelayMs = Math.max(this.initialDelayMs, options.maxDelayMs ?? DEFAULT_BACKOFF.maxDelayMs);
    this.factor = Math.max(1, options.factor ?? DEFAULT_BACKOFF.factor);
  }

  /** Attempts since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The upper bound of the next delay. */
  ceiling(): number {
    return Math.min(this.maxDelayMs, this.initialDelayMs * this.factor ** this.attempt);
  }

  /** The next delay (and counts the attempt). */
  next(): number {
    const ceiling = this.ceiling();
    this.attempt++;
    const r = Math.min(Math.max(this.random(), 0), 1);
    return Math.floor(r * ceiling);
  }

  reset(): void {
    this.attempt = 0;
  }
}
