/**
 * One session's view of an account's quota (quota.ts header, spec/discovery.md §9,
 * spec/sync-failover.md §4): takes the client's receipt, charges each element (free once per
 * epoch if paid for in an earlier one, free once as a credit of the chain's cut-off session,
 * else charged), and issues receipts over the grown sets. Epoch = the session's announced one.
 *
 * Per receipt chain the store keeps (besides the bucket rows):
 *   generation  `receipt:<account>:<chain>`  bumped by each session's first charge
 *   latest      `charged:<account>:<chain>`  what the chain's latest charging session
 *                                            evaluated (generation = that session's)
 *   passes      `passes:<account>:<chain>`   the elements evaluated free by the rotation rule
 *                                            in an epoch (generation = the epoch)
 * All three move in the session's first charge's transaction, with its tokens (writeQuota):
 * a refused charge writes nothing, not even the generation bump (rows cost tokens).
 */
import { ProtocolError } from '../errors.js';
import {
  CHARGE_HASH_BYTES,
  CHARGED_RECORD_PREFIX,
  chargeBucket,
  chargeHashesHex,
  canonicalChargeSet,
  constantTimeEqual,
  DEFAULT_LOOKUP_POLICY,
  DEFAULT_SYNC_POLICY,
  evaluatedHashes,
  hexOf,
  nextReceiptSets,
  PASSES_RECORD_PREFIX,
  quotaToken,
  RECEIPT_CHAIN_BYTES,
  RECEIPT_GENERATION_PREFIX,
  takeTokens,
  type BucketPolicy,
  type BucketState,
  type ChargedRecord,
  type QuotaConfig,
  type QuotaReceipt,
  type QuotaStore,
  type QuotaWrite,
} from './quota.js';

/** The chain's generation moved between the claim's read and the write (a concurrent session): claim again. */
class ChainMoved extends Error {}

/** What the first charge settles about the chain, read before it and written with it. */
interface Claim {
  chain: Uint8Array;
  /** The chain's stored generation when read (0: no row). */
  current: number;
  /** Whether the chain is new (no receipt presented: a fresh id, its row written with the first charge). */
  fresh: boolean;
  accepted: boolean;
  /** Hashes free once as credits (the chain's cut-off session's, spec/sync-failover.md §4). */
  credit: Set<string>;
  /** Hashes the rotation's free evaluation was used for in this epoch (by this chain). */
  passesUsed: Set<string>;
}

const hashesOf = (record: ChargedRecord | undefined): string[] => {
  const out: string[] = [];
  if (!record) return out;
  for (let off = 0; off + CHARGE_HASH_BYTES <= record.hashes.length; off += CHARGE_HASH_BYTES) out.push(hexOf(record.hashes.subarray(off, off + CHARGE_HASH_BYTES)));
  return out;
};

export class QuotaLedger {
  /** The presented receipt, when its MAC verified (accepted only if its generation is current at the claim). */
  private presented: { receipt: QuotaReceipt; set: Set<string>; evaluated: Set<string> } | undefined;
  /** Settled by the session's first charge, once written. */
  private claim: Claim | undefined;
  private claimWritten = false;
  /** The new chain announced before the first charge (openChain). */
  private proposedChain: Uint8Array | undefined;
  /** Elements evaluated in this session (charged or free): never free again in this epoch. */
  private readonly sessionSeen = new Set<string>();
  /** Each charged chunk's hashes, in order. */
  private readonly chunks: string[][] = [];
  /** Evaluations charged, free (by a rotation or a credit) and credited in this session (tests and figures). */
  readonly counts = { charged: 0, free: 0, credited: 0 };
  private readonly store: Required<Pick<QuotaStore, 'writeQuota' | 'chargedRecord'>> & QuotaStore;

  constructor(
    private readonly config: QuotaConfig,
    private readonly account: string,
    private readonly purpose: 'sync' | 'lookup',
    private readonly epoch: number = 0,
    /** Random bytes for a new receipt chain (the session's rng). */
    private readonly random: (n: number) => Uint8Array = () => new Uint8Array(RECEIPT_CHAIN_BYTES),
  ) {
    this.store = withQuotaWrites(config.store);
  }

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

  /** Whether the presented receipt was accepted (undefined before the first charge went through). */
  get tokenAccepted(): boolean | undefined {
    return this.claimWritten ? this.claim!.accepted : undefined;
  }

