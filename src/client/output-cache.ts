/**
 * The client's OPRF outputs of one epoch (issue 10 §4, spec/client.md): file `outputs.cache`
 * in the folder of the directory identity (its scope `identity:<hex>`: outputs are the
 * directory's, not a URL's, spec/sync-failover.md; caches of earlier versions kept it in the
 * server's folder), a binary record of kind 'T' (cache-record.ts: checksum, atomic 0600
 * write). It lets a re-sync evaluate only identifiers it has no output for.
 *
 *   scope | identity (0 or 32 bytes) | epoch | public key | version | entry count
 *   | entries: key (16) | output | flags (bit 0: label checked, bit 1: match) | userId | label
 *
 * Bound to the directory identity, the epoch and its key: after a rotation none of it is
 * usable (the session evaluates the book once under the new key) and the next save replaces
 * it. Entries are keyed by HMAC-SHA256(cacheKey, identifier)[0..16], never the identifier:
 * the key is derived from the device secret per (identity, account), so the file alone does
 * not list the book's numbers (an unkeyed hash of a phone number is reversed in seconds).
 * The outputs themselves are as sensitive as the address book (with the epoch's key they
 * test candidates); the file is 0600 and never logged. Entries of identifiers no longer in
 * the book are dropped at the next save (a contact deleted and added back in the same epoch
 * is evaluated, and charged, once more).
 *
 * A damaged file (checksum, format, another server or identity) is deleted and the book is
 * evaluated again, charged by the quota rules (re-evaluations within an epoch are charged):
 * outputs that cannot be trusted must not decide what is a match.
 */
import { createHmac } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { KnownOutput, KnownOutputs } from '../protocol/discovery/known-outputs.js';
import { CacheFileError, openRecord, RecordReader, RecordWriter } from './cache-record.js';
import { writeFileAtomic, writeFileAtomicAsync } from './local-file.js';
import { ownedView } from './snapshot-cache.js';
import { OUTPUT_ENTRY_KEY_BYTES } from './output-keys.js';
import { EntryKeyHasher } from './entry-key-batch.js';

export const OUTPUTS_FILE = 'outputs.cache';
const KEY_BYTES = OUTPUT_ENTRY_KEY_BYTES;
const MAX_OUTPUT_BYTES = 128;
const MAX_USER_ID_BYTES = 4096;
const MAX_LABEL_BYTES = 64 * 1024;
const MAX_ENTRIES = 10_000_000;
// The keys are shared with every SyncCache (output-keys.ts, no Node API).
export { outputCacheKey } from './output-keys.js';
/**
 * outputEntryKey (output-keys.ts) by Node's native HMAC: the same bytes, HMAC-SHA256(key,
 * UTF-8 identifier)[0..16] (test/output-entry-key.test.ts), but a re-sync keys every
 * identifier of the book before it connects, and noble's cold HMAC took 0.2-0.6 s for 1,024
 * of them on the loaded test machine against 15-45 ms (issue 13 §1, start-up).
 */
export const entryKey = (key: Uint8Array, identifier: string): Uint8Array =>
  new Uint8Array(createHmac('sha256', key).update(identifier, 'utf8').digest().subarray(0, KEY_BYTES));
const EMPTY = new Uint8Array(0);
/** The strict decoder RecordReader.text uses (fatal; a leading BOM is dropped, as it always was). */
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** One cache key's entry keys: each identifier keyed once, packed KEY_BYTES apiece. */
export class KeyedIdentifiers {
  private readonly hasher: EntryKeyHasher;
  private readonly slots = new Map<string, number>();
  /** The key of slot s is keys[s * KEY_BYTES ..]. */
  keys = new Uint8Array(KEY_BYTES * 1024);
  private count = 0;

  constructor(cacheKey: Uint8Array) {
    this.hasher = new EntryKeyHasher(cacheKey, KEY_BYTES);
  }

  /** The slot of each identifier, in order; the ones not keyed yet are keyed in one batch. */
  slotsOf(identifiers: readonly string[]): Int32Array {
    const out = new Int32Array(identifiers.length);
    const pending: string[] = [];
    for (let i = 0; i < identifiers.length; i++) {
      const id = identifiers[i];
      let slot = this.slots.get(id);
      if (slot === undefined) {
        slot = this.count + pending.length;
        this.slots.set(id, slot);
        pending.push(id);
      }
      out[i] = slot;
    }
    if (pending.length > 0) {
      const needed = (this.count + pending.length) * KEY_BYTES;
      if (needed > this.keys.length) {
        const grown = new Uint8Array(Math.max(needed, 2 * this.keys.length));
        grown.set(this.keys.subarray(0, this.count * KEY_BYTES));
        this.keys.fill(0);
        this.keys = grown;
      }
      this.hasher.keysInto(pending, this.keys, this.count * KEY_BYTES);
      this.count += pending.length;
    }
    return out;
  }
}

