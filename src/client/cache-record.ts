/**
 * The binary container of the client's cache files (snapshot, pinned key, quota receipt):
 *
 *   magic "CPSI" (4) | kind (1, ASCII) | format version (1) | reserved (2, zero)
 *   | payload length (8, big-endian) | payload | SHA-256 of everything before (32)
 *
 * Binary, because a snapshot with its delta prefixes is megabytes (hex in JSON doubled it
 * and cost a parse at every sync); a checksum, because a torn write, a bad disk or an edit
 * must be found before any of it is used. Reading never throws anything but
 * CacheFileError (code `cache_corrupt`), which names the file and how to recover.
 */
import { createHash } from 'node:crypto';
import { ContactPsiError } from '../errors.js';

export const CACHE_MAGIC = new Uint8Array([0x43, 0x50, 0x53, 0x49]); // "CPSI"
export const CACHE_FORMAT_VERSION = 1;
const HEADER_BYTES = 16;
const CHECKSUM_BYTES = 32;

/** S: snapshot, P: OPRF key pinned on first use (before signed directories), R: quota receipt, I: identity pins, T: OPRF outputs (tags) of an epoch. */
export type CacheRecordKind = 'S' | 'P' | 'R' | 'I' | 'T';

/** A cache file that cannot be used: `path` says which, the message says how to recover. */
export class CacheFileError extends ContactPsiError {
  constructor(
    readonly path: string,
    why: string,
    recovery: string,
  ) {
    super('cache_corrupt', `${path}: ${why}. ${recovery}`);
  }
}

const sha256 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

/**
 * Builds a payload field by field, into one growing buffer: an outputs file holds tens of
 * thousands of entries of 4 fields each, and an array per field (a BigInt per integer) made
 * its encoding and the garbage it left the largest client cost after the group work.
 */
export class RecordWriter {
  private buf: Uint8Array;
  private view: DataView;
  private length = 0;

  /** `expectedBytes`: the payload size the caller expects (the buffer still grows past it). */
  constructor(expectedBytes = 1024) {
    this.buf = new Uint8Array(Math.max(64, Math.min(expectedBytes, 1 << 30)));
    this.view = new DataView(this.buf.buffer);
  }

  private reserve(n: number): number {
    const at = this.length;
    if (at + n > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < at + n) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, at));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    this.length = at + n;
    return at;
  }

  u8(v: number): this {
    const at = this.reserve(1); // before reading this.buf: reserve may replace it
    this.buf[at] = v;
    return this;
  }

  /** An unsigned integer up to 2^53 - 1, as 8 bytes big-endian. */
  uint(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`cache record integer out of range: ${v}`);
    const at = this.reserve(8);
    this.view.setUint32(at, Math.floor(v / 0x1_0000_0000), false);
    this.view.setUint32(at + 4, v >>> 0, false);
    return this;
  }

  bytes(v: Uint8Array): this {
    this.uint(v.length);
    const at = this.reserve(v.length); // before reading this.buf: reserve may replace it
    this.buf.set(v, at);
    return this;
  }

  /** bytes(src[start..start+length)) without a view of the range (an outputs file writes a 16-byte key per entry from one packed array). */
  bytesFrom(src: Uint8Array, start: number, length: number): this {
    this.uint(length);
    const at = this.reserve(length);
    const buf = this.buf;
    for (let i = 0; i < length; i++) buf[at + i] = src[start + i];
    return this;
  }

  /** UTF-8 with its length, encoded in place (an outputs file has a user id field per entry). */
  text(v: string): this {
    // ASCII (user ids, server URLs; the empty user id of every non-match) byte by byte: the
    // same bytes as encodeInto, without a view and a native call per field.
    if (v.length <= 64) {
      const at = this.reserve(8 + v.length);
      const buf = this.buf;
      let i = 0;
      for (; i < v.length; i++) {
        const c = v.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + 8 + i] = c;
      }
      if (i === v.length) {
        this.view.setUint32(at, 0, false);
        this.view.setUint32(at + 4, v.length, false);
        return this;
      }
      this.length = at; // not ASCII: encoded below instead
    }
    const lengthAt = this.reserve(8);
    const room = 3 * v.length; // UTF-8 takes at most 3 bytes per UTF-16 unit
    const at = this.reserve(room); // before reading this.buf: reserve may replace it
    const { written } = utf8.encodeInto(v, this.buf.subarray(at, at + room));
    this.length = at + written;
    this.view.setUint32(lengthAt, Math.floor(written / 0x1_0000_0000), false);
    this.view.setUint32(lengthAt + 4, written >>> 0, false);
    return this;
  }

  /** The whole file: header, payload, checksum. */
  finish(kind: CacheRecordKind): Uint8Array[] {
    const payload = this.buf.subarray(0, this.length);
    const header = new Uint8Array(HEADER_BYTES);
    header.set(CACHE_MAGIC);
    header[4] = kind.charCodeAt(0);
    header[5] = CACHE_FORMAT_VERSION;
    new DataView(header.buffer).setBigUint64(8, BigInt(payload.length), false);
    return [header, payload, sha256(header, payload)];
  }
}

