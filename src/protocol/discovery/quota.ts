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
 * arrived; the chain's next session evaluates those free, once (takeCredit). The server
 * stores no contact: charge hashes of blinded elements, which reveal nothing without the
 * client's secret, the latest session's only.
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

/** One quota transaction: every bucket update (in order), the record append and the clears, or none of them. */
export interface QuotaWrite {
  /** Read-modify-write of bucket rows; an update that throws refuses the whole write. */
  readonly buckets: readonly { readonly key: string; readonly update: (state: BucketState | undefined) => BucketState }[];
  /** Appended to the record `key`; a record of another generation is replaced, not appended to. */
  readonly record?: { readonly key: string; readonly generation: number; readonly hashes: Uint8Array };
  /** Records deleted (a chain the session left for a new one). */
  readonly clear?: readonly string[];
}

/** Key of a chain's charged record. */
export const chargedRecordKey = (account: string, chain: Uint8Array): string => `${CHARGED_RECORD_PREFIX}${account}:${hexOf(chain)}`;
/** Key prefix of the charged records (a key space of its own, apart from the bucket rows). */
export const CHARGED_RECORD_PREFIX = 'charged:';

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

/** A drawn chain id is in use already (writeCharge draws another). */
class ChainTaken extends Error {}

/**
 * One session's view of an account's quota: takes the client's receipt, charges each
 * element by the rules of the header (free once per epoch if paid for in an earlier one,
 * else charged), and issues the receipt over the grown sets. Epoch = the session's
 * announced epoch.
 */
export class QuotaLedger {
  /** The presented receipt, when its MAC verified (accepted only if its generation is current at the claim). */
  private presented: { receipt: QuotaReceipt; set: Set<string>; evaluated: Set<string> } | undefined;
  /** Set by the claim (the session's first charge): whether the presented receipt was accepted. */
  private accepted: boolean | undefined;
  private generation = 0;
  private chain: Uint8Array | undefined;
  /** Elements evaluated in this session (charged or free): never free again in this epoch. */
  private readonly sessionSeen = new Set<string>();
  /**
   * Hashes the presented chain's latest session charged that the presented receipt does not
   * cover (its answers were cut off, spec/sync-failover.md §4): free once in this session.
   */
  private readonly credit = new Set<string>();
  /** The presented chain's charged record: cleared by this session's first write. */
  private creditedRecord: string | undefined;
  /** Whether this session wrote its first quota transaction (which replaces or clears the old record). */
  private wroteFirst = false;
  /** The new chain announced before the first charge (openChain): tried first when the chain is created. */
  private proposedChain: Uint8Array | undefined;
  /** Each answered-or-not chunk's hashes, in order. */
  private readonly chunks: string[][] = [];
  /** Evaluations charged and evaluated free in this session (for tests and figures). */
  readonly counts = { charged: 0, free: 0, credited: 0 };

  constructor(
    private readonly config: QuotaConfig,
    private readonly account: string,
    private readonly purpose: 'sync' | 'lookup',
    private readonly epoch: number = 0,
    /** Random bytes for a new receipt chain (the session's rng). */
    private readonly random: (n: number) => Uint8Array = () => new Uint8Array(RECEIPT_CHAIN_BYTES),
  ) {}

  /**
   * Checks the receipt's MAC (a forged or foreign one is ignored: everything is charged).
   * Whether it is accepted is settled at the first charge, against the stored generation.
   */
  presentToken(receipt: QuotaReceipt): boolean {
    if (this.purpose !== 'sync' || receipt.epoch > this.epoch || receipt.chain.length !== RECEIPT_CHAIN_BYTES) return false;
    if (!constantTimeEqual(quotaToken(this.config.tokenKey, this.account, receipt), receipt.token)) return false;
    const evaluated = evaluatedHashes(receipt.set, receipt.evaluated);
    if (!evaluated) return false;
    const set = new Set<string>();
    for (let off = 0; off < receipt.set.length; off += CHARGE_HASH_BYTES) set.add(hexOf(receipt.set.subarray(off, off + CHARGE_HASH_BYTES)));
    // Evaluated bits of an earlier epoch do not count: the rotation makes the set free once again.
    this.presented = { receipt, set, evaluated: receipt.epoch === this.epoch ? evaluated : new Set() };
    return true;
  }

  /** Hashes in the presented receipt whose MAC verified (bounds a session's label lookups). */
  get presentedSize(): number {
    return this.presented?.set.size ?? 0;
  }

  /** Whether the presented receipt was accepted (undefined before the first charge). */
  get tokenAccepted(): boolean | undefined {
    return this.accepted;
  }

