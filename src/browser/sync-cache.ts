/**
 * What a client keeps between syncs, per directory server, behind one small interface so
 * that the same sync (sync-core.ts) runs over files in Node (src/client/file-sync-cache.ts),
 * IndexedDB in a browser (indexeddb-cache.ts), memory (tests, a page that must forget), or
 * an app's own storage (React Native's AsyncStorage, a keychain for the device secret):
 *
 * | item | why it is kept | when it cannot be read |
 * |---|---|---|
 * | snapshot | the directory's set encoding: a cache hit or a small delta instead of a download | dropped and downloaded again (public data, checked against dir.info) |
 * | pins | the directory identity (trust on first use) and the newest signed key statement and announcement: a fork, a rollback or another identity is refused | `cache_corrupt`: never re-pinned silently |
 * | pinned key | the OPRF key seen last, to report a rotation | `cache_corrupt` |
 * | OPRF outputs of the epoch | a re-sync evaluates (and is charged for) only new identifiers | dropped: the book is evaluated again |
 * | quota receipt | contacts charged before are not charged again | `cache_corrupt`: dropping it charges every contact once more |
 * | device secret | deterministic blinds, so the server recognizes (and does not charge) a contact seen before | `cache_corrupt`: a new one would charge every contact once more |
 *
 * The OPRF outputs and the quota receipt of a URL the user declared to be the directory's (a
 * fleet node, a configured identity key) are stored under the scope `identityScope(identity
 * key)` (the identity that signed dir.info), which the `server` argument of loadOutputs,
 * saveOutputs, loadReceipt, saveReceipt and reset then holds; every node of a fleet serves one
 * identity, so a retry on another node finds what the first one answered. Any other URL keeps
 * them under its URL and adds only its DLEQ-verified outputs to the identity's: a signed
 * dir.info is replayable, and a relay's "none" answers or made-up receipt must not reach the
 * identity's other URLs (spec/sync-failover.md §1, identity-share.ts). The other items stay
 * per server URL. A store keyed by that string needs nothing more.
 *
 * Without the last two every contact is charged on every sync (issue 12 §3). The device
 * secret is as sensitive as the address book: it never leaves the device and is never
 * logged. Implementations throw ContactPsiError `cache_corrupt` (the message says how to
 * recover: `reset(server)`) for a damaged pin, receipt or secret, and return undefined for
 * a damaged snapshot after deleting it, reporting why through `onDiscarded`.
 */
import { ContactPsiError } from '../errors.js';
import type { CachedSnapshot, QuotaReceipt } from '../protocol/discovery/client.js';
import { decodePins, encodePins, type PinState } from '../protocol/discovery/identity-pins.js';
import type { KnownOutputs } from '../protocol/discovery/known-outputs.js';
import { knownOutputsOf, storedOutputsOf } from './stored-outputs.js';

/**
 * The OPRF outputs of one epoch (incremental sync): a re-sync evaluates, and is charged
 * for, only identifiers without one (re-evaluations within an epoch are charged). Entries
 * are keyed by a keyed hash of the identifier (src/client/output-keys.ts), never the
 * identifier; the outputs are as sensitive as the book (with the epoch's key they test
 * candidates).
 */
export interface StoredOutputs {
  identity?: Uint8Array;
  epoch: number;
  publicKey: Uint8Array;
  version: number;
  entries: StoredOutput[];
}

export interface StoredOutput {
  /** outputEntryKey(cacheKey, identifier): 16 bytes. */
  key: Uint8Array;
  output: Uint8Array;
  labelChecked: boolean;
  match?: { userId: string; label: Uint8Array };
}

/** The directory key seen first (trust on first use). */
export interface KeyPin {
  epoch: number;
  publicKey: Uint8Array;
}

export interface SyncCache {
  /** The cached snapshot of `server`, or undefined (none, or a damaged one, deleted). */
  loadSnapshot(server: string, onDiscarded?: (reason: string) => void): Promise<CachedSnapshot | undefined>;
  saveSnapshot(server: string, snapshot: CachedSnapshot): Promise<void>;
  /** The OPRF key seen last (reported by onKeyChange when a signed rotation replaces it). */
  loadPin(server: string): Promise<KeyPin | undefined>;
  savePin(server: string, pin: KeyPin): Promise<void>;
  /** The directory identity pin and the newest signed entries accepted (identity-pins.ts). */
  loadPins(server: string): Promise<PinState | undefined>;
  savePins(server: string, pins: PinState): Promise<void>;
  /**
   * The outputs kept for `server` (an identityScope, or a URL for caches of earlier
   * versions) of the book's `identifiers`, found under the entry key
   * `cacheKeyFor(identity)` (stored-outputs.ts), or undefined (none, or damaged: deleted,
   * the book is evaluated again).
   */
  loadOutputs(
    server: string,
    identifiers: readonly string[],
    cacheKeyFor: (identity: Uint8Array | undefined) => Uint8Array,
    onDiscarded?: (reason: string) => void,
  ): Promise<KnownOutputs | undefined>;
  /** Replaces `server`'s outputs, entries keyed under `cacheKey` (storedOutputsOf). */
  saveOutputs(server: string, outputs: KnownOutputs, cacheKey: Uint8Array): Promise<void>;
  /** The receipt kept for `server` (an identityScope, or a URL for caches of earlier versions). */
  loadReceipt(server: string): Promise<QuotaReceipt | undefined>;
  saveReceipt(server: string, receipt: QuotaReceipt): Promise<void>;
  /** The device's secret (32 bytes): the stored one, or `create()`'s, stored first. */
  deviceSecret(create: () => Uint8Array): Promise<Uint8Array>;
  /**
   * Forgets `server`'s snapshot, outputs, pins, key pin and receipt (the next sync pins
   * again), or, for an identityScope, that identity's outputs and receipt; the device secret stays.
   */
  reset(server: string): Promise<void>;
}

