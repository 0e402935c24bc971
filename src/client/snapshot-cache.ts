/**
 * The client's on-disk cache of one directory server (a folder per server, mode 0700), or
 * of one directory identity (a folder per `identityScope`: the quota receipt and, with
 * output-cache.ts, the OPRF outputs belong to the identity, not to a URL: spec/sync-failover.md):
 *
 * | file | content | when it cannot be read |
 * |---|---|---|
 * | `snapshot.cache` | base snapshot, its digest, epoch, versions, the accumulated delta prefixes | deleted and downloaded again (it is public data) |
 * | `pinned-key.bin` | the epoch key seen first (trust on first use) | `cache_corrupt`: never re-pinned silently |
 * | `quota-receipt.bin` | the last quota receipt (token + charged set) | `cache_corrupt`: dropping it would have every contact charged again |
 *
 * Each is a binary record with a header and a SHA-256 checksum (cache-record.ts), written
 * atomically (an unpredictable temp name opened O_EXCL 0600, fsync, rename). The JSON files
 * of earlier versions are migrated (pin, receipt) or deleted (snapshot: downloaded again)
 * the first time they are read. Recovery from `cache_corrupt`: delete the named file, or
 * `contact-psi sync --reset-cache` (SnapshotCache.reset) to start this server's cache over.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { CachedSnapshot, QuotaReceipt } from '../protocol/discovery/client.js';
import { decodePins, encodePins, type PinState } from '../protocol/discovery/identity-pins.js';
import { CacheFileError, openRecord, RecordReader, RecordWriter, type CacheRecordKind } from './cache-record.js';
import { writeFileAtomic, writeFileAtomicAsync } from './local-file.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
/** OpenSSL's SHA-256: this file is Node-only, and a snapshot of a large directory is megabytes. */
const sha256 = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());

export const SNAPSHOT_FILE = 'snapshot.cache';
export const PIN_FILE = 'pinned-key.bin';
export const RECEIPT_FILE = 'quota-receipt.bin';
/** The directory identity pin and the newest signed entries seen (identity-pins.ts encodePins). */
export const PINS_FILE = 'pins.bin';
const MAX_PINS_BYTES = 64 * 1024;
/** Files of the JSON format (before the binary records). */
const LEGACY = { snapshotMeta: 'snapshot.json', snapshotBytes: 'snapshot.bin', pin: 'pinned-key.json', receipt: 'quota-receipt.json' } as const;

const MAX_SERVER_BYTES = 4096;
const MAX_ELEMENT_BYTES = 64;
const U32 = 0xffffffff;
const RESET_HINT = 'run `contact-psi sync --reset-cache` (or SnapshotCache.reset())';

export class SnapshotCache {
  readonly dir: string;
  private readonly server: string;
  /** Why the last load() found no usable snapshot although a file was there (it was deleted). */
  discarded: string | undefined;

  constructor(root: string, server: string) {
    this.dir = join(root, hex(sha256(new TextEncoder().encode(server))).slice(0, 16));
    this.server = server;
  }