  /**
   * The session's first charge: bumps the account's receipt generation in one
   * read-modify-write, accepting the presented receipt only if it carries the generation
   * bumped from (a replayed older receipt does not).
   */
  private async claim(now: number): Promise<void> {
    if (!this.presented) {
      // No receipt (or a forged one): a new chain, written with the first charge (openChain, writeCharge).
      this.accepted = false;
      return;
    }
    const chain = this.presented.receipt.chain;
    let current = 0;
    await this.updateGeneration(chain, now, (stored) => {
      current = stored;
      return stored + 1;
    });
    this.accepted = this.presented.receipt.generation === current;
    // A stale receipt (another session of the chain came after it) is refused: nothing is free
    // by it. Its MAC still shows the chain is this account's device's, so the chain goes on
    // at the bumped generation with the set started over: the device names the same chain at
    // its next sync, and what this session charges is credited then if it is cut off.
    this.chain = chain;
    this.generation = current + 1;
    // The receipt the chain's latest session issued, or the one before it when that session was
    // cut off before its first receipt reached the client (spec/sync-failover.md §4).
    if (this.presented.receipt.generation >= current - 1) await this.takeCredit(chain, current);
  }

  /**
   * For a session without a receipt (a device's first sync): the chain its charges will be
   * recorded under, announced before anything is charged (the server sends this receipt of an
   * empty set before the first chunk's charge), so a sync cut off before its first answer
   * names the chain at its retry and is credited what was charged (spec/sync-failover.md §4).
   * The chain's row is written only with the first charge (rows cost tokens); presented
   * before then, the receipt is refused and the chain goes on (claim).
   */
  openChain(): { token: Uint8Array; generation: number; chain: Uint8Array } | undefined {
    if (this.purpose !== 'sync' || this.presented || this.accepted !== undefined || this.chain || this.proposedChain) return undefined;
    if (!this.config.store.writeQuota || !this.config.store.chargedRecord) return undefined;
    this.proposedChain = this.random(RECEIPT_CHAIN_BYTES).slice(0, RECEIPT_CHAIN_BYTES);
    const sets = nextReceiptSets(undefined, false, this.epoch, []);
    const body = { ...sets, chain: this.proposedChain, epoch: this.epoch, generation: 1 };
    return { token: quotaToken(this.config.tokenKey, this.account, body), generation: 1, chain: this.proposedChain };
  }

  /**
   * Reads what the presented chain's latest session charged. The receipt's MAC shows the
   * client holds this chain; what that session charged beyond the receipt (all of it when the
   * receipt is the one before: that session bumped the generation and was cut off before the
   * client heard of it) was paid for and its answers may never have arrived, so it is free
   * once here. Once only: the record is cleared by this session's first write and credited
   * hashes are not recorded again, so a client cutting connections, or presenting its
   * previous receipt, on purpose gets at most one free re-evaluation per paid one (the same
   * element, the same output: nothing learned); an older receipt gets nothing.
   */
  private async takeCredit(chain: Uint8Array, current: number): Promise<void> {
    const { store } = this.config;
    if (!store.chargedRecord || !store.writeQuota || !this.presented) return;
    const key = chargedRecordKey(this.account, chain);
    const record = await store.chargedRecord(key);
    // Only the record of the chain's latest session (one that bumped it to `current`).
    if (!record || record.generation !== current) return;
    this.creditedRecord = key;
    const receipted = this.accepted ? this.presented.set : undefined;
    for (let off = 0; off + CHARGE_HASH_BYTES <= record.hashes.length; off += CHARGE_HASH_BYTES) {
      const h = hexOf(record.hashes.subarray(off, off + CHARGE_HASH_BYTES));
      if (!receipted?.has(h)) this.credit.add(h);
    }
  }

  /** A new chain at generation 1, once the session's first charge went through. */
  private async startChain(now: number): Promise<void> {
    // A chain id already in use (an rng that repeats) is never reset: another is drawn.
    for (let attempt = 0; attempt < 4 && !this.chain; attempt++) {
      const chain = this.random(RECEIPT_CHAIN_BYTES).slice(0, RECEIPT_CHAIN_BYTES);
      let fresh = false;
      await this.updateGeneration(chain, now, (stored, exists) => {
        fresh = !exists;
        return exists ? stored : 1;
      });
      if (fresh) {
        this.chain = chain;
        this.generation = 1;
      }
    }
  }

  private async updateGeneration(chain: Uint8Array, now: number, next: (stored: number, exists: boolean) => number): Promise<void> {
    const key = `${RECEIPT_GENERATION_PREFIX}${this.account}:${hexOf(chain)}`;
    const update = (state: BucketState | undefined): BucketState => {
      const tokens = next(state?.tokens ?? 0, state !== undefined);
      return state !== undefined && tokens === state.tokens ? state : { tokens, updatedAt: now };
    };
    const { store } = this.config;
    if (store.updateBucket) await store.updateBucket(key, update);
    else await store.putBucket(key, update(await store.getBucket(key)));
  }

