/**
 * The SyncCache of a browser: one IndexedDB database (default name `contact-psi`), one
 * object store of records keyed by [server, item] (item: snapshot, pin, receipt) and one
 * device secret. Records are structured clones of plain objects of numbers and
 * Uint8Arrays; each is checked when read (sync-cache.ts), and the snapshot's bytes against
 * its digest (SHA-256 by WebCrypto), since storage can be damaged or edited in DevTools.
 *
 * Origin-scoped, like everything in IndexedDB: another site cannot read the device secret.
 * Storage may be evicted under pressure (unless `navigator.storage.persist()` was granted):
 * then the next sync downloads the snapshot and every contact is charged once more, the
 * same as a first sync.
 */
import { ContactPsiError } from '../errors.js';
import type { CachedSnapshot, QuotaReceipt } from '../protocol/discovery/client.js';
import { decodePins, encodePins, type PinState } from '../protocol/discovery/identity-pins.js';
import type { KnownOutputs } from '../protocol/discovery/known-outputs.js';
import { knownOutputsOf, storedOutputsOf } from './stored-outputs.js';
import { equalBytes } from './sync-core.js';
import { cacheCorrupt, DEVICE_SECRET_BYTES, outputsProblem, pinProblem, receiptProblem, snapshotProblem, type KeyPin, type StoredOutputs, type SyncCache } from './sync-cache.js';

const STORE = 'records';
const SECRET_KEY = ['', 'device-secret'];
const DB_VERSION = 1;

type Item = 'snapshot' | 'pin' | 'pins' | 'outputs' | 'receipt';

export interface IndexedDbSyncCacheOptions {
  /** Database name (default `contact-psi`): one per app, or per user of a shared device. */
  name?: string;
  /**
   * The IDBFactory (default: globalThis.indexedDB): a fake one in tests, another realm's.
   * Typed structurally, so that these declarations need no DOM library in a Node project.
   */
  indexedDB?: { open(name: string, version?: number): unknown };
}

const request = <T>(req: IDBRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });

const unavailable = (cause: unknown): ContactPsiError =>
  new ContactPsiError('backend_unavailable', 'IndexedDB is not available here (a private window, or storage blocked); use MemorySyncCache or another SyncCache', { cause });

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

export class IndexedDbSyncCache implements SyncCache {
  private constructor(
    private readonly db: IDBDatabase,
    readonly name: string,
  ) {}

  /** Opens (creating on first use) the database. Rejects with `backend_unavailable` where IndexedDB is missing or refused. */
  static async open(options: IndexedDbSyncCacheOptions = {}): Promise<IndexedDbSyncCache> {
    const factory = (options.indexedDB ?? (globalThis as { indexedDB?: unknown }).indexedDB) as IDBFactory | undefined;
    const name = options.name ?? 'contact-psi';
    if (factory === undefined) throw unavailable(undefined);
    try {
      const open = factory.open(name, DB_VERSION);
      open.onupgradeneeded = () => {
        if (!open.result.objectStoreNames.contains(STORE)) open.result.createObjectStore(STORE);
      };
      return new IndexedDbSyncCache(await request(open), name);
    } catch (err) {
      throw unavailable(err);
    }
  }

  close(): void {
    this.db.close();
  }

  private async get(key: IDBValidKey): Promise<unknown> {
    return request(this.db.transaction(STORE, 'readonly').objectStore(STORE).get(key));
  }