  /** Deletes this server's cache folder: snapshot, pinned key and receipt (the next sync pins again). */
  reset(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * The cached snapshot, or undefined. A damaged or old-format snapshot file is deleted
   * (`discarded` says why) and the snapshot is downloaded again: it is public data, and the
   * downloaded copy is checked against dir.info, so nothing is lost.
   */
  load(): CachedSnapshot | undefined {
    this.discarded = undefined;
    const path = join(this.dir, SNAPSHOT_FILE);
    this.dropLegacySnapshot();
    const file = readIfExists(path);
    if (file === undefined) return undefined;
    try {
      return decodeSnapshot(file, path, this.server);
    } catch (err) {
      if (!(err instanceof CacheFileError)) throw err;
      this.discarded = err.message;
      rmSync(path, { force: true });
      return undefined;
    }
  }

  save(snapshot: CachedSnapshot): void {
    this.write(SNAPSHOT_FILE, this.snapshotRecord(snapshot), 'S');
  }

  /** save(), with the write, fsync and rename off the event loop (FileSyncCache: the saves at a sync's end overlap). */
  saveAsync(snapshot: CachedSnapshot): Promise<void> {
    return this.writeAsync(SNAPSHOT_FILE, this.snapshotRecord(snapshot), 'S');
  }

  private snapshotRecord(snapshot: CachedSnapshot): RecordWriter {
    return new RecordWriter(snapshot.bytes.length + 1024)
      .text(this.server)
      .uint(snapshot.epoch)
      .uint(snapshot.version)
      .uint(snapshot.baseVersion ?? snapshot.version)
      .u8(snapshot.infoCount === undefined ? 0 : 1)
      .uint(snapshot.infoCount ?? 0)
      .bytes(snapshot.digest)
      .bytes(snapshot.infoDigest ?? new Uint8Array(0))
      .bytes(snapshot.publicKey)
      .bytes(snapshot.added ?? new Uint8Array(0))
      .bytes(snapshot.removed ?? new Uint8Array(0))
      .bytes(snapshot.bytes)
      // Appended fields (a file without them is read as "no commitment": deltas wait for a download).
      .u8(snapshot.commitment === undefined ? 0 : 1)
      .uint(snapshot.commitment?.count ?? 0)
      .bytes(snapshot.commitment?.digest ?? new Uint8Array(0));
  }

  /**
   * The key pinned on first use, if any. A damaged pin is `cache_corrupt`, never "no pin":
   * forgetting it would let a different key be pinned silently.
   */
  pinned(): { epoch: number; publicKey: Uint8Array } | undefined {
    const path = join(this.dir, PIN_FILE);
    const file = readIfExists(path);
    if (file === undefined) return this.migrateLegacyPin();
    const fail = failer(path, `The directory's key cannot be checked against it. If you trust the server's current key, delete ${path} or ${RESET_HINT} to pin it again`);
    const r = new RecordReader(openRecord(file, 'P', fail), fail);
    const server = r.text(MAX_SERVER_BYTES);
    const epoch = r.uint(U32);
    const publicKey = r.bytes(MAX_ELEMENT_BYTES).slice();
    r.end();
    if (server !== this.server) fail('it was written for another server');
    if (publicKey.length === 0) fail('it holds an empty key');
    return { epoch, publicKey };
  }

  pin(epoch: number, publicKey: Uint8Array): void {
    this.write(PIN_FILE, this.pinRecord(epoch, publicKey), 'P');
    rmSync(join(this.dir, LEGACY.pin), { force: true });
  }

  async pinAsync(epoch: number, publicKey: Uint8Array): Promise<void> {
    await this.writeAsync(PIN_FILE, this.pinRecord(epoch, publicKey), 'P');
    rmSync(join(this.dir, LEGACY.pin), { force: true });
  }

  private pinRecord(epoch: number, publicKey: Uint8Array): RecordWriter {
    return new RecordWriter().text(this.server).uint(epoch).bytes(publicKey);
  }

  /**
   * The identity pin state (spec/verifiability.md §3), or undefined before the first
   * verified sync. Re-verified when read; a damaged one is `cache_corrupt`, never "nothing
   * pinned": forgetting it would let another identity be pinned on first use again.
   */
  loadPins(): PinState | undefined {
    const path = join(this.dir, PINS_FILE);
    const file = readIfExists(path);
    if (file === undefined) return undefined;
    const fail = failer(path, `The directory cannot be checked against what was seen before. If you trust the server's identity, delete ${path} or ${RESET_HINT}`);
    const r = new RecordReader(openRecord(file, 'I', fail), fail);
    if (r.text(MAX_SERVER_BYTES) !== this.server) fail('it was written for another server');
    const encoded = r.bytes(MAX_PINS_BYTES);
    r.end();
    try {
      return decodePins(encoded);
    } catch (err) {
      return fail(`its signed entries do not verify (${(err as Error).message})`);
    }
  }

  savePins(state: PinState): void {
    this.write(PINS_FILE, this.pinsRecord(state), 'I');
  }

  savePinsAsync(state: PinState): Promise<void> {
    return this.writeAsync(PINS_FILE, this.pinsRecord(state), 'I');
  }

  private pinsRecord(state: PinState): RecordWriter {
    return new RecordWriter().text(this.server).bytes(encodePins(state));
  }

  /**
   * The quota receipt of the last sync (token + charged set), so old contacts are not
   * charged again. A damaged receipt is `cache_corrupt`: ignoring it would charge every
   * contact once more, so the user decides (delete it and accept that).
   */
  loadReceipt(): QuotaReceipt | undefined {
    const path = join(this.dir, RECEIPT_FILE);
    const file = readIfExists(path);
    if (file === undefined) return this.migrateLegacyReceipt();
    const fail = failer(path, `Delete ${path} or ${RESET_HINT}; the contacts it covered are then charged against the quota once more`);
    const r = new RecordReader(openRecord(file, 'R', fail), fail);
    const token = r.bytes(32).slice();
    const set = r.bytes().slice();
    // A receipt of the format before epoch-bound receipts (issue 10 §4) cannot verify any
    // more: it is dropped, and the contacts it covered are charged once more.
    if (r.atEnd) return undefined;
    const epoch = r.uint(U32);
    const generation = r.uint();
    const evaluated = r.bytes().slice();
    const chain = r.bytes(16).slice();
    r.end();
    if (evaluated.length !== Math.ceil(set.length / 8 / 8)) fail('its evaluated bitmap does not fit its set');
    if (chain.length !== 16) fail('its chain is not 16 bytes');
    return checkReceipt({ token, set, chain, epoch, generation, evaluated }, fail);
  }

  saveReceipt(receipt: QuotaReceipt): void {
    this.write(RECEIPT_FILE, receiptRecord(receipt), 'R');
    rmSync(join(this.dir, LEGACY.receipt), { force: true });
  }

  async saveReceiptAsync(receipt: QuotaReceipt): Promise<void> {
    await this.writeAsync(RECEIPT_FILE, receiptRecord(receipt), 'R');
    rmSync(join(this.dir, LEGACY.receipt), { force: true });
  }

  private write(name: string, w: RecordWriter, kind: CacheRecordKind): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileAtomic(join(this.dir, name), w.finish(kind));
  }

