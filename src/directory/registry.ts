/**
 * The directory registry: users and their identifiers in a store, the epoch OPRF keys, the
 * precomputed tags with their sealed labels, the tag delta log and the snapshots every
 * client downloads. The server keeps no record of blinded elements or client queries:
 * nothing here receives them, and the lookups only read.
 */
import { randomBytes } from 'node:crypto';
import { ContactPsiError } from '../errors.js';
import type { Rng } from '../group/types.js';
import type { KeyPair, OprfSuite } from '../oprf/suite.js';
import { KEY_BYTES } from '../setenc/tags.js';
import type { EncodingKind } from '../setenc/types.js';
import type { EpochKeyInfo, EpochKeyRing } from './epoch-keys.js';
import type { KeyStorage } from './key-storage.js';
import { checkLookupKeys, checkWireLookupKeys } from './lookup.js';
import { MAX_LABELS_PER_LOOKUP_KEY, sealedLabelBytes } from '../protocol/discovery/labels.js';
import { META_EPOCH, META_PUBLIC_KEY, openKeys } from './open-keys.js';
import { precomputeTags, type PrecomputePass, type PrecomputeResult, type TagEvaluator } from './precompute.js';
import { sealLabels } from './seal.js';
import { DIRECTORY_RAW_TAG_BYTES, encodeSnapshot, snapshotDigest } from './snapshot.js';
import type {
  BucketState,
  ChargedRecord,
  QuotaWrite,
  ChangeRecord,
  DirectoryStore,
  DirectoryUser,
  DirectoryUserInput,
  LabelMatch,
  Progress,
  SealedMatch,
  SnapshotRecord,
  TagDelta,
  UpsertResult,
} from './types.js';

export interface DirectoryOpenOptions {
  readonly store: DirectoryStore;
  readonly suite: OprfSuite;
  /**
   * Where the epoch keys live. Default: `<store.path>.key` for a file-backed store; a store
   * in memory keeps its keys in memory only (a new key, and so a new epoch, per open).
   */
  readonly keyPath?: string;
  /** Where the epoch keys live instead of a key file: the PostgreSQL key vault of a fleet (postgres/key-vault.ts). */
  readonly keyStorage?: KeyStorage;
  /** Randomness for key generation (default: crypto.randomBytes). Label nonces always come from crypto.randomBytes. */
  readonly rng?: Rng;
  /** Accept a key file readable by group or others (default false). */
  readonly allowInsecureKeyFile?: boolean;
  /** Identifiers evaluated per suite.evaluate call during precompute (default 4096). */
  readonly batchSize?: number;
  /** Evaluates tags during precompute (default suite.evaluate on this thread); e.g. src/parallel poolEvaluator. */
  readonly evaluator?: TagEvaluator;
  /**
   * Directory versions of tag-delta log kept behind the newest complete one: a delta from an
   * older version is refused (undefined; the client downloads the snapshot). Default: all.
   */
  readonly deltaRetention?: number;
}

export interface DirectorySnapshot {
  readonly epoch: number;
  readonly version: number;
  readonly kind: EncodingKind;
  /** Tags encoded: the number of discoverable identifiers. */
  readonly count: number;
  /** SHA-256 of `bytes`, lowercase hex. */
  readonly digest: string;
  readonly bytes: Uint8Array;
}

export interface RotateOptions {
  /** How long the previous epoch stays served after the switch, in ms (default 24 h). */
  readonly graceMs?: number;
  /** The switch time in ms (default Date.now() at the switch). */
  readonly now?: number;
  /** Progress of the new epoch's bulk precompute. */
  readonly onProgress?: Progress;
  /** Snapshot kinds built for the new epoch before the switch (default ['fuse']). */
  readonly kinds?: readonly EncodingKind[];
}

export interface RotationResult {
  readonly epoch: number;
  readonly previous: number;
  readonly retiresAt: number;
  /** Tags evaluated for the new epoch. */
  readonly computed: number;
}

