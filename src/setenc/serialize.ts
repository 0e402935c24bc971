/**
 * The container every set encoding is serialized in (spec/setenc.md §Container):
 *
 *   offset 0  4 bytes  magic "CPSE"
 *          4  1 byte   format version (1)
 *          5  1 byte   kind: 1 raw, 2 gcs, 3 bloom, 4 fuse
 *          6  4 bytes  count, u32 little-endian
 *         10  ...      kind-specific parameters, then the body
 *
 * All integers are little-endian. Limits are checked as soon as a length is known and
 * before anything is allocated (the ws receiver habit): a header that claims a huge count
 * is refused with `too_large` having read 10 bytes.
 */
import { SetEncodingError } from '../errors.js';
import type { EncodingKind, ParseLimits } from './types.js';

export const MAGIC = Uint8Array.of(0x43, 0x50, 0x53, 0x45); // "CPSE"
export const FORMAT_VERSION = 1;
export const HEADER_BYTES = 10;
export const KIND_CODES: Readonly<Record<EncodingKind, number>> = { raw: 1, gcs: 2, bloom: 3, fuse: 4 };
const KIND_BY_CODE: readonly (EncodingKind | undefined)[] = [undefined, 'raw', 'gcs', 'bloom', 'fuse'];

export const DEFAULT_MAX_BYTES = 512 * 1024 * 1024;
export const DEFAULT_MAX_COUNT = 50_000_000;
/** Hard caps of the format: count is a u32; no encoding may exceed what a Uint8Array holds everywhere. */
export const MAX_FORMAT_COUNT = 0xffff_ffff;
export const MAX_FORMAT_BYTES = 2 ** 31 - 1;

export interface ResolvedLimits {
  readonly maxBytes: number;
  readonly maxCount: number;
}

export function resolveLimits(limits: ParseLimits | undefined): ResolvedLimits {
  const maxBytes = limits?.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxCount = limits?.maxCount ?? DEFAULT_MAX_COUNT;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < HEADER_BYTES || maxBytes > MAX_FORMAT_BYTES) {
    throw new SetEncodingError('bad_parameters', `maxBytes must be an integer in [${HEADER_BYTES}, ${MAX_FORMAT_BYTES}]`);
  }
  if (!Number.isSafeInteger(maxCount) || maxCount < 0 || maxCount > MAX_FORMAT_COUNT) {
    throw new SetEncodingError('bad_parameters', `maxCount must be an integer in [0, ${MAX_FORMAT_COUNT}]`);
  }
  return { maxBytes, maxCount };
}

export interface Header {
  readonly kind: EncodingKind;
  readonly count: number;
  readonly view: DataView;
}

/** Checks magic, version, kind and count; returns the header and a DataView over all of `bytes`. */
export function readHeader(bytes: Uint8Array, limits: ResolvedLimits): Header {
  if (!(bytes instanceof Uint8Array)) throw new SetEncodingError('bad_input', 'encoding is not a Uint8Array');
  if (bytes.length > limits.maxBytes) {
    throw new SetEncodingError('too_large', `encoding of ${bytes.length} bytes exceeds maxBytes ${limits.maxBytes}`);
  }
  for (let i = 0; i < MAGIC.length; i++) {
    if (i >= bytes.length) throw new SetEncodingError('truncated', 'encoding ends inside the magic');
    if (bytes[i] !== MAGIC[i]) throw new SetEncodingError('bad_magic', 'not a set encoding (magic "CPSE" expected)');
  }
  if (bytes.length < HEADER_BYTES) throw new SetEncodingError('truncated', 'encoding ends inside the header');
  if (bytes[4] !== FORMAT_VERSION) throw new SetEncodingError('bad_version', `unsupported format version ${bytes[4]}`);
  const kind = KIND_BY_CODE[bytes[5]];
  if (kind === undefined) throw new SetEncodingError('bad_kind', `unknown encoding kind ${bytes[5]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(6, true);
  if (count > limits.maxCount) {
    throw new SetEncodingError('too_large', `count ${count} exceeds maxCount ${limits.maxCount}`);
  }
  return { kind, count, view };
}

/** Throws `truncated` if the body ends before the header says it must; called before any field past `need` is read. */
export function need(bytes: Uint8Array, length: number, what: string): void {
  if (bytes.length < length) throw new SetEncodingError('truncated', `encoding ends inside the ${what}`);
}

/**
 * The total length the header and parameters imply must be the exact length: a longer
 * claim than maxBytes is `too_large` (checked first, so nothing is sized from it), a
 * shorter input `truncated`, a longer one `trailing_bytes`.
 */
export function checkTotalLength(bytes: Uint8Array, expected: number, limits: ResolvedLimits): void {
  if (expected > limits.maxBytes) {
    throw new SetEncodingError('too_large', `encoding would be ${expected} bytes, over maxBytes ${limits.maxBytes}`);
  }
  if (bytes.length < expected) throw new SetEncodingError('truncated', `encoding has ${bytes.length} bytes, ${expected} expected`);
  if (bytes.length > expected) throw new SetEncodingError('trailing_bytes', `${bytes.length - expected} bytes after the body`);
}

/** A zeroed buffer for an encoding of `length` bytes with the container header written, plus read padding. */
export function allocateEncoding(kind: EncodingKind, count: number, length: number, padding: number): { buf: Uint8Array; view: DataView } {
  if (count > MAX_FORMAT_COUNT) throw new SetEncodingError('too_large', `count ${count} does not fit the u32 header field`);
  if (length > MAX_FORMAT_BYTES) throw new SetEncodingError('too_large', `encoding would be ${length} bytes, over ${MAX_FORMAT_BYTES}`);
  const buf = new Uint8Array(length + padding);
  const view = new DataView(buf.buffer);
  buf.set(MAGIC, 0);
  buf[4] = FORMAT_VERSION;
  buf[5] = KIND_CODES[kind];
  view.setUint32(6, count, true);
  return { buf, view };
}

/** A padded private copy of validated input bytes (the caller may reuse its array). */
export function copyPadded(bytes: Uint8Array, padding: number): Uint8Array {
  const buf = new Uint8Array(bytes.length + padding);
  buf.set(bytes);
  return buf;
}