  /** write(), the record built and checksummed now, written, fsynced and renamed by the thread pool. */
  private async writeAsync(name: string, w: RecordWriter, kind: CacheRecordKind): Promise<void> {
    const parts = w.finish(kind);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomicAsync(join(this.dir, name), parts);
  }

  /** The JSON snapshot cache of earlier versions: deleted (downloaded again once, in the binary format). */
  private dropLegacySnapshot(): void {
    const meta = join(this.dir, LEGACY.snapshotMeta);
    if (!existsSync(meta) && !existsSync(join(this.dir, LEGACY.snapshotBytes))) return;
    rmSync(meta, { force: true });
    rmSync(join(this.dir, LEGACY.snapshotBytes), { force: true });
    this.discarded = `${meta}: a snapshot cache of an earlier format was deleted; the snapshot is downloaded again`;
  }

  private migrateLegacyPin(): { epoch: number; publicKey: Uint8Array } | undefined {
    const path = join(this.dir, LEGACY.pin);
    const rec = readLegacyJson(path, `Delete ${path} or ${RESET_HINT} to pin the server's current key again`);
    if (rec === undefined) return undefined;
    const fail = failer(path, `Delete ${path} or ${RESET_HINT} to pin the server's current key again`);
    const epoch = rec.epoch as number;
    if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 0 || epoch > U32) fail('its epoch is not a valid number');
    const publicKey = unhexStrict(rec.publicKey, MAX_ELEMENT_BYTES, fail);
    if (publicKey.length === 0) fail('it holds an empty key');
    if (rec.server !== undefined && rec.server !== this.server) fail('it was written for another server');
    this.pin(epoch, publicKey);
    return { epoch, publicKey };
  }

  private migrateLegacyReceipt(): QuotaReceipt | undefined {
    const path = join(this.dir, LEGACY.receipt);
    const hint = `Delete ${path} or ${RESET_HINT}; the contacts it covered are then charged against the quota once more`;
    const rec = readLegacyJson(path, hint);
    if (rec === undefined) return undefined;
    // A JSON receipt predates epoch-bound receipts (issue 10 §4) and cannot verify any more.
    rmSync(path, { force: true });
    return undefined;
  }
}

const receiptRecord = (receipt: QuotaReceipt): RecordWriter =>
  new RecordWriter().bytes(receipt.token).bytes(receipt.set).uint(receipt.epoch).uint(receipt.generation).bytes(receipt.evaluated).bytes(receipt.chain);

