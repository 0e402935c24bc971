/**
 * One timer per connection, armed at the earliest deadline. Arming is lazy: a later
 * deadline never replaces an earlier timer (the early wake-up re-checks and re-arms), so
 * refreshing an idle deadline on every message costs no clearTimeout/setTimeout pair.
 */

import { systemClock, type Clock, type TimerHandle } from './clock.js';

// setTimeout fires at once for delays above 2^31 - 1 ms; clamp and re-arm on wake-up.
const MAX_DELAY = 0x7fffffff;

export class DeadlineTimer {
  private handle: TimerHandle | undefined;
  private at: number | undefined;

  constructor(
    private readonly fire: () => void,
    private readonly now: () => number,
    private readonly clock: Pick<Clock, 'setTimeout' | 'clearTimeout'> = systemClock,
  ) {}

  /** Make sure the timer wakes no later than `at` (absolute ms); undefined: nothing due. */
  arm(at: number | undefined): void {
    if (at === undefined || (this.at !== undefined && this.at <= at)) return;
    this.clear();
    this.at = at;
    this.handle = this.clock.setTimeout(() => {
      this.handle = undefined;
      this.at = undefined;
      this.fire();
    }, Math.min(MAX_DELAY, Math.max(0, at - this.now())));
  }

  clear(): void {
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.handle = undefined;
    this.at = undefined;
  }
}
