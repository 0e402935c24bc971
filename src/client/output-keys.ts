/**
 * How a client keys its cached OPRF outputs (issue 10 §4), without Node: shared by the
 * file cache (output-cache.ts) and every SyncCache (src/browser/sync-cache.ts), so one
 * device secret finds the same entries in both. Entries are keyed by
 * HMAC-SHA256(cacheKey, identifier)[0..16], never by the identifier (an unkeyed hash of a
 * phone number is reversed in seconds); the key comes from the device secret per
 * (directory identity, account).
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { encodeFields } from '../protocol/discovery/canonical-fields.js';

export const OUTPUT_ENTRY_KEY_BYTES = 16;
const CACHE_KEY_SALT = new TextEncoder().encode('contact-psi/v1/output-cache-key');
const utf8 = new TextEncoder();

/** The key of the entries' keyed hashes: per (identity, account), from the device secret. */
export function outputCacheKey(deviceSecret: Uint8Array, identity: Uint8Array | undefined, account: string): Uint8Array {
  return hkdf(sha256, deviceSecret, CACHE_KEY_SALT, encodeFields([identity ?? new Uint8Array(0), utf8.encode(account)]), 32);
}

/** The 16-byte key of one identifier's entry. */
export const outputEntryKey = (key: Uint8Array, identifier: string): Uint8Array => hmac(sha256, key, utf8.encode(identifier)).subarray(0, OUTPUT_ENTRY_KEY_BYTES);