export const DEFAULT_GRACE_MS = 24 * 3600 * 1000;
/**
 * Tag bytes a snapshot build reads: every encoding looks at the first 16 bytes of a tag at
 * most (setenc KEY_BYTES; raw keeps 8), so the full 64-byte tags are never loaded (640 MB
 * at 10M tags). The encodings are byte-identical (test/directory-snapshot-prefix.test.ts).
 */
const SNAPSHOT_TAG_BYTES = Math.max(KEY_BYTES, DIRECTORY_RAW_TAG_BYTES);
/** Rebuild attempts when other writers keep changing the directory under a snapshot or a switch. */
const SNAPSHOT_ATTEMPTS = 4;

const defaultRng: Rng = (n) => new Uint8Array(randomBytes(n));
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

export class Directory {
  readonly store: DirectoryStore;
  readonly suite: OprfSuite;
  /** The key file, or undefined when the keys live in memory only. */
  readonly keyPath: string | undefined;
  readonly #keys: EpochKeyRing;
  #current: number;
  readonly #rng: Rng;
  readonly #batchSize: number | undefined;
  readonly #evaluator: TagEvaluator | undefined;
  readonly #deltaRetention: number | undefined;
  /** Writes, precompute, snapshot builds and epoch switches run one at a time, in call order. */
  #tail: Promise<unknown> = Promise.resolve();
  /** A running rotation (its bulk precompute runs outside the queue). */
  #rotation: Promise<unknown> | undefined;

  private constructor(options: DirectoryOpenOptions, keys: EpochKeyRing, current: number, keyPath: string | undefined) {
    this.store = options.store;
    this.suite = options.suite;
    this.keyPath = keyPath;
    this.#keys = keys;
    this.#current = current;
    this.#rng = options.rng ?? defaultRng;
    this.#batchSize = options.batchSize;
    this.#evaluator = options.evaluator;
    const retention = options.deltaRetention;
    if (retention !== undefined && !(Number.isSafeInteger(retention) && retention >= 0)) {
      throw new ContactPsiError('invalid_option', 'deltaRetention must be a non-negative integer');
    }
    this.#deltaRetention = retention;
  }

  /**
   * Opens a directory on a store. With a key file: loads it (checking suite, epochs and the
   * public keys recorded in the store), or creates it when the store has never been keyed.
   */
  static async open(options: DirectoryOpenOptions): Promise<Directory> {
    const keyPath = options.keyStorage !== undefined ? undefined : (options.keyPath ?? (options.store.path === undefined ? undefined : `${options.store.path}.key`));
    const { keys, current } = await openKeys({
      store: options.store,
      suite: options.suite,
      keyPath,
      storage: options.keyStorage,
      rng: options.rng ?? defaultRng,
      allowInsecureKeyFile: options.allowInsecureKeyFile,
    });
    return new Directory(options, keys, current, keyPath);
  }

  /** The epoch new sessions use. */
  get currentEpoch(): number {
    return this.#current;
  }

  /** The current epoch (the name of the first release). */
  get epoch(): number {
    return this.#current;
  }

  /** The current epoch's public key, which clients pin to verify evaluations (VOPRF). */
  get publicKey(): Uint8Array {
    return this.#keys.publicKey(this.#current)!.slice();
  }