  /**
   * For a session without a receipt (a device's first sync): the chain its charges will be
   * recorded under, announced before anything is charged (the server sends this receipt of
   * the empty set before the first chunk's charge), so a sync cut off before its first answer
   * names the chain at its retry. Its row is written only with the first charge; presented
   * before then, the receipt is refused (its generation is not the stored one) and the chain
   * goes on.
   */
  openChain(): { token: Uint8Array; generation: number; chain: Uint8Array } | undefined {
    if (this.purpose !== 'sync' || this.presented || this.claim || this.proposedChain) return undefined;
    this.proposedChain = this.random(RECEIPT_CHAIN_BYTES).slice(0, RECEIPT_CHAIN_BYTES);
    const sets = nextReceiptSets(undefined, false, this.epoch, []);
    const body = { ...sets, chain: this.proposedChain, epoch: this.epoch, generation: 1 };
    return { token: quotaToken(this.config.tokenKey, this.account, body), generation: 1, chain: this.proposedChain };
  }

  /**
   * Charge a chunk (packed blinded elements of `size` bytes): all or nothing. Calls must not
   * overlap (the session charges its chunks one after another, in order): the chunk index
   * is the chunk's place in the receipt.
   */
  async charge(blinded: Uint8Array, size: number, now: number, precomputed?: readonly string[]): Promise<void> {
    // `precomputed`: chargeHashesHex(blinded, size), when the caller has them already (the session's duplicate check).
    const hashes = precomputed && precomputed.length === blinded.length / size ? [...precomputed] : chargeHashesHex(blinded, size);
    if (this.purpose === 'lookup') {
      const distinct = new Set(hashes).size;
      await chargeBucket(this.config.store, `lookup:${this.account}`, this.config.lookup ?? DEFAULT_LOOKUP_POLICY, distinct, now);
      this.settle(hashes, distinct);
      return;
    }
    // A concurrent session of the chain can move its generation between our read and our
    // write: the write refuses (ChainMoved), and the claim is read again.
    for (let attempt = 0; ; attempt++) {
      if (!this.claimWritten) this.claim = await this.readClaim(attempt);
      const claim = this.claim!;
      const split = this.split(hashes, claim);
      try {
        await this.store.writeQuota(this.writeOf(claim, split, now));
      } catch (err) {
        if (err instanceof ChainMoved && attempt < 4) continue;
        // The device's own concurrent sessions kept moving its chain: this one gives way.
        if (err instanceof ChainMoved) throw new ProtocolError('overloaded', 'the receipt chain kept moving under concurrent sessions of this device', { retryAfterMs: 1000 });
        throw err;
      }
      this.claimWritten = true;
      for (const h of split.credited) claim.credit.delete(h);
      for (const h of split.passes) claim.passesUsed.add(h);
      this.counts.credited += split.credited.length;
      this.settle(hashes, split.charged);
      return;
    }
  }

  private settle(hashes: readonly string[], charged: number): void {
    this.counts.charged += charged;
    this.counts.free += hashes.length - charged;
    for (const h of hashes) this.sessionSeen.add(h);
    this.chunks.push([...hashes]);
  }

  /**
   * Reads what the first charge settles: the presented chain's generation (accepted only if
   * the receipt carries it: a replayed older one, an earlier epoch's or one with fewer
   * `evaluated` bits, is refused and nothing is free by it), its latest session's record and
   * the rotation passes already used in this epoch. A refused receipt keeps its chain (its
   * MAC shows it is this account's): the device names it again at its next sync.
   */
  private async readClaim(attempt: number): Promise<Claim> {
    const presented = this.presented;
    if (!presented) {
      const chain = attempt === 0 && this.proposedChain ? this.proposedChain : this.random(RECEIPT_CHAIN_BYTES).slice(0, RECEIPT_CHAIN_BYTES);
      return { chain, current: 0, fresh: true, accepted: false, credit: new Set(), passesUsed: new Set() };
    }
    const chain = presented.receipt.chain;
    const current = (await this.store.getBucket(this.generationKey(chain)))?.tokens ?? 0;
    const accepted = presented.receipt.generation === current;
    const [latest, passes] = await Promise.all([this.store.chargedRecord(this.recordKey(CHARGED_RECORD_PREFIX, chain)), this.store.chargedRecord(this.recordKey(PASSES_RECORD_PREFIX, chain))]);
    // Credits (spec/sync-failover.md §4): what the chain's latest charging session evaluated
    // and the presented receipt does not show evaluated in this epoch; only for that
    // session's receipt or the one before it (the session bumped the generation and was cut
    // off before the client heard of it). Taken once: the first write replaces the record and
    // credited hashes are not recorded again.
    const credit = new Set<string>();
    if (latest && presented.receipt.generation >= latest.generation - 1 && latest.generation <= current) {
      for (const h of hashesOf(latest)) if (!(accepted && presented.set.has(h) && presented.evaluated.has(h))) credit.add(h);
    }
    const passesUsed = new Set(passes && passes.generation === this.epoch ? hashesOf(passes) : []);
    return { chain, current, fresh: false, accepted, credit, passesUsed };
  }

