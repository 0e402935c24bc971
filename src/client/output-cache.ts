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
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** One identifier's entry key, as bytes (written) and as hex (looked up). */
interface EntryKey {
  readonly bytes: Uint8Array;
  readonly hex: string;
}

/**
 * The entry keys of a sync, computed once per (cache key, identifier): a sync reads the
 * outputs of its URL and of the directory identity (each keys the whole book) and writes
 * them back (each keys every entry again), so without it a 10,000-contact sync computed
 * 40,000 HMACs for 10,000 identifiers (issue 13 §1). Held by one FileSyncCache, that is
 * one sync; the keys are as sensitive as the outputs file they index, and never leave memory.
 */
export class EntryKeys {
  private readonly byCacheKey = new Map<string, Map<string, EntryKey>>();

  /** The function that keys identifiers under `cacheKey` (memoized). */
  under(cacheKey: Uint8Array): (identifier: string) => EntryKey {
    const id = hex(cacheKey);
    let memo = this.byCacheKey.get(id);
    if (memo === undefined) this.byCacheKey.set(id, (memo = new Map()));
    const known = memo;
    return (identifier) => {
      let key = known.get(identifier);
      if (key === undefined) {
        const bytes = entryKey(cacheKey, identifier);
        known.set(identifier, (key = { bytes, hex: hex(bytes) }));
      }
      return key;
    };
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
    const keyOf = this.keys.under(cacheKey);
    for (const [identifier, entry] of outputs.entries) {
      w.bytes(keyOf(identifier).bytes)
        .bytes(entry.output)
        .u8((entry.labelChecked ? 1 : 0) | (entry.match ? 2 : 0))
        .text(entry.match?.userId ?? '')
        .bytes(entry.match?.label ?? new Uint8Array(0));
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
    const keyOf = this.keys.under(cacheKeyFor(identity));
    const byKey = new Map<string, string>();
    for (const id of identifiers) byKey.set(keyOf(id).hex, id);
    const entries = new Map<string, KnownOutput>();
    let outputLength: number | undefined;
    for (let i = 0; i < count; i++) {
      const k = r.bytes(KEY_BYTES);
      const output = r.bytes(MAX_OUTPUT_BYTES);
      const flags = r.u8();
      const userId = r.text(MAX_USER_ID_BYTES);
      const label = r.bytes(MAX_LABEL_BYTES);
      if (k.length !== KEY_BYTES || output.length === 0 || flags > 3 || (flags === 2)) fail('an entry is malformed');
      if (outputLength !== undefined && output.length !== outputLength) fail('its outputs differ in length');
      outputLength = output.length;
      if (!(flags & 2) && (userId !== '' || label.length !== 0)) fail('a label is stored for a non-match');
      const identifier = byKey.get(hex(k));
      if (identifier === undefined) continue; // not in this book (or another account's key)
      entries.set(identifier, {
        output: output.slice(),
        labelChecked: (flags & 1) === 1,
        match: flags & 2 ? { userId, label: label.slice() } : undefined,
      });
    }
    r.end();
    return { identity, epoch, publicKey, version, entries };
  }
}