  private async put(key: IDBValidKey, value: unknown): Promise<void> {
    const tx = this.db.transaction(STORE, 'readwrite');
    tx.objectStore(STORE).put(value, key);
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB write failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB write aborted (quota?)'));
    });
  }

  private async delete(keys: IDBValidKey[]): Promise<void> {
    const tx = this.db.transaction(STORE, 'readwrite');
    for (const key of keys) tx.objectStore(STORE).delete(key);
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB delete failed'));
    });
  }

  private where(server: string, item: Item): string {
    return `IndexedDB ${this.name}: the ${item} of ${server}`;
  }

  private static key(server: string, item: Item): IDBValidKey {
    return [server, item];
  }

  async loadSnapshot(server: string, onDiscarded?: (reason: string) => void): Promise<CachedSnapshot | undefined> {
    const key = IndexedDbSyncCache.key(server, 'snapshot');
    const value = await this.get(key);
    if (value === undefined) return undefined;
    let problem = snapshotProblem(value);
    // The base must still be the bytes dir.info announced (a damaged or edited record).
    if (problem === null && !equalBytes(await sha256((value as CachedSnapshot).bytes as Uint8Array<ArrayBuffer>), (value as CachedSnapshot).digest)) {
      problem = 'the snapshot does not match its digest';
    }
    if (problem === null) return value as CachedSnapshot;
    // Public data, checked against dir.info when downloaded: drop it and download again.
    await this.delete([key]);
    onDiscarded?.(`${this.where(server, 'snapshot')}: ${problem}. It was deleted and the snapshot is downloaded again`);
    return undefined;
  }

  async saveSnapshot(server: string, snapshot: CachedSnapshot): Promise<void> {
    await this.put(IndexedDbSyncCache.key(server, 'snapshot'), { ...snapshot });
  }

  async loadPin(server: string): Promise<KeyPin | undefined> {
    const value = await this.get(IndexedDbSyncCache.key(server, 'pin'));
    if (value === undefined) return undefined;
    const problem = pinProblem(value);
    // Forgetting a damaged pin would let a different key be pinned silently.
    if (problem !== null) throw cacheCorrupt(this.where(server, 'pin'), problem, `If you trust the server's current key, call reset(${JSON.stringify(server)}) to pin it again`);
    return value as KeyPin;
  }

  async savePin(server: string, pin: KeyPin): Promise<void> {
    await this.put(IndexedDbSyncCache.key(server, 'pin'), { epoch: pin.epoch, publicKey: pin.publicKey });
  }

  async loadOutputs(
    server: string,
    identifiers: readonly string[],
    cacheKeyFor: (identity: Uint8Array | undefined) => Uint8Array,
    onDiscarded?: (reason: string) => void,
  ): Promise<KnownOutputs | undefined> {
    const key = IndexedDbSyncCache.key(server, 'outputs');
    const value = await this.get(key);
    if (value === undefined) return undefined;
    const problem = outputsProblem(value);
    if (problem === null) return knownOutputsOf(value as StoredOutputs, identifiers, cacheKeyFor);
    // Outputs that cannot be trusted must not decide what is a match: drop, evaluate again.
    await this.delete([key]);
    onDiscarded?.(`${this.where(server, 'outputs')}: ${problem}. It was deleted and the book is evaluated again`);
    return undefined;
  }

  async saveOutputs(server: string, outputs: KnownOutputs, cacheKey: Uint8Array): Promise<void> {
    await this.put(IndexedDbSyncCache.key(server, 'outputs'), storedOutputsOf(outputs, cacheKey));
  }

  /** Kept as identity-pins.ts encodes them (the Node client's pins.bin payload), decoded and checked on read. */
  async loadPins(server: string): Promise<PinState | undefined> {
    const value = await this.get(IndexedDbSyncCache.key(server, 'pins'));
    if (value === undefined) return undefined;
    const recovery = `If you trust the directory's current identity, call reset(${JSON.stringify(server)}) to pin it again`;
    if (!(value instanceof Uint8Array)) throw cacheCorrupt(this.where(server, 'pins'), 'not an encoded pin state', recovery);
    try {
      return decodePins(value);
    } catch (err) {
      throw cacheCorrupt(this.where(server, 'pins'), err instanceof Error ? err.message : String(err), recovery);
    }
  }

  async savePins(server: string, pins: PinState): Promise<void> {
    await this.put(IndexedDbSyncCache.key(server, 'pins'), encodePins(pins));
  }

  async loadReceipt(server: string): Promise<QuotaReceipt | undefined> {
    const value = await this.get(IndexedDbSyncCache.key(server, 'receipt'));
    if (value === undefined) return undefined;
    const problem = receiptProblem(value);
    if (problem !== null) {
      throw cacheCorrupt(this.where(server, 'receipt'), problem, `Call reset(${JSON.stringify(server)}); the contacts it covered are then charged against the quota once more`);
    }
    return value as QuotaReceipt;
  }

  async saveReceipt(server: string, receipt: QuotaReceipt): Promise<void> {
    await this.put(IndexedDbSyncCache.key(server, 'receipt'), { ...receipt });
  }

  async deviceSecret(create: () => Uint8Array): Promise<Uint8Array> {
    const stored = await this.get(SECRET_KEY);
    if (stored !== undefined) {
      // A new secret would change every blind and have every contact charged again: the user decides.
      if (!(stored instanceof Uint8Array) || stored.length !== DEVICE_SECRET_BYTES) {
        throw cacheCorrupt(`IndexedDB ${this.name}: the device secret`, `it is not ${DEVICE_SECRET_BYTES} bytes`, 'Delete the database to start over (every contact is then charged once more)');
      }
      return stored;
    }
    const secret = create().slice();
    if (secret.length !== DEVICE_SECRET_BYTES) throw new ContactPsiError('invalid_option', `a device secret is ${DEVICE_SECRET_BYTES} bytes`);
    await this.put(SECRET_KEY, secret);
    return secret;
  }

  async reset(server: string): Promise<void> {
    await this.delete((['snapshot', 'pin', 'pins', 'outputs', 'receipt'] as const).map((item) => IndexedDbSyncCache.key(server, item)));
  }
}