  /**
   * The epochs sessions may use at `now`, ascending: a previous epoch within its grace
   * period, and the current one (last). An epoch being prepared by a rotation is not served.
   */
  servedEpochs(now: number = Date.now()): number[] {
    return this.#keys.epochs().filter((e) => {
      if (e === this.#current) return true;
      const retiresAt = this.#keys.info(e)!.retiresAt;
      return e < this.#current && retiresAt !== undefined && now < retiresAt;
    });
  }

  /** Public facts about an epoch's key (no secret), or undefined for an unknown epoch. */
  epochInfo(epoch: number): EpochKeyInfo | undefined {
    return this.#keys.info(epoch);
  }

  /** Inserts or replaces users in one transaction (`identifier_taken` rolls the whole batch back). */
  importUsers(users: readonly DirectoryUserInput[], onProgress?: Progress): Promise<UpsertResult> {
    return this.#exclusive(() => this.store.upsertUsers(users, onProgress));
  }

  removeUser(userId: string): Promise<boolean> {
    return this.#exclusive(() => this.store.removeUser(userId));
  }

  getUser(userId: string): Promise<DirectoryUser | undefined> {
    return this.store.getUser(userId);
  }

  countUsers(): Promise<number> {
    return this.store.countUsers();
  }

  /** The directory version; after a precompute it is the version the snapshot and the tag delta refer to. */
  version(): Promise<number> {
    return this.store.version();
  }

  changesSince(after: number, limit?: number): Promise<ChangeRecord[]> {
    return this.store.changesSince(after, limit);
  }

  /**
   * Brings the current epoch's tags up to date: evaluates missing ones, drops those of
   * removed or hidden pairs (logging both as tag deltas), re-seals changed labels, and drops
   * the data of older epochs whose key is gone.
   */
  precompute(onProgress?: Progress): Promise<PrecomputeResult> {
    return this.#exclusive(() => this.#precomputeCurrent(onProgress));
  }

  /**
   * The snapshot of an epoch (default: the current one, precomputed first if needed; a
   * retiring epoch's is the one it had at the switch). Cached in the store by (epoch,
   * version, kind), so it is rebuilt only after a change.
   */
  snapshot(kind: EncodingKind = 'fuse', epoch?: number): Promise<DirectorySnapshot> {
    return this.#exclusive(async () => {
      // Resolved in the queue: without an epoch, the one current when the build runs.
      if (epoch === undefined || epoch === this.#current) return this.#currentSnapshot(kind);
      this.#requireKnown(epoch);
      return this.#frozenSnapshot(epoch, kind);
    });
  }

  /**
   * The net tag change of the current epoch from `fromVersion` to the newest complete
   * version, after bringing the tags up to date; undefined for another epoch or a version
   * the log no longer reaches.
   */
  tagDelta(epoch: number, fromVersion: number): Promise<TagDelta | undefined> {
    return this.#exclusive(async () => {
      if (epoch !== this.#current) return undefined;
      await this.#precomputeCurrent();
      return this.store.tagDelta(epoch, fromVersion);
    });
  }

  /**
   * tagDelta without precomputing, for discovery sessions (their deferred work): up to the
   * version of the last complete precompute (= the newest snapshot's version when nothing
   * changed since). Outside the write queue: one read transaction of the store.
   */
  async servedTagDelta(epoch: number, fromVersion: number): Promise<TagDelta | undefined> {
    if (epoch !== this.#current) return undefined;
    return this.store.tagDelta(epoch, fromVersion);
  }

  /**
   * For each 16-byte lookup key (lookupKeyOf of a tag the client derived) of the current
   * epoch, the discoverable user it belongs to, or null. Read only: the keys are not logged or stored.
   */
  async lookupLabels(lookupKeys: readonly Uint8Array[]): Promise<(LabelMatch | null)[]> {
    checkLookupKeys(lookupKeys);
    return this.store.lookup(this.#current, lookupKeys);
  }

  /**
   * The sealed label stored for each lookup key of `epoch` (current or retiring), undefined
   * where there is none or its user is no longer discoverable. A label changed since the
   * last precompute is sealed afresh here, so an answer never carries an outdated label.
   */
  async lookupSealed(epoch: number, lookupKeys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    checkLookupKeys(lookupKeys);
    if (!this.#isKnown(epoch)) return lookupKeys.map(() => undefined);
    return (await this.store.lookupSealed(epoch, lookupKeys)).map((m) => (m === null ? undefined : servableSeal(m)));
  }

  /**
   * For each 8-byte wire lookup key of `epoch` (what `dir.labels.get` carries): the sealed
   * labels (format 2) of the discoverable entries whose lookup key starts with it, at most
   * MAX_LABELS_PER_LOOKUP_KEY, usually one, none where there is none. A label that changed
   * since the last precompute, or whose stored seal is not of format 2 (a file sealed before
   * migration 4, or a row written by an older node of a fleet: its length tells), is sealed
   * afresh here: an answer never carries an outdated label nor one the client cannot open.
   */
  async lookupSealedCandidates(epoch: number, wireKeys: readonly Uint8Array[]): Promise<Uint8Array[][]> {
    checkWireLookupKeys(wireKeys);
    if (!this.#isKnown(epoch)) return wireKeys.map(() => []);
    const found = await this.store.lookupSealedByPrefix(epoch, wireKeys, MAX_LABELS_PER_LOOKUP_KEY);
    return found.map((matches) => matches.map(servableSeal));
  }

  /**
   * An epoch's key pair (default: the current one), for the discovery server session that
   * evaluates clients' blinded elements with it. Secret: never log or persist it.
   */
  epochKeyPair(epoch: number = this.#current): KeyPair {
    this.#requireKnown(epoch);
    return { secretKey: this.#keys.secretKey(epoch)!, publicKey: this.#keys.publicKey(epoch)!.slice() };
  }

  /**
   * Starts the next epoch without downtime: generates its key (saved before anything else;
   * an interrupted rotation resumes with it), evaluates every discoverable identifier under
   * it while the current epoch keeps serving and changing, catches up under the write
   * queue, builds its snapshots, then switches and marks the previous epoch as retiring at
   * now + graceMs. Scheduling rotations is the caller's job.
   */
  rotateEpoch(options: RotateOptions = {}): Promise<RotationResult> {
    const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
    if (!(Number.isSafeInteger(graceMs) && graceMs >= 0)) return Promise.reject(new ContactPsiError('invalid_option', 'graceMs must be a non-negative integer'));
    if (this.#rotation !== undefined) return Promise.reject(new ContactPsiError('directory_busy', 'an epoch rotation is already running'));
    const run = this.#rotate(options, graceMs);
    this.#rotation = run;
    return run.finally(() => {
      this.#rotation = undefined;
    });
  }

  /**
   * Drops every previous epoch whose grace period is over at `now`: its key first (the
   * secret is gone even if the rest fails), then its tags, delta log and snapshots.
   * Returns the epochs dropped.
   */
  retireExpired(now: number = Date.now()): Promise<number[]> {
    return this.#exclusive(async () => {
      const expired = this.#keys.epochs().filter((e) => {
        const retiresAt = this.#keys.info(e)!.retiresAt;
        return e < this.#current && (retiresAt === undefined || retiresAt <= now);
      });
      await this.#keys.remove(expired);
      for (const epoch of expired) await this.store.dropEpoch(epoch);
      return expired;
    });
  }

  getBucket(account: string): Promise<BucketState | undefined> {
    return this.store.getBucket(account);
  }

  putBucket(account: string, state: BucketState): Promise<void> {
    return this.store.putBucket(account, state);
  }

  /**
   * Read-modify-write of one bucket in one store transaction: the quota charge of a
   * discovery session (protocol/discovery QuotaStore), run by its driver as deferred work.
   */
  updateBucket(account: string, update: (state: BucketState | undefined) => BucketState): Promise<BucketState> {
    return this.store.updateBucket(account, update);
  }

  /** The quota ledger's charge with its chain record, in one store transaction (spec/sync-failover.md §4). */
  writeQuota(write: QuotaWrite): Promise<BucketState[]> {
    return this.store.writeQuota(write);
  }

  chargedRecord(key: string): Promise<ChargedRecord | undefined> {
    return this.store.chargedRecord(key);
  }

  /** Waits for pending work (a rotation included), then closes the store. */
  async close(): Promise<void> {
    await this.#rotation?.catch(() => undefined);
    await this.#tail.catch(() => undefined);
    await this.store.close();
  }

  /** Only the public parts: a Directory passed to a logger must not print a key. */
  toJSON(): object {
    return {
      suite: this.suite.id,
      epoch: this.#current,
      publicKey: hex(this.publicKey),
      epochs: this.#keys.epochs().map((e) => {
        const info = this.#keys.info(e)!;
        return { epoch: e, publicKey: hex(info.publicKey), createdAt: info.createdAt, retiresAt: info.retiresAt };
      }),
      keyPath: this.keyPath,
      store: this.store.backend,
    };
  }

  async #rotate(options: RotateOptions, graceMs: number): Promise<RotationResult> {
    // 1. The next key, on disk before any tag of it is stored.
    const next = await this.#exclusive(() => this.#prepareNext(options.now ?? Date.now()));
    // 2. The bulk of the work outside the queue: imports and the current epoch go on meanwhile.
    const bulk = await this.#pass(next, options.onProgress, false);
    // 3. Under the queue: both epochs complete at one version, snapshots built, then the switch.
    return this.#exclusive(async () => {
      let computed = bulk.computed;
      for (let attempt = 0; ; attempt++) {
        if (attempt === SNAPSHOT_ATTEMPTS) throw new ContactPsiError('directory_busy', `the directory kept changing during ${SNAPSHOT_ATTEMPTS} attempts to switch epochs`);
        const current = await this.#pass(this.#current, undefined, true);
        const pending = await this.#pass(next, undefined, false);
        computed += pending.computed;
        if (current.complete && pending.complete && current.version === pending.version) break;
      }
      for (const kind of options.kinds ?? ['fuse']) await this.#frozenSnapshot(next, kind);
      const previous = this.#current;
      const retiresAt = (options.now ?? Date.now()) + graceMs;
      // Key file first: a crash before the store switches leaves the old epoch current (and
      // served), and the next rotateEpoch resumes with the saved key.
      await this.#keys.setRetiresAt(previous, retiresAt);
      const publicKey = hex(this.#keys.publicKey(next)!);
      await this.store.activateEpoch(next, { [META_EPOCH]: String(next), [META_PUBLIC_KEY]: publicKey });
      this.#current = next;
      return { epoch: next, previous, retiresAt, computed };
    });
  }

  /** The epoch an interrupted rotation left a key for, or a new one; registered in the store. */
  async #prepareNext(now: number): Promise<number> {
    let next = this.#keys.epochs().find((e) => e > this.#current);
    if (next === undefined) {
      const stored = (await this.store.listEpochs()).map((e) => e.epoch);
      next = Math.max(this.#current, ...this.#keys.epochs(), ...stored) + 1;
      await this.#keys.generate(next, this.#rng, now);
    }
    const publicKey = hex(this.#keys.publicKey(next)!);
    const record = await this.store.getEpoch(next);
    // Leftovers under another key (never served: the switch had not happened) are useless.
    if (record !== undefined && record.publicKey !== publicKey) await this.store.dropEpoch(next);
    await this.store.registerEpoch(next, publicKey);
    return next;
  }

  async #precomputeCurrent(onProgress?: Progress): Promise<PrecomputeResult> {
    // Data of an older epoch whose key is gone is useless. A newer one may be another
    // process's rotation in progress: left alone.
    let dropped = 0;
    for (const { epoch } of await this.store.listEpochs()) {
      if (epoch < this.#current && !this.#keys.has(epoch)) dropped += await this.store.dropEpoch(epoch);
    }
    const pass = await this.#pass(this.#current, onProgress, true);
    if (pass.complete) await this.#trimDeltaLog();
    return { computed: pass.computed, pruned: pass.pruned + dropped };
  }

  async #trimDeltaLog(): Promise<void> {
    if (this.#deltaRetention === undefined) return;
    const record = await this.store.getEpoch(this.#current);
    if (record?.tagVersion === undefined || record.deltaFloor === undefined) return;
    const through = record.tagVersion - this.#deltaRetention;
    if (through > record.deltaFloor) await this.store.trimTagLog(this.#current, through);
  }

  #pass(epoch: number, onProgress: Progress | undefined, startDeltaLog: boolean): Promise<PrecomputePass> {
    return precomputeTags({
      store: this.store,
      suite: this.suite,
      secretKey: this.#keys.secretKey(epoch)!,
      epoch,
      batchSize: this.#batchSize,
      onProgress,
      evaluator: this.#evaluator,
      startDeltaLog,
    });
  }

  async #currentSnapshot(kind: EncodingKind): Promise<DirectorySnapshot> {
    const epoch = this.#current;
    const cached = await this.store.getSnapshot(epoch, await this.store.version(), kind);
    if (cached !== undefined) return toSnapshot(cached);
    for (let attempt = 0; attempt < SNAPSHOT_ATTEMPTS; attempt++) {
      const set = await this.store.readTagSet(epoch, SNAPSHOT_TAG_BYTES);
      if (set.missing > 0 || set.stale > 0 || set.unsealed > 0) {
        await this.#precomputeCurrent();
        continue;
      }
      // Complete at this version (e.g. after a label change): the delta log's end moves here too.
      await this.store.completeTags(epoch, set.version, true);
      const again = await this.store.getSnapshot(epoch, set.version, kind);
      if (again !== undefined) return toSnapshot(again);
      return this.#encode(epoch, set.version, kind, set.packed, set.tagLength);
    }
    throw new ContactPsiError('directory_busy', `the directory kept changing during ${SNAPSHOT_ATTEMPTS} snapshot attempts`);
  }

  /** An epoch that is not (or not yet) current: its tags as they are, at its last complete version. */
  async #frozenSnapshot(epoch: number, kind: EncodingKind): Promise<DirectorySnapshot> {
    const version = (await this.store.getEpoch(epoch))?.tagVersion ?? 0;
    const cached = await this.store.getSnapshot(epoch, version, kind);
    if (cached !== undefined) return toSnapshot(cached);
    const set = await this.store.readTagSet(epoch, SNAPSHOT_TAG_BYTES);
    return this.#encode(epoch, version, kind, set.packed, set.tagLength);
  }

  async #encode(epoch: number, version: number, kind: EncodingKind, packed: Uint8Array, tagLength: number): Promise<DirectorySnapshot> {
    const bytes = encodeSnapshot(kind, packed, tagLength);
    const record: SnapshotRecord = { epoch, version, kind, count: tagLength === 0 ? 0 : packed.length / tagLength, digest: snapshotDigest(bytes), bytes };
    await this.store.putSnapshot(record);
    return toSnapshot(record);
  }

  /** The current epoch or a previous one not yet dropped (a rotation's next epoch is not served). */
  #isKnown(epoch: number): boolean {
    return this.#keys.has(epoch) && epoch <= this.#current;
  }

  #requireKnown(epoch: number): void {
    if (!this.#isKnown(epoch)) throw new ContactPsiError('unknown_epoch', `epoch ${epoch} is not served by this directory`);
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn, fn);
    this.#tail = run.catch(() => undefined);
    return run;
  }
}

function toSnapshot(r: DirectorySnapshot): DirectorySnapshot {
  return { epoch: r.epoch, version: r.version, kind: r.kind, count: r.count, digest: r.digest, bytes: r.bytes };
}

/**
 * The stored seal when it is of label format 2 (a format 1 seal is 42 + |id| + |label| bytes,
 * a format 2 one 12 + varint(|id|) + |id| + |label|: never the same), else the label sealed
 * afresh: a file not yet re-sealed, or a row an older node of a fleet wrote, is never served.
 */
function servableSeal(m: SealedMatch): Uint8Array {
  if (m.sealed !== undefined && m.sealed.length === sealedLabelBytes(Buffer.byteLength(m.userId, 'utf8'), m.label.length)) return m.sealed;
  return sealLabels([m])[0];
}
