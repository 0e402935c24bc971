/**
 * The byte encoding of everything the directory identity key signs (spec/verifiability.md
 * §Encodings). Not msgpack: a signature must cover exactly one byte string per statement,
 * and a msgpack map has many (key order, int widths, str vs bin). Here a statement is
 *
 *   field(domain) || field(f1) || ... || field(fn)      field(x) = u32be(len(x)) || x
 *
 * with a fixed field count per domain, unsigned integers as exactly 8 big-endian bytes,
 * and no trailing bytes. Decoding refuses anything else, so decode(encode(x)) = x and
 * encode(decode(b)) = b: one statement, one encoding (no malleability to hide a change).
 */
import { ProtocolError } from '../errors.js';

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** Largest single field accepted (a suite name, a key, a digest: all tiny). */
export const MAX_FIELD_BYTES = 4096;

export const asciiBytes = (s: string): Uint8Array => textEncoder.encode(s);

export function u64(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new ProtocolError('bad_field', `not an unsigned safe integer: ${value}`);
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(value / 2 ** 32));
  view.setUint32(4, value >>> 0);
  return out;
}

export function encodeFields(fields: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const f of fields) total += 4 + f.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let off = 0;
  for (const f of fields) {
    view.setUint32(off, f.length);
    out.set(f, off + 4);
    off += 4 + f.length;
  }
  return out;
}

/** Splits `bytes` into exactly `count` fields; `malformed` on any other shape. */
export function decodeFields(bytes: Uint8Array, count: number, what: string, maxField = MAX_FIELD_BYTES): Uint8Array[] {
  const out: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 0;
  while (off < bytes.length) {
    if (out.length === count) throw new ProtocolError('malformed', `${what}: trailing bytes`);
    if (off + 4 > bytes.length) throw new ProtocolError('malformed', `${what}: truncated field length`);
    const len = view.getUint32(off);
    if (len > maxField) throw new ProtocolError('too_large', `${what}: field ${out.length} of ${len} bytes`);
    if (off + 4 + len > bytes.length) throw new ProtocolError('malformed', `${what}: truncated field`);
    out.push(bytes.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  if (out.length !== count) throw new ProtocolError('malformed', `${what}: ${out.length} fields, expected ${count}`);
  return out;
}

export function readU64(field: Uint8Array, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (field.length !== 8) throw new ProtocolError('malformed', `${what}: integer of ${field.length} bytes`);
  const view = new DataView(field.buffer, field.byteOffset, 8);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  if (hi >= 2 ** 21) throw new ProtocolError('bad_field', `${what}: integer too large`);
  const value = hi * 2 ** 32 + lo;
  if (value > max) throw new ProtocolError('bad_field', `${what}: ${value} above ${max}`);
  return value;
}

export function readString(field: Uint8Array, what: string): string {
  try {
    return textDecoder.decode(field);
  } catch {
    throw new ProtocolError('malformed', `${what}: not UTF-8`);
  }
}

export function readFixed(field: Uint8Array, length: number, what: string): Uint8Array {
  if (field.length !== length) throw new ProtocolError('bad_field', `${what}: ${field.length} bytes, expected ${length}`);
  return field.slice();
}

export function expectDomain(field: Uint8Array, domain: Uint8Array, what: string): void {
  if (!bytesEqual(field, domain)) throw new ProtocolError('malformed', `${what}: wrong domain`);
}

/** Not constant-time: everything compared here is public (keys, digests, statements). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
