/**
 * One budget for the inbound bytes the server holds across all connections: frames not yet
 * complete (ws buffers them until the last byte arrives) and complete messages queued for a
 * busy session. Without it, N peers that each send a frame header of maxPayloadBytes and
 * then most of the payload hold N x maxPayloadBytes (issue 9 §2: 24 peers, 1.17 GiB). Past
 * the budget, the connection holding the most is evicted (it is the one that costs the
 * others most; an honest sync holds at most one chunk at a time), until the total fits.
 */

export interface BudgetHolder {
  /** Close the connection and free what it holds; it must call `release` (directly or on close). */
  evictForBudget(total: number, limit: number): void;
}

export class InboundBudget {
  private readonly held = new Map<BudgetHolder, number>();
  private heldTotal = 0;

  constructor(readonly limit: number) {}

  get total(): number {
    return this.heldTotal;
  }

  /** What `holder` holds now; evicts the largest holders while the total is over the limit. */
  set(holder: BudgetHolder, bytes: number): void {
    const before = this.held.get(holder) ?? 0;
    if (bytes === before) return;
    if (bytes === 0) this.held.delete(holder);
    else this.held.set(holder, bytes);
    this.heldTotal += bytes - before;
    while (this.heldTotal > this.limit) {
      const largest = this.largest();
      if (!largest) break;
      const total = this.heldTotal;
      this.release(largest);
      largest.evictForBudget(total, this.limit);
    }
  }

  release(holder: BudgetHolder): void {
    const bytes = this.held.get(holder);
    if (bytes === undefined) return;
    this.held.delete(holder);
    this.heldTotal -= bytes;
  }

  private largest(): BudgetHolder | undefined {
    let best: BudgetHolder | undefined;
    let bestBytes = -1;
    for (const [holder, bytes] of this.held) {
      if (bytes > bestBytes) {
        best = holder;
        bestBytes = bytes;
      }
    }
    return best;
  }
}