/**
 * Finds which of a book's identifiers an entry key belongs to: open addressing on the key's
 * first 32 bits (uniform: an HMAC), every probe confirmed on all KEY_BYTES. No string per
 * entry (the hex keys of a Map were a third of reading a 10,000-entry file).
 */
export class KeyIndex {
  private readonly table: Int32Array;
  private readonly mask: number;

  constructor(
    private readonly keys: Uint8Array,
    private readonly identifiers: readonly string[],
    private readonly slots: Int32Array,
  ) {
    let size = 16;
    while (size < 2 * slots.length) size *= 2;
    this.table = new Int32Array(size); // 0 empty, else the identifier's index + 1
    this.mask = size - 1;
    for (let i = 0; i < slots.length; i++) {
      const at = slots[i] * KEY_BYTES;
      for (let h = this.hashAt(keys, at); ; h = (h + 1) & this.mask) {
        const held = this.table[h];
        if (held === 0) {
          this.table[h] = i + 1;
          break;
        }
        if (this.sameKey(slots[held - 1] * KEY_BYTES, keys, at)) break; // the same identifier twice
      }
    }
  }

  private hashAt(bytes: Uint8Array, at: number): number {
    return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) & this.mask;
  }

  private sameKey(slotAt: number, bytes: Uint8Array, at: number): boolean {
    const keys = this.keys;
    for (let j = 0; j < KEY_BYTES; j++) if (keys[slotAt + j] !== bytes[at + j]) return false;
    return true;
  }

  /** The identifier whose key is bytes[at..at + KEY_BYTES), or undefined. */
  find(bytes: Uint8Array, at: number): string | undefined {
    for (let h = this.hashAt(bytes, at); ; h = (h + 1) & this.mask) {
      const held = this.table[h];
      if (held === 0) return undefined;
      if (this.sameKey(this.slots[held - 1] * KEY_BYTES, bytes, at)) return this.identifiers[held - 1];
    }
  }
}

/**
 * The entry keys of a sync, computed once per (cache key, identifier), a book at a time
 * (entry-key-batch.ts): a sync reads the outputs of its URL and of the directory identity
 * (each keys the whole book) and writes them back (each keys every entry again), so without
 * it a 10,000-contact sync computed 40,000 HMACs for 10,000 identifiers (issue 13 §1). Held
 * by one FileSyncCache, that is one sync; the keys are as sensitive as the outputs file they
 * index, and never leave memory.
 */
export class EntryKeys {
  private readonly byCacheKey = new Map<string, KeyedIdentifiers>();

  /** The keyed identifiers under `cacheKey` (memoized). */
  under(cacheKey: Uint8Array): KeyedIdentifiers {
    const id = Buffer.from(cacheKey.buffer, cacheKey.byteOffset, cacheKey.byteLength).toString('hex');
    let keyed = this.byCacheKey.get(id);
    if (keyed === undefined) this.byCacheKey.set(id, (keyed = new KeyedIdentifiers(cacheKey)));
    return keyed;
  }

  /** An index from entry keys under `cacheKey` to `identifiers`. */
  index(cacheKey: Uint8Array, identifiers: readonly string[]): KeyIndex {
    const keyed = this.under(cacheKey);
    const slots = keyed.slotsOf(identifiers);
    return new KeyIndex(keyed.keys, identifiers, slots);
  }
}

export class OutputCache {
  readonly path: string;
  /** Why the last load() found nothing usable although a file was there (it was deleted). */
  discarded: string | undefined;

  /** `dir` is the server's cache folder (SnapshotCache.dir). */
  /** `keys`: the entry keys shared by the caches of one sync (FileSyncCache), else this cache's own. */
  constructor(
    dir: string,
    private readonly server: string,
    private readonly keys: EntryKeys = new EntryKeys(),
  ) {
    this.path = join(dir, OUTPUTS_FILE);
  }

