/**
 * Quotas against enumeration (spec/discovery.md §6). Each account has a token bucket of
 * OPRF evaluations (Signal's default shape: a large bucket that refills slowly), and a
 * separate small bucket for one-off lookups. Contacts the account had evaluated before
 * are not charged again: the client blinds deterministically (its blind for a contact is
 * derived from a device secret), so a contact it checked before yields the same blinded
 * element, and the server recognizes it from an 8-byte hash of that element. The set of
 * hashes already charged is carried by the client, bound to the account by a MAC token
 * the server issues; the server stores only the bucket (tokens, time), never the set and
 * never a contact in clear (a blinded element reveals nothing without the device secret).
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ascii, concat, i2osp } from '../../oprf/encoding.js';
import { ProtocolError } from '../errors.js';

export const CHARGE_HASH_BYTES = 8;
const CHARGE_LABEL = ascii('contact-psi-v1-charge');
const TOKEN_LABEL = ascii('contact-psi-v1-quota-token');

export interface BucketPolicy {
  /** Most evaluations an account can hold (and the initial balance). */
  readonly capacity: number;
  /** Evaluations added per millisecond, up to capacity. */
  readonly refillPerMs: number;
}

const DAY_MS = 24 * 3600 * 1000;

/** 50,000 evaluations, refilled at 1,500 per day (a full bucket in about a month). */
export const DEFAULT_SYNC_POLICY: BucketPolicy = Object.freeze({ capacity: 50_000, refillPerMs: 1_500 / DAY_MS });
/** One-off lookups (a number typed in by hand): 50, refilled at 50 per day. */
export const DEFAULT_LOOKUP_POLICY: BucketPolicy = Object.freeze({ capacity: 50, refillPerMs: 50 / DAY_MS });

export interface BucketState {
  tokens: number;
  updatedAt: number;
}

/**
 * Durable bucket state. Asynchronous: the session never calls it inside handle(), only from
 * its deferred work (a charge is one piece the driver runs), so the store may be remote.
 */
export interface QuotaStore {
  getBucket(account: string): Promise<BucketState | undefined>;
  putBucket(account: string, state: BucketState): Promise<void>;
  /**
   * Read-modify-write in one transaction, so two server processes cannot spend the same
   * tokens; `update` may throw to refuse, and then nothing is written.
   */
  updateBucket?(account: string, update: (state: BucketState | undefined) => BucketState): Promise<BucketState>;
}

/** The balance at `now`: the stored tokens plus what refilled since, capped. */
export function balance(policy: BucketPolicy, state: BucketState | undefined, now: number): number {
  if (!state) return policy.capacity;
  const elapsed = Math.max(0, now - state.updatedAt);
  return Math.min(policy.capacity, state.tokens + elapsed * policy.refillPerMs);
}

/**
 * The bucket after taking `count` tokens at `now`, or `rate_limited` with the time until
 * they are there. Pure: the stores run it inside their read-modify-write transaction.
 */
export function takeTokens(
  policy: BucketPolicy,
  state: BucketState | undefined,
  count: number,
  now: number,
  units: { asked: string; held: string } = { asked: 'new contacts', held: 'evaluations' },
): BucketState {
  const available = balance(policy, state, now);
  if (count > available) {
    // No retry helps when the request exceeds the bucket, or when the bucket never refills.
    const retryAfterMs = count > policy.capacity || !(policy.refillPerMs > 0) ? undefined : Math.ceil((count - available) / policy.refillPerMs);
    throw new ProtocolError(
      'rate_limited',
      count > policy.capacity
        ? `${count} ${units.asked} exceed the quota of ${policy.capacity}`
        : `quota exhausted: ${Math.floor(available)} ${units.held} left, ${count} needed`,
      { retryAfterMs },
    );
  }
  return { tokens: available - count, updatedAt: now };
}

/** Takes `count` tokens or rejects with `rate_limited` and the time until they are there. */
export async function chargeBucket(store: QuotaStore, account: string, policy: BucketPolicy, count: number, now: number): Promise<number> {
  const charge = (state: BucketState | undefined): BucketState => takeTokens(policy, state, count, now);
  if (store.updateBucket) return (await store.updateBucket(account, charge)).tokens;
  const next = charge(await store.getBucket(account));
  await store.putBucket(account, next);
  return next.tokens;
}

