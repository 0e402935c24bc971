/**
 * The directory registry: users and their identifiers in a store, the epoch OPRF key, the
 * precomputed tags and the snapshot every client downloads. The server keeps no record of
 * blinded elements or client queries: nothing here receives them, and `lookupLabels` only
 * reads.
 */
import { randomBytes } from 'node:crypto';
import { ContactPsiError } from '../errors.js';
import type { Rng } from '../group/types.js';
import type { KeyPair, OprfSuite } from '../oprf/suite.js';
import type { EncodingKind } from '../setenc/types.js';
import { createKeyFile, loadKeyFile } from './keyfile.js';
import { checkLookupKeys } from './lookup.js';
import { precomputeTags, type PrecomputeResult } from './precompute.js';
import { encodeSnapshot, snapshotDigest } from './snapshot.js';
import type { ChangeRecord, DirectoryStore, DirectoryUser, DirectoryUserInput, LabelMatch, Progress, UpsertResult } from './types.js';

export interface DirectoryOpenOptions {
  readonly store: DirectoryStore;
  readonly suite: OprfSuite;
  /**
   * Where the epoch key lives. Default: `<store.path>.key` for a file-backed store; a store
   * in memory keeps its key in memory only (a new key, and so a new epoch, per open).
   */
  readonly keyPath?: string;
  /** Randomness for key generation (default: crypto.randomBytes). */
  readonly rng?: Rng;
  /** Accept a key file readable by group or others (default false). */
  readonly allowInsecureKeyFile?: boolean;
  /** Identifiers evaluated per suite.evaluate call during precompute (default 4096). */
  readonly batchSize?: number;
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

const META_SUITE = 'suite';
const META_MODE = 'mode';
const META_EPOCH = 'epoch';
const META_PUBLIC_KEY = 'public_key';
/** Rebuild attempts when other writers keep changing the directory under a snapshot. */
const SNAPSHOT_ATTEMPTS = 4;

const defaultRng: Rng = (n) => new Uint8Array(randomBytes(n));
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

export class Directory {
  readonly store: DirectoryStore;
  readonly suite: OprfSuite;
  readonly epoch: number;
  /** The epoch public key clients pin to verify evaluations (VOPRF). */
  readonly publicKey: Uint8Array;
  /** The key file, or undefined when the key lives in memory only. */
  readonly keyPath: string | undefined;
  readonly #secretKey: Uint8Array;
  readonly #batchSize: number | undefined;
  /** Writes, precompute and snapshot builds run one at a time, in call order. */
  #tail: Promise<unknown> = Promise.resolve();

  private constructor(options: DirectoryOpenOptions, epoch: number, secretKey: Uint8Array, keyPath: string | undefined) {
    this.store = options.store;
    this.suite = options.suite;
    this.epoch = epoch;
    this.#secretKey = secretKey;
    this.publicKey = options.suite.publicKeyOf(secretKey);
    this.keyPath = keyPath;
    this.#batchSize = options.batchSize;
  }