  /**
   * The outputs of the book's identifiers held for this server, or undefined. `cacheKey`
   * for the identity the file was written for: with another identity (or account) no entry
   * is found. A damaged file is deleted (`discarded` says why).
   */
  load(identifiers: readonly string[], cacheKeyFor: (identity: Uint8Array | undefined) => Uint8Array): KnownOutputs | undefined {
    this.discarded = undefined;
    let file: Uint8Array;
    try {
      file = ownedView(readFileSync(this.path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      this.discarded = `${this.path}: it cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}); the book is evaluated again`;
      return undefined;
    }
    try {
      return this.decode(file, identifiers, cacheKeyFor);
    } catch (err) {
      if (!(err instanceof CacheFileError)) throw err;
      this.discarded = err.message;
      rmSync(this.path, { force: true });
      return undefined;
    }
  }

  save(outputs: KnownOutputs, cacheKey: Uint8Array): void {
    writeFileAtomic(this.path, this.record(outputs, cacheKey));
  }

  /** save(), the record built now, its write, fsync and rename on the thread pool (FileSyncCache). */
  async saveAsync(outputs: KnownOutputs, cacheKey: Uint8Array): Promise<void> {
    await writeFileAtomicAsync(this.path, this.record(outputs, cacheKey));
  }

  private record(outputs: KnownOutputs, cacheKey: Uint8Array): Uint8Array[] {
    // ~120 bytes an entry without a label (key, output, flags, empty user id and label): one allocation, not a doubling series.
    const w = new RecordWriter(256 + 128 * outputs.entries.size)
      .text(this.server)
      .bytes(outputs.identity ?? new Uint8Array(0))
      .uint(outputs.epoch)
      .bytes(outputs.publicKey)
      .uint(Math.max(0, outputs.version))
      .uint(outputs.entries.size);
    const keyed = this.keys.under(cacheKey);
    const slots = keyed.slotsOf([...outputs.entries.keys()]);
    const keys = keyed.keys; // after slotsOf: keying may have grown it
    let i = 0;
    for (const entry of outputs.entries.values()) {
      w.bytesFrom(keys, slots[i++] * KEY_BYTES, KEY_BYTES)
        .bytes(entry.output)
        .u8((entry.labelChecked ? 1 : 0) | (entry.match ? 2 : 0))
        .text(entry.match?.userId ?? '')
        .bytes(entry.match?.label ?? EMPTY);
    }
    return w.finish('T');
  }

  /** Deletes the file (the next sync evaluates the whole book). */
  reset(): void {
    rmSync(this.path, { force: true });
  }

  private decode(file: Uint8Array, identifiers: readonly string[], cacheKeyFor: (identity: Uint8Array | undefined) => Uint8Array): KnownOutputs {
    const fail = (why: string): never => {
      throw new CacheFileError(this.path, why, 'It is deleted and the book is evaluated again');
    };
    const r = new RecordReader(openRecord(file, 'T', fail), fail);
    if (r.text(4096) !== this.server) fail('it was written for another server');
    const identityBytes = r.bytes(32);
    if (identityBytes.length !== 0 && identityBytes.length !== 32) fail('its identity is not 32 bytes');
    const identity = identityBytes.length ? identityBytes.slice() : undefined;
    const epoch = r.uint(0xffffffff);
    const publicKey = r.bytes(64).slice();
    const version = r.uint();
    const count = r.uint(MAX_ENTRIES);
    const index = this.keys.index(cacheKeyFor(identity), identifiers);
    const payload = r.payload;
    const text = (at: number, length: number): string => (length === 0 ? '' : utf8Strict.decode(payload.subarray(at, at + length)));
    const entries = new Map<string, KnownOutput>();
    let outputLength: number | undefined;
    // Field by field as RecordReader.bytes/text read them (the same checks, in the same order,
    // the same failures), without a view or a string per field: most entries of a file are
    // not in the book at hand (a first sync of new contacts reads its earlier book's).
    for (let i = 0; i < count; i++) {
      const keyLength = r.skip(KEY_BYTES);
      const keyAt = r.offset - keyLength;
      const length = r.skip(MAX_OUTPUT_BYTES);
      const outputAt = r.offset - length;
      const flags = r.u8();
      const userIdLength = r.skip(MAX_USER_ID_BYTES);
      const userIdAt = r.offset - userIdLength;
      if (!asciiOnly(payload, userIdAt, userIdLength)) {
        try {
          text(userIdAt, userIdLength);
        } catch {
          fail('a text field is not UTF-8');
        }
      }
      const labelLength = r.skip(MAX_LABEL_BYTES);
      const labelAt = r.offset - labelLength;
      if (keyLength !== KEY_BYTES || length === 0 || flags > 3 || (flags === 2)) fail('an entry is malformed');
      if (outputLength !== undefined && length !== outputLength) fail('its outputs differ in length');
      outputLength = length;
      // A user id of a lone BOM reads as '' (the decoder drops it), as it always did.
      if (!(flags & 2) && (labelLength !== 0 || (userIdLength !== 0 && text(userIdAt, userIdLength) !== ''))) fail('a label is stored for a non-match');
      const identifier = index.find(payload, keyAt);
      if (identifier === undefined) continue; // not in this book (or another account's key)
      entries.set(identifier, {
        output: payload.slice(outputAt, outputAt + length),
        labelChecked: (flags & 1) === 1,
        match: flags & 2 ? { userId: text(userIdAt, userIdLength), label: payload.slice(labelAt, labelAt + labelLength) } : undefined,
      });
    }
    r.end();
    return { identity, epoch, publicKey, version, entries };
  }
}

/** Whether bytes[at..at + length) are all ASCII (then valid UTF-8, and decoded without a check). */
function asciiOnly(bytes: Uint8Array, at: number, length: number): boolean {
  let or = 0;
  for (let i = 0; i < length; i++) or |= bytes[at + i];
  return or < 0x80;
}
