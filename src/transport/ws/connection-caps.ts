/**
 * Counters for the per-address and per-account connection caps: a slot is taken at the
 * upgrade (upgrades in progress count, so a burst cannot overshoot while authenticating) and
 * given back when the TCP socket closes, whatever happened in between.
 */
export class ConnectionCaps {
  private readonly counts = new Map<string, number>();

  constructor(readonly limit: number) {}

  /** Take a slot for `key`; false (nothing taken) when it already has `limit`. */
  tryAcquire(key: string): boolean {
    const n = this.counts.get(key) ?? 0;
    if (n >= this.limit) return false;
    this.counts.set(key, n + 1);
    return true;
  }

  release(key: string): void {
    const n = this.counts.get(key) ?? 0;
    if (n <= 1) this.counts.delete(key);
    else this.counts.set(key, n - 1);
  }

  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }
}
