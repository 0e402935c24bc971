/**
 * Quotas against enumeration (spec/discovery.md §6, §9). Each account has a token bucket of
 * OPRF evaluations (Signal's default shape: a large bucket that refills slowly), and a
 * separate small bucket for one-off lookups.
 *
 * Receipts (issue 10 §4). The client blinds deterministically (its blind for a contact is
 * derived from a secret per directory identity and account), so a contact it checked
 * before yields the same blinded element, which the server recognizes from an 8-byte hash.
 * The client keeps the OPRF outputs of an epoch, so within an epoch it never needs an
 * element evaluated twice: a re-evaluation in the same epoch is CHARGED. After a rotation
 * the book must be evaluated once under the new key: each element charged in an earlier
 * epoch is evaluated FREE once per epoch. The receipt says which, bound by a MAC:
 *
 *   receipt = (chain, epoch, generation, set, evaluated)
 *     chain      16 random bytes the server chose for this line of receipts (one per device)
 *     set        every charge hash paid for in this chain (sorted, distinct, packed)
 *     evaluated  bitmap over `set`: evaluated in `epoch` already (free or charged)
 *     generation the chain's counter on the server when it was issued
 *
 * The server keeps one integer per chain, its generation (a bucket row
 * `receipt:<account>:<chain hex>`, tokens = generation). A session's first charge bumps the
 * presented chain's, and the receipt is accepted only if it carries the generation being
 * bumped: an old receipt replayed (an earlier epoch's, to make the whole set free again, or
 * one with fewer `evaluated` bits) is refused and everything is charged (the chain goes on
 * at the bumped generation, its set started over). A session without a receipt gets a new
 * chain, announced before its first charge (openChain) and written with it, so rows cost
 * tokens; chains are per device, so two devices of one account do not make each other's
 * receipts stale.
 *
 * And per chain, what its latest charging session evaluated (the charged record, spec/
 * sync-failover.md §4): a session cut off by a dead node charged chunks whose answers never
 * arrived; the chain's next session evaluates those free, once (quota-ledger.ts). And the
 * elements the chain evaluated free by the rotation rule in the current epoch, so a replayed
 * receipt with fewer `evaluated` bits frees nothing again. The server stores no contact:
 * charge hashes of blinded elements, which reveal nothing without the client's secret.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ascii, concat, i2osp } from '../../oprf/encoding.js';
import { ProtocolError } from '../errors.js';
import { chargeHasher } from './charge-hash.js';

export const CHARGE_HASH_BYTES = 8;
const CHARGE_LABEL = ascii('contact-psi-v1-charge');
const TOKEN_LABEL = ascii('contact-psi-v1-quota-token-2');
/** Bucket-row prefix of the per-account receipt generation (tokens = generation). */
export const RECEIPT_GENERATION_PREFIX = 'receipt:';

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
  /**
   * Several bucket rows and a chain's charged record in one transaction (spec/sync-failover.md
   * §4): all or nothing. With `chargedRecord`, the ledger records what each session of a chain
   * charged, so a sync cut off before its answers arrived is not charged again on its retry.
   */
  writeQuota?(write: QuotaWrite): Promise<BucketState[]>;
  /** The charged record under `key`, if any. */
  chargedRecord?(key: string): Promise<ChargedRecord | undefined>;
}

/** What the latest charging session of a receipt chain charged (packed 8-byte charge hashes, in charge order). */
export interface ChargedRecord {
  readonly generation: number;
  readonly hashes: Uint8Array;
}

/** One quota transaction: every bucket update (in order) and every record append, or none of them. */
export interface QuotaWrite {
  /** Read-modify-write of bucket rows; an update that throws refuses the whole write. */
  readonly buckets: readonly { readonly key: string; readonly update: (state: BucketState | undefined) => BucketState }[];
  /**
   * Appended to the record `key` when it holds the same generation; replacing it when it holds
   * an older one (or none); ignored when it holds a newer one (a later session's, or epoch's).
   */
  readonly records?: readonly { readonly key: string; readonly generation: number; readonly hashes: Uint8Array }[];
}

/** Key prefix of a chain's latest session's record (a key space of its own, apart from the bucket rows). */
export const CHARGED_RECORD_PREFIX = 'charged:';
/** Key prefix of a chain's rotation passes used in an epoch (generation = the epoch). */
export const PASSES_RECORD_PREFIX = 'passes:';

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

const hasher = chargeHasher(CHARGE_LABEL, CHARGE_HASH_BYTES);

/** The 8-byte hash by which the server recognizes a blinded element charged before: SHA-256(label || element), truncated. */
export const chargeHash = (blinded: Uint8Array): Uint8Array => {
  const out = new Uint8Array(CHARGE_HASH_BYTES);
  hasher.hashInto(blinded, out, 0);
  return out;
};