function decodeSnapshot(file: Uint8Array, path: string, server: string): CachedSnapshot {
  const fail = failer(path, 'It is deleted and the snapshot downloaded again');
  const r = new RecordReader(openRecord(file, 'S', fail), fail);
  if (r.text(MAX_SERVER_BYTES) !== server) fail('it was written for another server');
  const epoch = r.uint(U32);
  const version = r.uint();
  const baseVersion = r.uint();
  const hasCount = r.u8();
  const count = r.uint();
  const digest = r.bytes(32);
  const infoDigest = r.bytes(32);
  const publicKey = r.bytes(MAX_ELEMENT_BYTES);
  const added = r.bytes();
  const removed = r.bytes();
  const bytes = r.bytes();
  let commitment: CachedSnapshot['commitment'];
  if (!r.atEnd) {
    const has = r.u8();
    const count = r.uint();
    const digest = r.bytes(32);
    if (has > 1 || (has === 1 && digest.length !== 32) || (has === 0 && digest.length !== 0)) fail('its commitment is malformed');
    if (has === 1) commitment = { count, digest: digest.slice() };
  }
  r.end();
  if (hasCount > 1) fail('a flag is out of range');
  if (digest.length !== 32 || (infoDigest.length !== 0 && infoDigest.length !== 32)) fail('a digest is not 32 bytes');
  if (baseVersion > version) fail('its base version is newer than its version');
  if (added.length % 8 !== 0 || removed.length % 8 !== 0) fail('its delta prefixes are not 8-byte multiples');
  // The base must still be the bytes dir.info announced (the checksum covers the file; this
  // covers a file assembled from pieces of two).
  if (hex(sha256(bytes)) !== hex(digest)) fail('the snapshot does not match its digest');
  return {
    epoch,
    version,
    baseVersion,
    digest: digest.slice(),
    infoDigest: infoDigest.length ? infoDigest.slice() : undefined,
    infoCount: hasCount ? count : undefined,
    publicKey: publicKey.slice(),
    bytes,
    added: added.slice(),
    removed: removed.slice(),
    commitment,
  };
}

function checkReceipt(receipt: QuotaReceipt, fail: (why: string) => never): QuotaReceipt {
  if (receipt.token.length !== 32) fail('its token is not 32 bytes');
  if (receipt.set.length % 8 !== 0) fail('its charged set is not a list of 8-byte hashes');
  return receipt;
}

const failer =
  (path: string, recovery: string) =>
  (why: string): never => {
    throw new CacheFileError(path, why, recovery);
  };

/** The file's bytes, or undefined when it does not exist. Other read errors are `cache_corrupt`. */
function readIfExists(path: string): Uint8Array | undefined {
  try {
    return ownedView(readFileSync(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CacheFileError(path, `it cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, `Check its permissions, or ${RESET_HINT}`);
  }
}

/**
 * The file's bytes as a Uint8Array of their own: a view of a large Buffer (it owns its
 * memory; the snapshot file of a 1M-user directory is ~4 MB, copied at every sync before),
 * a copy of a small one (which may sit in Node's shared allocation pool).
 */
export function ownedView(file: Buffer): Uint8Array {
  return file.byteLength >= 64 * 1024 && file.byteOffset === 0 && file.buffer.byteLength === file.byteLength
    ? new Uint8Array(file.buffer, 0, file.byteLength)
    : new Uint8Array(file);
}

function readLegacyJson(path: string, recovery: string): Record<string, unknown> | undefined {
  const file = readIfExists(path);
  if (file === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(file));
  } catch {
    throw new CacheFileError(path, 'it is not valid JSON', recovery);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CacheFileError(path, 'it is not a JSON object', recovery);
  return value as Record<string, unknown>;
}

function unhexStrict(v: unknown, maxBytes: number, fail: (why: string) => never): Uint8Array {
  if (typeof v !== 'string' || v.length % 2 !== 0 || v.length / 2 > maxBytes || !/^[0-9a-f]*$/i.test(v)) return fail('a field is not hex of the right length');
  return new Uint8Array(Buffer.from(v, 'hex'));
}

/**
 * The device secret for deterministic blinding (32 bytes, created once, mode 0600): with it
 * a contact checked before is recognized and not charged again. It never leaves the device.
 */
export function deviceSecret(root: string): Uint8Array {
  const path = join(root, 'device-secret');
  const bytes = readIfExists(path);
  if (bytes !== undefined) {
    // Replacing a damaged secret silently would change every blind and have every contact
    // charged again: the user decides.
    if (bytes.length !== 32) throw new CacheFileError(path, 'it is not a 32-byte device secret', 'Move it away to start over (every contact is then charged once more)');
    return bytes;
  }
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const secret = new Uint8Array(randomBytes(32));
  writeFileAtomic(path, [secret]);
  return secret;
}