/** The 8-byte hash by which the server recognizes a blinded element charged before. */
export const chargeHash = (blinded: Uint8Array): Uint8Array => sha256(concat(CHARGE_LABEL, blinded)).subarray(0, CHARGE_HASH_BYTES);

/** Canonical form of a charged set: sorted, distinct, packed. */
export function canonicalChargeSet(hashes: Iterable<string>): Uint8Array {
  const sorted = [...new Set(hashes)].sort();
  const out = new Uint8Array(sorted.length * CHARGE_HASH_BYTES);
  sorted.forEach((h, i) => out.set(hexToBytes(h), i * CHARGE_HASH_BYTES));
  return out;
}

/** MAC binding an account to exactly this charged set (server key only on the server). */
export function quotaToken(key: Uint8Array, account: string, packedSet: Uint8Array): Uint8Array {
  const accountBytes = ascii(account);
  return hmac(sha256, key, concat(TOKEN_LABEL, i2osp(accountBytes.length, 2), accountBytes, sha256(packedSet)));
}

export function hexOf(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

function hexToBytes(h: string): Uint8Array {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export interface QuotaConfig {
  store: QuotaStore;
  /** Server secret for quota tokens (32 random bytes, kept across restarts). */
  tokenKey: Uint8Array;
  sync?: BucketPolicy;
  lookup?: BucketPolicy;
}

/**
 * One session's view of an account's quota: verifies the client's token and charged set,
 * charges only elements not in it, and issues the token over the grown set at the end.
 */
export class QuotaLedger {
  /** Everything that will not be charged again: the accepted previous set and this session's chunks. */
  private readonly seen = new Set<string>();
  /** The previous sync's set, when its token verified. */
  private readonly previous = new Set<string>();
  /** Each charged chunk's hashes, in order. */
  private readonly chunks: string[][] = [];

  constructor(
    private readonly config: QuotaConfig,
    private readonly account: string,
    private readonly purpose: 'sync' | 'lookup',
  ) {}

  /** A set whose token does not verify is ignored (everything is charged), never trusted. */
  presentToken(token: Uint8Array, packedSet: Uint8Array): boolean {
    if (this.purpose !== 'sync' || !constantTimeEqual(quotaToken(this.config.tokenKey, this.account, packedSet), token)) return false;
    for (let off = 0; off < packedSet.length; off += CHARGE_HASH_BYTES) {
      const h = hexOf(packedSet.subarray(off, off + CHARGE_HASH_BYTES));
      this.seen.add(h);
      this.previous.add(h);
    }
    return true;
  }

  /**
   * Charge a chunk (packed blinded elements of `size` bytes): all or nothing. Calls must not
   * overlap (the session charges its chunks one after another, in order): the chunk index
   * is the chunk's place in the token's set.
   */
  async charge(blinded: Uint8Array, size: number, now: number): Promise<void> {
    const hashes: string[] = [];
    for (let off = 0; off < blinded.length; off += size) hashes.push(hexOf(chargeHash(blinded.subarray(off, off + size))));
    const unique = [...new Set(hashes.filter((h) => !this.seen.has(h)))];
    if (unique.length > 0) {
      const policy = this.purpose === 'lookup' ? (this.config.lookup ?? DEFAULT_LOOKUP_POLICY) : (this.config.sync ?? DEFAULT_SYNC_POLICY);
      await chargeBucket(this.config.store, `${this.purpose}:${this.account}`, policy, unique.length, now);
    }
    for (const h of unique) this.seen.add(h);
    this.chunks.push(hashes);
  }

  /**
   * The token over the accepted previous set plus the first `chunks` charged chunks (all by
   * default): the set a client computes from the chunks it has been answered, so the token
   * verifies at its next sync even while later chunks are still being evaluated.
   */
  issueToken(chunks = this.chunks.length): { token: Uint8Array; set: Uint8Array } | undefined {
    if (this.purpose !== 'sync') return undefined;
    const set = canonicalChargeSet([...this.previous, ...this.chunks.slice(0, chunks).flat()]);
    return { token: quotaToken(this.config.tokenKey, this.account, set), set };
  }
}