export const DEVICE_SECRET_BYTES = 32;

/** The cache scope of a directory identity's outputs and receipt: `identity:` and the key's 64 hex digits. */
export function identityScope(identity: Uint8Array): string {
  if (identity.length !== 32) throw new ContactPsiError('invalid_option', 'a directory identity key is 32 bytes');
  return `identity:${Array.from(identity, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** Whether `scope` names a directory identity (identityScope), not a server URL. */
export const isIdentityScope = (scope: string): boolean => /^identity:[0-9a-f]{64}$/.test(scope);
/** A receipt's token (the server's MAC) and the 8-byte hashes of the charged set. */
const RECEIPT_TOKEN_BYTES = 32;
const CHARGED_HASH_BYTES = 8;
const MAX_ELEMENT_BYTES = 64;
const MAX_EPOCH = 0xffffffff;

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;
const isUint = (v: unknown, max = Number.MAX_SAFE_INTEGER): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max;

/**
 * The checks every cache applies to what it read back (structured clones, JSON, bytes of an
 * app's store): the shape the session relies on. null when usable, else the reason.
 */
export function snapshotProblem(s: unknown): string | null {
  if (typeof s !== 'object' || s === null) return 'not a snapshot record';
  const r = s as Record<string, unknown>;
  if (!isUint(r.epoch, MAX_EPOCH) || !isUint(r.version)) return 'its epoch or version is not a valid number';
  if (r.baseVersion !== undefined && (!isUint(r.baseVersion) || r.baseVersion > (r.version as number))) return 'its base version is invalid';
  if (r.infoCount !== undefined && !isUint(r.infoCount)) return 'its count is invalid';
  if (!isBytes(r.digest) || r.digest.length !== 32) return 'its digest is not 32 bytes';
  if (r.infoDigest !== undefined && (!isBytes(r.infoDigest) || r.infoDigest.length !== 32)) return 'its announced digest is not 32 bytes';
  if (!isBytes(r.publicKey) || r.publicKey.length === 0 || r.publicKey.length > MAX_ELEMENT_BYTES) return 'its public key is invalid';
  if (!isBytes(r.bytes)) return 'its set encoding is missing';
  for (const k of ['added', 'removed'] as const) {
    if (r[k] !== undefined && (!isBytes(r[k]) || r[k].length % 8 !== 0)) return 'its delta prefixes are not 8-byte multiples';
  }
  return null;
}

export function pinProblem(p: unknown): string | null {
  if (typeof p !== 'object' || p === null) return 'not a pin record';
  const r = p as Record<string, unknown>;
  if (!isUint(r.epoch, MAX_EPOCH)) return 'its epoch is not a valid number';
  if (!isBytes(r.publicKey) || r.publicKey.length === 0 || r.publicKey.length > MAX_ELEMENT_BYTES) return 'its key is invalid';
  return null;
}

export function receiptProblem(q: unknown): string | null {
  if (typeof q !== 'object' || q === null) return 'not a receipt record';
  const r = q as Record<string, unknown>;
  if (!isBytes(r.token) || r.token.length !== RECEIPT_TOKEN_BYTES) return `its token is not ${RECEIPT_TOKEN_BYTES} bytes`;
  if (!isBytes(r.set) || r.set.length % CHARGED_HASH_BYTES !== 0) return 'its charged set is not a list of 8-byte hashes';
  // The epoch, generation and evaluated bitmap of receipts issued per epoch (quota.ts).
  if (r.epoch !== undefined && !isUint(r.epoch, MAX_EPOCH)) return 'its epoch is not a valid number';
  if (r.generation !== undefined && !isUint(r.generation)) return 'its generation is not a valid number';
  if (r.evaluated !== undefined && (!isBytes(r.evaluated) || r.evaluated.length !== Math.ceil(r.set.length / CHARGED_HASH_BYTES / 8))) return 'its evaluated bitmap does not fit its set';
  return null;
}

export function outputsProblem(o: unknown): string | null {
  if (typeof o !== 'object' || o === null) return 'not an outputs record';
  const r = o as Record<string, unknown>;
  if (r.identity !== undefined && (!isBytes(r.identity) || r.identity.length !== 32)) return 'its identity is not 32 bytes';
  if (!isUint(r.epoch, MAX_EPOCH) || !isUint(r.version)) return 'its epoch or version is not a valid number';
  if (!isBytes(r.publicKey) || r.publicKey.length === 0 || r.publicKey.length > MAX_ELEMENT_BYTES) return 'its public key is invalid';
  if (!Array.isArray(r.entries)) return 'its entries are missing';
  let outputLength: number | undefined;
  for (const e of r.entries as unknown[]) {
    if (typeof e !== 'object' || e === null) return 'an entry is malformed';
    const x = e as Record<string, unknown>;
    if (!isBytes(x.key) || x.key.length !== 16 || !isBytes(x.output) || x.output.length === 0 || x.output.length > 128 || typeof x.labelChecked !== 'boolean') return 'an entry is malformed';
    if (outputLength !== undefined && x.output.length !== outputLength) return 'its outputs differ in length';
    outputLength = x.output.length;
    if (x.match !== undefined) {
      const m = x.match as Record<string, unknown>;
      if (typeof m !== 'object' || m === null || typeof m.userId !== 'string' || !isBytes(m.label)) return 'a match is malformed';
    }
  }
  return null;
}

/** The error of a damaged pin, receipt or device secret: never replaced silently. */
export function cacheCorrupt(where: string, why: string, recovery: string): ContactPsiError {
  return new ContactPsiError('cache_corrupt', `${where}: ${why}. ${recovery}`);
}

const copySnapshot = (s: CachedSnapshot): CachedSnapshot => structuredCloneBytes(s);

/** A deep copy of plain records of bytes and numbers (what a store would hand back), without structuredClone (older React Native). */
function structuredCloneBytes<T>(value: T): T {
  if (value instanceof Uint8Array) return value.slice() as T;
  if (Array.isArray(value)) return value.map(structuredCloneBytes) as T;
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = structuredCloneBytes(v);
    return out as T;
  }
  return value;
}

/** Everything in memory: tests, and pages that must keep nothing once closed. Copies in and out, as a real store would. */
export class MemorySyncCache implements SyncCache {
  private readonly servers = new Map<string, { snapshot?: CachedSnapshot; pin?: KeyPin; pins?: Uint8Array; outputs?: StoredOutputs; receipt?: QuotaReceipt }>();
  private secret: Uint8Array | undefined;

  private entry(server: string) {
    let e = this.servers.get(server);
    if (e === undefined) this.servers.set(server, (e = {}));
    return e;
  }

  async loadSnapshot(server: string): Promise<CachedSnapshot | undefined> {
    const s = this.servers.get(server)?.snapshot;
    return s && copySnapshot(s);
  }
  async saveSnapshot(server: string, snapshot: CachedSnapshot): Promise<void> {
    this.entry(server).snapshot = copySnapshot(snapshot);
  }
  async loadPin(server: string): Promise<KeyPin | undefined> {
    const p = this.servers.get(server)?.pin;
    return p && structuredCloneBytes(p);
  }
  async savePin(server: string, pin: KeyPin): Promise<void> {
    this.entry(server).pin = structuredCloneBytes(pin);
  }
  async loadPins(server: string): Promise<PinState | undefined> {
    const encoded = this.servers.get(server)?.pins;
    return encoded && decodePins(encoded);
  }
  async savePins(server: string, pins: PinState): Promise<void> {
    this.entry(server).pins = encodePins(pins);
  }
  async loadOutputs(server: string, identifiers: readonly string[], cacheKeyFor: (identity: Uint8Array | undefined) => Uint8Array): Promise<KnownOutputs | undefined> {
    const o = this.servers.get(server)?.outputs;
    return o && knownOutputsOf(structuredCloneBytes(o), identifiers, cacheKeyFor);
  }
  async saveOutputs(server: string, outputs: KnownOutputs, cacheKey: Uint8Array): Promise<void> {
    this.entry(server).outputs = structuredCloneBytes(storedOutputsOf(outputs, cacheKey));
  }
  async loadReceipt(server: string): Promise<QuotaReceipt | undefined> {
    const r = this.servers.get(server)?.receipt;
    return r && structuredCloneBytes(r);
  }
  async saveReceipt(server: string, receipt: QuotaReceipt): Promise<void> {
    this.entry(server).receipt = structuredCloneBytes(receipt);
  }
  async deviceSecret(create: () => Uint8Array): Promise<Uint8Array> {
    this.secret ??= create().slice();
    return this.secret.slice();
  }
  async reset(server: string): Promise<void> {
    this.servers.delete(server);
  }
}