const utf8 = new TextEncoder();
/** One strict decoder for every text field (a user id per outputs entry; constructing one each was most of the field's cost). */
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** Reads a payload field by field; any overrun is a CacheFileError. */
export class RecordReader {
  private pos = 0;

  constructor(
    readonly payload: Uint8Array,
    private readonly fail: (why: string) => never,
  ) {}

  u8(): number {
    if (this.pos + 1 > this.payload.length) this.fail('truncated field');
    return this.payload[this.pos++];
  }

  uint(max = Number.MAX_SAFE_INTEGER): number {
    if (this.pos + 8 > this.payload.length) this.fail('truncated field');
    // Two 32-bit halves (no BigInt and no DataView per field: an outputs file has five
    // fields per entry); hi <= 0x1fffff keeps hi * 2^32 + lo exact.
    const p = this.payload;
    const at = this.pos;
    const hi = ((p[at] << 24) | (p[at + 1] << 16) | (p[at + 2] << 8) | p[at + 3]) >>> 0;
    const lo = ((p[at + 4] << 24) | (p[at + 5] << 16) | (p[at + 6] << 8) | p[at + 7]) >>> 0;
    this.pos += 8;
    const v = hi * 0x1_0000_0000 + lo;
    if (hi > 0x1fffff || v > max) this.fail(`a field is out of range (${(BigInt(hi) << 32n) | BigInt(lo)} > ${max})`);
    return v;
  }

  /** Where the next field starts in the payload. */
  get offset(): number {
    return this.pos;
  }

  /**
   * Skips a length-prefixed byte string as bytes() reads it (the same checks and failures)
   * and returns its length; it ends at `offset`. No view is made: an outputs file read for a
   * book that holds none of its entries looks at four fields of each and keeps nothing.
   */
  skip(maxLength = Number.MAX_SAFE_INTEGER): number {
    const length = this.uint(maxLength);
    if (this.pos + length > this.payload.length) this.fail('truncated field');
    this.pos += length;
    return length;
  }

  /** A length-prefixed byte string, a view into the file (no copy). */
  bytes(maxLength = Number.MAX_SAFE_INTEGER): Uint8Array {
    const length = this.uint(maxLength);
    if (this.pos + length > this.payload.length) this.fail('truncated field');
    const out = this.payload.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  text(maxLength: number): string {
    try {
      const bytes = this.bytes(maxLength);
      return bytes.length === 0 ? '' : utf8Strict.decode(bytes);
    } catch (err) {
      if (err instanceof CacheFileError) throw err;
      return this.fail('a text field is not UTF-8');
    }
  }

  /** Whether every field was read (a field appended by a later writer may follow). */
  get atEnd(): boolean {
    return this.pos === this.payload.length;
  }

  end(): void {
    if (this.pos !== this.payload.length) this.fail('trailing bytes after the last field');
  }
}

/** The payload of a record file, after checking magic, kind, version, length and checksum. */
export function openRecord(file: Uint8Array, kind: CacheRecordKind, fail: (why: string) => never): Uint8Array {
  if (file.length < HEADER_BYTES + CHECKSUM_BYTES) fail('too short to be a cache file');
  for (let i = 0; i < CACHE_MAGIC.length; i++) if (file[i] !== CACHE_MAGIC[i]) fail('not a contact-psi cache file');
  if (file[4] !== kind.charCodeAt(0)) fail('a cache file of another kind');
  if (file[5] !== CACHE_FORMAT_VERSION) fail(`cache format version ${file[5]}, this client reads ${CACHE_FORMAT_VERSION}`);
  if (file[6] !== 0 || file[7] !== 0) fail('reserved header bytes are set');
  const length = new DataView(file.buffer, file.byteOffset + 8, 8).getBigUint64(0, false);
  if (length !== BigInt(file.length - HEADER_BYTES - CHECKSUM_BYTES)) fail('its length does not match its header (truncated or extended)');
  const body = file.subarray(0, file.length - CHECKSUM_BYTES);
  const sum = sha256(body);
  const stored = file.subarray(file.length - CHECKSUM_BYTES);
  for (let i = 0; i < CHECKSUM_BYTES; i++) if (sum[i] !== stored[i]) fail('checksum mismatch (damaged or edited)');
  return file.subarray(HEADER_BYTES, file.length - CHECKSUM_BYTES);
}
