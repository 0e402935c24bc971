/**
 * The directory snapshot: the set encoding of every current tag, identical for every client
 * of an epoch and version, named by its SHA-256 digest so clients and caches can compare
 * copies without comparing bytes.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { buildEncoding, deriveParameters, type EncodingKind, type EncodingParams } from '../setenc/index.js';

/**
 * Per-lookup false-positive rate of a directory snapshot. A directory query is many
 * independent lookups against one long-lived encoding, so the rate is stated per lookup
 * (deriveParameters with clientSize 1): a 1,000-contact book then sees a false hit with
 * probability about 2^-19, and a false hit only costs one label lookup that returns null.
 */
export const DIRECTORY_FALSE_POSITIVE_RATE = 2 ** -29;
/** Raw snapshots keep 8 bytes per tag: a per-lookup rate of n * 2^-64 <= 2^-29 up to 2^35 users. */
export const DIRECTORY_RAW_TAG_BYTES = 8;

export function snapshotParams(kind: EncodingKind, count: number, tagLength: number): EncodingParams {
  if (kind === 'raw') return { kind, tagBytes: Math.min(DIRECTORY_RAW_TAG_BYTES, tagLength) };
  return deriveParameters({ kind, serverSize: Math.max(1, count), clientSize: 1, falsePositiveRate: DIRECTORY_FALSE_POSITIVE_RATE, tagLength });
}

/** SHA-256 of the serialized snapshot, lowercase hex. */
export function snapshotDigest(bytes: Uint8Array): string {
  return bytesToHex(sha256(bytes));
}

/** Encodes packed tags (sorted by the caller, so the input order is canonical). */
export function encodeSnapshot(kind: EncodingKind, packed: Uint8Array, tagLength: number): Uint8Array {
  const count = tagLength === 0 ? 0 : packed.length / tagLength;
  const params = snapshotParams(kind, count, tagLength === 0 ? 64 : tagLength);
  const tags = count === 0 ? [] : { packed, tagLength };
  return buildEncoding(params, tags).serialize();
}