  /**
   * Opens a directory on a store. With a key file: loads it (checking suite, epoch and the
   * public key recorded in the store), or creates it when the store has never been keyed.
   * A keyed store whose key file is gone is refused (`key_file_missing`): a silent new key
   * would invalidate every tag and every client's pinned public key.
   */
  static async open(options: DirectoryOpenOptions): Promise<Directory> {
    const { store, suite } = options;
    const storedSuite = await store.getMeta(META_SUITE);
    const storedMode = await store.getMeta(META_MODE);
    if ((storedSuite !== undefined && storedSuite !== suite.id) || (storedMode !== undefined && storedMode !== String(suite.mode))) {
      throw new ContactPsiError('suite_mismatch', `the directory was built for suite ${storedSuite} mode ${storedMode}, not ${suite.id} mode ${suite.mode}`);
    }
    const storedEpochText = await store.getMeta(META_EPOCH);
    const storedEpoch = storedEpochText === undefined ? undefined : Number(storedEpochText);
    const keyPath = options.keyPath ?? (store.path === undefined ? undefined : `${store.path}.key`);
    const rng = options.rng ?? defaultRng;

    let epoch: number;
    let secretKey: Uint8Array;
    if (keyPath === undefined) {
      // In memory: a fresh key. If the store already holds tags of an earlier key, they
      // belong to an earlier epoch, so this key starts the next one.
      epoch = (storedEpoch ?? 0) + 1;
      secretKey = suite.generateKeyPair(rng).secretKey;
    } else {
      let key;
      try {
        key = loadKeyFile(keyPath, { allowInsecurePermissions: options.allowInsecureKeyFile });
      } catch (err) {
        if (!(err instanceof ContactPsiError && err.code === 'key_file_missing') || storedEpoch !== undefined) throw err;
        key = { suite: suite.id, epoch: 1, secretKey: suite.generateKeyPair(rng).secretKey };
        createKeyFile(keyPath, key);
      }
      if (key.suite !== suite.id) throw new ContactPsiError('suite_mismatch', `key file ${keyPath} is for suite ${key.suite}, not ${suite.id}`);
      if (storedEpoch !== undefined && key.epoch !== storedEpoch) {
        throw new ContactPsiError('key_mismatch', `key file ${keyPath} is for epoch ${key.epoch}, the directory is at epoch ${storedEpoch}`);
      }
      epoch = key.epoch;
      secretKey = key.secretKey;
    }
    const directory = new Directory(options, epoch, secretKey, keyPath);
    const storedPublicKey = await store.getMeta(META_PUBLIC_KEY);
    if (storedEpoch === epoch && storedPublicKey !== undefined && storedPublicKey !== hex(directory.publicKey)) {
      throw new ContactPsiError('key_mismatch', `the key in ${keyPath} is not the key the directory was built with`);
    }
    await store.setMeta({
      [META_SUITE]: suite.id,
      [META_MODE]: String(suite.mode),
      [META_EPOCH]: String(epoch),
      [META_PUBLIC_KEY]: hex(directory.publicKey),
    });
    return directory;
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

  version(): Promise<number> {
    return this.store.version();
  }

  changesSince(after: number, limit?: number): Promise<ChangeRecord[]> {
    return this.store.changesSince(after, limit);
  }

  /** Brings the tags up to date: evaluates missing ones, drops those of removed or hidden pairs. */
  precompute(onProgress?: Progress): Promise<PrecomputeResult> {
    return this.#exclusive(() => this.#precompute(onProgress));
  }

  /**
   * The snapshot of the current tags (precomputing first if needed). Cached in the store by
   * (epoch, version, kind), so it is rebuilt only after a change.
   */
  snapshot(kind: EncodingKind = 'fuse'): Promise<DirectorySnapshot> {
    return this.#exclusive(async () => {
      const cached = await this.store.getSnapshot(this.epoch, await this.store.version(), kind);
      if (cached !== undefined) return toSnapshot(cached);
      for (let attempt = 0; attempt < SNAPSHOT_ATTEMPTS; attempt++) {
        const set = await this.store.readTagSet(this.epoch);
        if (set.missing > 0 || set.stale > 0) {
          await this.#precompute();
          continue;
        }
        const again = await this.store.getSnapshot(this.epoch, set.version, kind);
        if (again !== undefined) return toSnapshot(again);
        const bytes = encodeSnapshot(kind, set.packed, set.tagLength);
        const record = { epoch: this.epoch, version: set.version, kind, count: set.count, digest: snapshotDigest(bytes), bytes };
        await this.store.putSnapshot(record);
        return toSnapshot(record);
      }
      throw new ContactPsiError('directory_busy', `the directory kept changing during ${SNAPSHOT_ATTEMPTS} snapshot attempts`);
    });
  }

  /**
   * For each 16-byte lookup key (lookupKeyOf of a tag the client derived), the discoverable
   * user it belongs to, or null. Read only: the keys are not logged or stored.
   */
  async lookupLabels(lookupKeys: readonly Uint8Array[]): Promise<(LabelMatch | null)[]> {
    checkLookupKeys(lookupKeys);
    return this.store.lookup(this.epoch, lookupKeys);
  }

  /** lookupLabels, synchronously, for sans-I/O sessions; `unsupported` on a store without lookupSync. */
  lookupLabelsSync(lookupKeys: readonly Uint8Array[]): (LabelMatch | null)[] {
    checkLookupKeys(lookupKeys);
    if (this.store.lookupSync === undefined) throw new ContactPsiError('unsupported', `the ${this.store.backend} store has no synchronous lookup`);
    return this.store.lookupSync(this.epoch, lookupKeys);
  }

  /**
   * The epoch key pair, for the discovery server session that evaluates clients' blinded
   * elements with it (protocol/discovery EpochView). Secret: never log or persist it.
   */
  epochKeyPair(): KeyPair {
    return { secretKey: this.#secretKey.slice(), publicKey: this.publicKey.slice() };
  }

  /** Waits for pending work, then closes the store. */
  async close(): Promise<void> {
    await this.#tail.catch(() => undefined);
    await this.store.close();
  }

  /** Only the public parts: a Directory passed to a logger must not print the key. */
  toJSON(): object {
    return { suite: this.suite.id, epoch: this.epoch, publicKey: hex(this.publicKey), keyPath: this.keyPath, store: this.store.backend };
  }

  #precompute(onProgress?: Progress): Promise<PrecomputeResult> {
    return precomputeTags({
      store: this.store,
      suite: this.suite,
      secretKey: this.#secretKey,
      epoch: this.epoch,
      batchSize: this.#batchSize,
      onProgress,
    });
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