  /** Which of a chunk's hashes are charged, credited, free by the rotation, and recorded. */
  private split(hashes: readonly string[], claim: Claim) {
    const previous = claim.accepted ? this.presented : undefined;
    let charged = 0;
    const credited: string[] = [];
    const passes: string[] = [];
    // What the chain's next session may credit if this one is cut off: all but the credited.
    const recorded: string[] = [];
    for (const h of new Set(hashes)) {
      if (this.sessionSeen.has(h)) {
        charged++;
        continue;
      }
      if (claim.credit.has(h)) {
        credited.push(h);
        continue;
      }
      recorded.push(h);
      // Free: paid for before, not yet evaluated in this epoch (the one free re-evaluation per
      // rotation): not by the receipt's bits, nor by this chain's earlier sessions of the epoch.
      if (previous !== undefined && previous.set.has(h) && !previous.evaluated.has(h) && !claim.passesUsed.has(h)) passes.push(h);
      else charged++;
    }
    return { charged, credited, passes, recorded };
  }

  /** The chunk's transaction: tokens, the chain's generation (first charge only), its records. */
  private writeOf(claim: Claim, split: ReturnType<QuotaLedger['split']>, now: number): QuotaWrite {
    const policy: BucketPolicy = this.config.sync ?? DEFAULT_SYNC_POLICY;
    const buckets: QuotaWrite['buckets'][number][] = [];
    // The generation first: a store without writeQuota applies these one by one (withQuotaWrites).
    if (!this.claimWritten) {
      buckets.push({
        key: this.generationKey(claim.chain),
        update: (state: BucketState | undefined): BucketState => {
          // A new chain's id must be unused; a presented one must still be at the generation read.
          if (claim.fresh ? state !== undefined : (state?.tokens ?? 0) !== claim.current) throw new ChainMoved();
          return { tokens: claim.current + 1, updatedAt: now };
        },
      });
    }
    if (split.charged > 0) buckets.push({ key: `sync:${this.account}`, update: (state) => takeTokens(policy, state, split.charged, now) });
    const records: NonNullable<QuotaWrite['records']>[number][] = [];
    if (!this.claimWritten || split.recorded.length > 0) records.push({ key: this.recordKey(CHARGED_RECORD_PREFIX, claim.chain), generation: claim.current + 1, hashes: canonicalChargeSet(split.recorded) });
    if (split.passes.length > 0) records.push({ key: this.recordKey(PASSES_RECORD_PREFIX, claim.chain), generation: this.epoch, hashes: canonicalChargeSet(split.passes) });
    return { buckets, records };
  }

  private generationKey(chain: Uint8Array): string {
    return `${RECEIPT_GENERATION_PREFIX}${this.account}:${hexOf(chain)}`;
  }

  private recordKey(prefix: string, chain: Uint8Array): string {
    return `${prefix}${this.account}:${hexOf(chain)}`;
  }

  /**
   * The receipt over the accepted previous sets plus the first `chunks` charged chunks (all
   * by default): what a client computes from the chunks it has been answered, so the token
   * verifies at its next sync even while later chunks are still being evaluated. Undefined
   * before the first charge went through (the client's receipt stays valid as it is).
   */
  issueToken(chunks = this.chunks.length): { token: Uint8Array; generation: number; chain: Uint8Array } | undefined {
    if (this.purpose !== 'sync' || !this.claimWritten) return undefined;
    const { chain, current, accepted } = this.claim!;
    const generation = current + 1;
    const sets = nextReceiptSets(this.presented?.receipt, accepted, this.epoch, this.chunks.slice(0, chunks).flat());
    const body = { ...sets, chain, epoch: this.epoch, generation };
    return { token: quotaToken(this.config.tokenKey, this.account, body), generation, chain };
  }
}

/**
 * A store without writeQuota/chargedRecord (an integrator's bucket store): each row updated
 * on its own, in order (atomic per row with updateBucket, not across rows, as such a store
 * never was), and no records kept (no credits, no passes beyond the receipts' bits).
 */
function withQuotaWrites(store: QuotaStore): Required<Pick<QuotaStore, 'writeQuota' | 'chargedRecord'>> & QuotaStore {
  if (store.writeQuota && store.chargedRecord) return store as Required<Pick<QuotaStore, 'writeQuota' | 'chargedRecord'>> & QuotaStore;
  return Object.assign(Object.create(store) as QuotaStore, {
    chargedRecord: async () => undefined,
    writeQuota: async (write: QuotaWrite): Promise<BucketState[]> => {
      const written: BucketState[] = [];
      for (const { key, update } of write.buckets) {
        if (store.updateBucket) written.push(await store.updateBucket(key, update));
        else {
          const next = update(await store.getBucket(key));
          await store.putBucket(key, next);
          written.push(next);
        }
      }
      return written;
    },
  });
}
