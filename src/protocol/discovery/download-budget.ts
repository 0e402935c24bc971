/**
 * The per-account snapshot download budget (spec/discovery.md §7, issue 9 §2): bytes of
 * `dir.snapshot.part` one account may take across all its sessions, as a token bucket of
 * bytes that refills over time. The per-session cap (about 2× the snapshot) stops one
 * session from pipelining `dir.snapshot.get` for ever; this stops an account from doing
 * the same over many sessions.
 *
 * In memory, in the server process, not in the DirectoryStore's bucket table: it is charged
 * inside handle() for every part (a part is answered from memory, and a store write per part
 * would cost more than the part), and losing it at a restart only gives each account a fresh
 * budget. Servers sharing one store each keep their own ledger. The clock comes in as `now`
 * (the session's), so tests drive refills with a fake clock.
 */
import { ContactPsiError } from '../../errors.js';
import { balance, takeTokens, type BucketPolicy, type BucketState } from './quota.js';

const DAY_MS = 24 * 3600 * 1000;
const GIB = 1024 * 1024 * 1024;

/**
 * 1 GiB per account, refilled at 1 GiB per day: a snapshot of a 100M-entry directory
 * (binary fuse, ~113 MB) about nine times a day, a 1M-entry one (~1.2 MB) hundreds of
 * times; an honest client downloads one per epoch and then lives on deltas.
 */
export const DEFAULT_DOWNLOAD_POLICY: BucketPolicy = Object.freeze({ capacity: GIB, refillPerMs: GIB / DAY_MS });

/** Accounts whose buckets are kept; past it the least recently charged is forgotten (a fresh budget). */
export const DEFAULT_DOWNLOAD_ACCOUNTS = 100_000;

export interface DownloadBudgetOptions {
  /** Bytes per account and their refill (default DEFAULT_DOWNLOAD_POLICY). */
  readonly policy?: BucketPolicy;
  /** Most accounts held in memory (default 100,000): bounds the ledger whatever the number of accounts. */
  readonly maxAccounts?: number;
}

export class DownloadBudget {
  readonly policy: BucketPolicy;
  readonly maxAccounts: number;
  /** In order of last charge: the first entry is the one refilled longest. */
  private readonly buckets = new Map<string, BucketState>();

  constructor(options: DownloadBudgetOptions = {}) {
    const policy = options.policy ?? DEFAULT_DOWNLOAD_POLICY;
    if (!(Number.isFinite(policy.capacity) && policy.capacity >= 0 && Number.isFinite(policy.refillPerMs) && policy.refillPerMs >= 0)) {
      throw new ContactPsiError('invalid_option', 'a download policy needs a finite capacity and refill, both >= 0');
    }
    const maxAccounts = options.maxAccounts ?? DEFAULT_DOWNLOAD_ACCOUNTS;
    if (!(Number.isSafeInteger(maxAccounts) && maxAccounts >= 1)) throw new ContactPsiError('invalid_option', 'maxAccounts must be a positive integer');
    this.policy = Object.freeze({ ...policy });
    this.maxAccounts = maxAccounts;
  }

  /** Takes `bytes` from the account's budget at `now`, or throws `rate_limited` with `retryAfterMs`. */
  charge(account: string, bytes: number, now: number): void {
    const next = takeTokens(this.policy, this.buckets.get(account), bytes, now, { asked: 'snapshot bytes', held: 'download bytes' });
    this.buckets.delete(account); // re-inserted last: the map stays in order of last charge
    this.buckets.set(account, next);
    if (this.buckets.size > this.maxAccounts) this.buckets.delete(this.buckets.keys().next().value!);
  }

  /** Bytes the account may still download at `now`. */
  remaining(account: string, now: number): number {
    return balance(this.policy, this.buckets.get(account), now);
  }

  /** Accounts currently held. */
  get size(): number {
    return this.buckets.size;
  }
}