  /**
   * Charge a chunk (packed blinded elements of `size` bytes): all or nothing. Calls must not
   * overlap (the session charges its chunks one after another, in order): the chunk index
   * is the chunk's place in the receipt.
   */
  async charge(blinded: Uint8Array, size: number, now: number, precomputed?: readonly string[]): Promise<void> {
    if (this.purpose === 'sync' && this.accepted === undefined) await this.claim(now);
    // `precomputed`: chargeHashesHex(blinded, size), when the caller has them already (the session's duplicate check).
    const hashes = precomputed && precomputed.length === blinded.length / size ? [...precomputed] : chargeHashesHex(blinded, size);
    const previous = this.accepted ? this.presented : undefined;
    const charged: string[] = [];
    const credited: string[] = [];
    // What the next session of the chain may credit if this one is cut off: all but the credited.
    const recorded: string[] = [];
    for (const h of new Set(hashes)) {
      if (this.sessionSeen.has(h)) {
        charged.push(h);
        continue;
      }
      // Free: charged by the chain's session that was cut off (takeCredit), once.
      if (this.credit.has(h)) {
        credited.push(h);
        continue;
      }
      recorded.push(h);
      // Free: paid for before, not yet evaluated in this epoch (the one free re-evaluation per rotation).
      if (previous !== undefined && previous.set.has(h) && !previous.evaluated.has(h)) continue;
      charged.push(h);
    }
    const policy = this.purpose === 'lookup' ? (this.config.lookup ?? DEFAULT_LOOKUP_POLICY) : (this.config.sync ?? DEFAULT_SYNC_POLICY);
    const { store } = this.config;
    if (this.purpose === 'sync' && store.writeQuota && store.chargedRecord) await this.writeCharge(store.writeQuota.bind(store), policy, charged.length, recorded, now);
    else {
      if (charged.length > 0) await chargeBucket(store, `${this.purpose}:${this.account}`, policy, charged.length, now);
      if (this.purpose === 'sync' && !this.chain) await this.startChain(now);
    }
    for (const h of credited) this.credit.delete(h);
    this.counts.charged += charged.length;
    this.counts.free += hashes.length - charged.length;
    this.counts.credited += credited.length;
    for (const h of hashes) this.sessionSeen.add(h);
    this.chunks.push(hashes);
  }

  /**
   * One transaction: the tokens, the new chain's generation row (the session's first write
   * without an accepted receipt: rows cost tokens), and the charged hashes appended to the
   * chain's record (the first write replaces the record of the chain's previous session, or
   * clears the presented chain's when the session starts a new chain).
   */
  private async writeCharge(
    writeQuota: (write: QuotaWrite) => Promise<BucketState[]>,
    policy: BucketPolicy,
    charged: number,
    recorded: readonly string[],
    now: number,
  ): Promise<void> {
    if (charged === 0 && recorded.length === 0 && this.wroteFirst) return;
    const tokens = charged === 0 ? [] : [{ key: `sync:${this.account}`, update: (state: BucketState | undefined) => takeTokens(policy, state, charged, now) }];
    const hashes = canonicalChargeSet(recorded);
    // A chain id already in use (an rng that repeats) is never reset: another is drawn.
    for (let attempt = 0; attempt < 4; attempt++) {
      const chain = this.chain ?? (attempt === 0 && this.proposedChain ? this.proposedChain : this.random(RECEIPT_CHAIN_BYTES).slice(0, RECEIPT_CHAIN_BYTES));
      const generation = this.chain ? this.generation : 1;
      const key = chargedRecordKey(this.account, chain);
      const newChain = this.chain
        ? []
        : [
            {
              key: `${RECEIPT_GENERATION_PREFIX}${this.account}:${hexOf(chain)}`,
              update: (state: BucketState | undefined): BucketState => {
                if (state !== undefined) throw new ChainTaken();
                return { tokens: 1, updatedAt: now };
              },
            },
          ];
      const clear = !this.wroteFirst && this.creditedRecord !== undefined && this.creditedRecord !== key ? [this.creditedRecord] : [];
      try {
        await writeQuota({ buckets: [...tokens, ...newChain], record: { key, generation, hashes }, clear });
      } catch (err) {
        if (err instanceof ChainTaken) continue;
        throw err;
      }
      this.wroteFirst = true;
      if (!this.chain) {
        this.chain = chain;
        this.generation = 1;
      }
      return;
    }
    // Four chain ids in use: the charge stands without a chain (no receipt), as startChain does.
    if (tokens.length > 0) await writeQuota({ buckets: tokens, clear: [] });
    this.wroteFirst = true;
  }

  /**
   * The receipt over the accepted previous sets plus the first `chunks` charged chunks (all
   * by default): what a client computes from the chunks it has been answered, so the token
   * verifies at its next sync even while later chunks are still being evaluated. Undefined
   * when nothing was charged in this session (the client's receipt stays valid as it is).
   */
  issueToken(chunks = this.chunks.length): { token: Uint8Array; generation: number; chain: Uint8Array } | undefined {
    if (this.purpose !== 'sync' || !this.chain) return undefined;
    const sets = nextReceiptSets(this.presented?.receipt, this.accepted === true, this.epoch, this.chunks.slice(0, chunks).flat());
    const body = { ...sets, chain: this.chain, epoch: this.epoch, generation: this.generation };
    return { token: quotaToken(this.config.tokenKey, this.account, body), generation: this.generation, chain: this.chain };
  }
}
