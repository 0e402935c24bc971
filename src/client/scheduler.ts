/**
 * The background sync timer of the SDK: one pending sync at a time, with a reason, armed
 * on the injected Clock. It decides when to sync (first sync, every interval, after an
 * address-book change, retries with backoff); the SDK decides whether it may (consent)
 * and how (transport). Delays come from schedule-policy.ts.
 *
 * Its timers do not keep a Node process alive by default: the SDK's clock unrefs them
 * (clock.ts hostClock), so a pending sync never holds a CLI or a test open. An app that must
 * stay up for its next sync passes `keepAlive: true` to the SDK (or its own clock).
 */
import type { Clock } from './clock.js';
import { backoffDelay, debounceDelay, initialDelay, intervalDelay, maxIntervalDelay, retryAfterOf, type SchedulePolicy } from './schedule-policy.js';

export type SyncReason = 'initial' | 'periodic' | 'change' | 'retry';

/** What the scheduler remembers across restarts (sync-state.json). */
export interface SyncState {
  /** identifierSetHash of the book last synced successfully. */
  syncedHash: string;
  lastSyncAt: number;
  /** When the next periodic sync is due (last sync + a jittered interval). */
  nextDueAt: number;
}

export interface RetryInfo {
  reason: SyncReason;
  /** Consecutive failures, 1 for the first. */
  attempt: number;
  retryInMs: number;
  retryAt: number;
}

export interface SchedulerHooks {
  /** Runs one sync of the current book; resolves with the identifierSetHash it synced. */
  run(reason: SyncReason): Promise<string>;
  /** identifierSetHash of the book now; undefined when the book cannot be read. */
  currentHash(): string | undefined;
  /** Whether background syncs may run at all (consent). */
  allowed(): boolean;
  saveState(state: SyncState): void;
  onRetry(error: unknown, info: RetryInfo): void;
}

interface Pending {
  handle: unknown;
  dueAt: number;
  reason: SyncReason;
}

export class SyncScheduler {
  #pending: Pending | undefined;
  #started = false;
  #running = false;
  /** Bumped by pause()/stop(): a run that began before must not schedule anything after. */
  #generation = 0;
  #attempt = 0;
  /** Time of the first change of the current burst (bounds the debounce). */
  #changeSince: number | undefined;
  #state: SyncState | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly random: () => number,
    private readonly policy: SchedulePolicy,
    private readonly hooks: SchedulerHooks,
    state?: SyncState,
  ) {
    this.#state = state;
  }

  get started(): boolean {
    return this.#started;
  }

  get pending(): { dueAt: number; reason: SyncReason } | undefined {
    return this.#pending && { dueAt: this.#pending.dueAt, reason: this.#pending.reason };
  }

  get state(): SyncState | undefined {
    return this.#state && { ...this.#state };
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#arm();
  }

  stop(): void {
    this.#started = false;
    this.pause();
  }

  /** Cancels what is pending (consent revoked); a later resume() re-arms if started. */
  pause(): void {
    this.#generation++;
    this.#cancel();
    this.#attempt = 0;
    this.#changeSince = undefined;
  }

  resume(): void {
    this.#arm();
  }

  /** Forgets the synced state (consent revoked: the next sync is a first sync). */
  forget(): void {
    this.#state = undefined;
  }

  /**
   * The app says the address book changed. Syncs after the debounce only if the set of
   * identifiers differs from the one last synced; renaming or reordering contacts does not
   * cost the user a query (quotas charge new identifiers, and each sync reveals activity).
   */
  notifyChanged(): void {
    if (!this.#started || !this.hooks.allowed()) return;
    // A running sync re-checks the hash when it succeeds; a pending first sync or retry
    // reads the book when it runs, and a change must not cut a backoff short.
    if (this.#running) return;
    const pending = this.#pending;
    if (pending && (pending.reason === 'retry' || pending.reason === 'initial')) return;
    const hash = this.hooks.currentHash();
    const now = this.clock.now();
    if (hash !== undefined && hash === this.#state?.syncedHash) {
      // Changed back, or only names changed: drop a pending change sync.
      if (pending?.reason === 'change') {
        this.#cancel();
        this.#changeSince = undefined;
        this.#arm();
      }
      return;
    }
    this.#changeSince ??= now;
    const dueAt = Math.max(now, Math.min(now + debounceDelay(this.policy, this.random()), this.#changeSince + this.policy.maxDebounceMs));
    if (pending && pending.reason !== 'change' && pending.dueAt <= dueAt) return; // due sooner anyway
    this.#schedule(dueAt, 'change');
  }

  /** A sync the app ran itself (sdk.sync) succeeded: restart the interval from now. */
  recordSuccess(hash: string): void {
    this.#succeeded(hash);
  }

  #arm(): void {
    if (!this.#started || this.#running || this.#pending || !this.hooks.allowed()) return;
    const now = this.clock.now();
    const state = this.#state;
    const hash = this.hooks.currentHash();
    if (state === undefined) return this.#schedule(now + initialDelay(this.policy, this.random()), 'initial');
    if (hash === undefined || hash !== state.syncedHash) return this.#schedule(now + initialDelay(this.policy, this.random()), 'change');
    // A clock set back (or a tampered file) must not postpone the next sync beyond one interval.
    if (state.nextDueAt > now) return this.#schedule(Math.min(state.nextDueAt, now + maxIntervalDelay(this.policy)), 'periodic');
    this.#schedule(now + initialDelay(this.policy, this.random()), 'periodic'); // overdue: soon, jittered
  }

  #schedule(dueAt: number, reason: SyncReason): void {
    this.#cancel();
    const handle = this.clock.setTimeout(() => void this.#fire(reason), Math.max(0, dueAt - this.clock.now()));
    this.#pending = { handle, dueAt, reason };
  }

  #cancel(): void {
    if (this.#pending) this.clock.clearTimeout(this.#pending.handle);
    this.#pending = undefined;
  }

  async #fire(reason: SyncReason): Promise<void> {
    this.#pending = undefined;
    if (!this.#started || !this.hooks.allowed()) return;
    const generation = this.#generation;
    this.#running = true;
    let hash: string;
    try {
      hash = await this.hooks.run(reason);
    } catch (error) {
      this.#running = false;
      if (generation === this.#generation) this.#failed(error, reason);
      return;
    }
    this.#running = false;
    if (generation === this.#generation) this.#succeeded(hash);
  }

  #succeeded(hash: string): void {
    const now = this.clock.now();
    this.#attempt = 0;
    this.#changeSince = undefined;
    this.#state = { syncedHash: hash, lastSyncAt: now, nextDueAt: now + intervalDelay(this.policy, this.random()) };
    this.hooks.saveState(this.#state);
    if (!this.#started || !this.hooks.allowed()) return;
    this.#schedule(this.#state.nextDueAt, 'periodic');
    // The book changed while the sync ran: that change is not synced yet.
    if (this.hooks.currentHash() !== hash) this.notifyChanged();
  }

  #failed(error: unknown, reason: SyncReason): void {
    this.#attempt++;
    const now = this.clock.now();
    const retryInMs = backoffDelay(this.policy, this.#attempt, this.random(), retryAfterOf(error));
    if (this.#started && this.hooks.allowed()) this.#schedule(now + retryInMs, 'retry');
    this.hooks.onRetry(error, { reason, attempt: this.#attempt, retryInMs, retryAt: now + retryInMs });
  }
}