/** The charge hashes of a packed batch of `size`-byte elements, as the hex strings the ledger and receipts key on. */
export function chargeHashesHex(packed: Uint8Array, size: number): string[] {
  const out = new Array<string>(packed.length / size);
  const hash = new Uint8Array(CHARGE_HASH_BYTES);
  for (let i = 0; i < out.length; i++) {
    hasher.hashInto(packed.subarray(i * size, (i + 1) * size), hash, 0);
    out[i] = hexOf(hash);
  }
  return out;
}

/** Canonical form of a charged set: sorted, distinct, packed. */
export function canonicalChargeSet(hashes: Iterable<string>): Uint8Array {
  const sorted = [...new Set(hashes)].sort();
  const out = new Uint8Array(sorted.length * CHARGE_HASH_BYTES);
  sorted.forEach((h, i) => out.set(hexToBytes(h), i * CHARGE_HASH_BYTES));
  return out;
}

/** Bytes of a receipt chain id. */
export const RECEIPT_CHAIN_BYTES = 16;

/** What the client keeps between syncs and presents in dir.quota (quota.ts header). */
export interface QuotaReceipt {
  token: Uint8Array;
  /** The receipt chain (16 bytes, chosen by the server). */
  chain: Uint8Array;
  /** Charge hashes paid for, sorted, distinct, packed (8 bytes each). */
  set: Uint8Array;
  /** The epoch the receipt was issued in (the session's announced epoch). */
  epoch: number;
  /** The account's receipt generation at issue. */
  generation: number;
  /** Bitmap over `set` (bit i, MSB first, = set[i]): already evaluated in `epoch`. */
  evaluated: Uint8Array;
}

/** MAC binding an account to exactly this receipt (server key only on the server). */
export function quotaToken(key: Uint8Array, account: string, receipt: Omit<QuotaReceipt, 'token'>): Uint8Array {
  const accountBytes = ascii(account);
  return hmac(
    sha256,
    key,
    concat(TOKEN_LABEL, i2osp(accountBytes.length, 2), accountBytes, receipt.chain, i2osp(receipt.epoch, 4), i2osp(receipt.generation, 8), sha256(receipt.set), sha256(receipt.evaluated)),
  );
}

/** The `evaluated` bitmap of a sorted packed set: bit i set when set[i]'s hash is in `evaluated`. */
export function evaluatedBitmap(packedSet: Uint8Array, evaluated: ReadonlySet<string>): Uint8Array {
  const n = packedSet.length / CHARGE_HASH_BYTES;
  const out = new Uint8Array(Math.ceil(n / 8));
  for (let i = 0; i < n; i++) {
    if (evaluated.has(hexOf(packedSet.subarray(i * CHARGE_HASH_BYTES, (i + 1) * CHARGE_HASH_BYTES)))) out[i >> 3] |= 0x80 >> (i & 7);
  }
  return out;
}

/** The hashes a bitmap selects, or undefined if it does not fit the set (wrong length, bits past the end). */
export function evaluatedHashes(packedSet: Uint8Array, bitmap: Uint8Array): Set<string> | undefined {
  const n = packedSet.length / CHARGE_HASH_BYTES;
  if (bitmap.length !== Math.ceil(n / 8)) return undefined;
  if (n % 8 !== 0 && (bitmap[bitmap.length - 1] & (0xff >> (n % 8))) !== 0) return undefined;
  const out = new Set<string>();
  for (let i = 0; i < n; i++) if (bitmap[i >> 3] & (0x80 >> (i & 7))) out.add(hexOf(packedSet.subarray(i * CHARGE_HASH_BYTES, (i + 1) * CHARGE_HASH_BYTES)));
  return out;
}

/**
 * The receipt a client computes after a sync in `epoch` whose elements' charge hashes are
 * `session` (the chunks answered): the previous receipt's set and, in the same epoch, its
 * evaluated bits carry over when the server accepted it; the session's hashes join both.
 */
export function nextReceiptSets(
  previous: QuotaReceipt | undefined,
  accepted: boolean,
  epoch: number,
  session: Iterable<string>,
): { set: Uint8Array; evaluated: Uint8Array } {
  const all = new Set<string>();
  const evaluated = new Set<string>();
  if (accepted && previous) {
    for (let off = 0; off < previous.set.length; off += CHARGE_HASH_BYTES) all.add(hexOf(previous.set.subarray(off, off + CHARGE_HASH_BYTES)));
    if (previous.epoch === epoch) for (const h of evaluatedHashes(previous.set, previous.evaluated) ?? []) evaluated.add(h);
  }
  for (const h of session) {
    all.add(h);
    evaluated.add(h);
  }
  const set = canonicalChargeSet(all);
  return { set, evaluated: evaluatedBitmap(set, evaluated) };
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function hexOf(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]];
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
