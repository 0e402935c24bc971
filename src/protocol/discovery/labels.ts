/**
 * Labels are what a match reveals (a user id and, say, a public key). They are sealed with
 * a deterministic AEAD whose keys are derived from the OPRF output of the identifier, so
 * only a party that knows the identifier (and got it evaluated) can open one, and a stolen
 * label table reveals nothing without the OPRF key. The lookup key that names a label is
 * derived from the same output under another label, so neither can be computed from the
 * other, and neither from the snapshot (which holds only truncated tags or fingerprints).
 *
 * Label format 2 (spec/discovery.md §1), a synthetic-IV construction (RFC 5297's idea, with
 * ChaCha20 and HMAC-SHA-256):
 *
 *   encKey || macKey = SHA-512("contact-psi-v2-label-seal" || tag)       (32 + 32 bytes)
 *   P      = varint(len(userId)) || userId || label
 *   siv    = HMAC-SHA-256(macKey, P)[0..12]
 *   sealed = siv || ChaCha20(encKey, nonce = siv, counter 0) XOR P
 *
 * Why no random nonce: each key pair belongs to one tag (one identifier in one epoch), so
 * the only thing a nonce would protect is two different labels sealed under one key (a
 * relabel). The synthetic IV is a PRF of the plaintext: two different labels get different
 * IVs (they collide with probability q²/2^97 for q seals of one tag), and the same label
 * gives the same bytes, which tells nothing to the server that sealed it. The IV is also
 * the authenticator: a forgery without the tag succeeds with probability 2^-96 per try
 * (a 96-bit tag, as GCM's usual one; 96 bits is exactly ChaCha20's nonce). Format 1 was
 * nonce(24) || XChaCha20-Poly1305: 29 bytes more per label.
 */
import { ProtocolError } from '../errors.js';
import { ascii } from '../../oprf/encoding.js';
// @noble's SHA-512, HMAC and ChaCha20, byte for byte, without an object per call (a sync opens thousands).
import { chacha20, hmacSha256, sha512Prefixed } from './label-crypto.js';

/** The stored lookup key (the directory's index, `Directory.lookupLabels`): SHA-512(LOOKUP_LABEL || tag)[0..16]. */
export const LOOKUP_KEY_BYTES = 16;
/**
 * What a client sends in `dir.labels.get`: the first 8 bytes of the lookup key. 2^64
 * values: unguessable without an evaluation (spec/discovery.md §9); two directory entries
 * share one with probability about n²/2^65, and the server then returns both labels (the
 * client keeps the one that opens).
 */
export const WIRE_LOOKUP_KEY_BYTES = 8;
/** At most this many labels are returned under one wire lookup key (a collision of 3 entries on 64 bits needs ~2^42 entries). */
export const MAX_LABELS_PER_LOOKUP_KEY = 4;
/** The label format of this module, carried by dir.labels.get and dir.labels (`format`). */
export const LABEL_FORMAT = 2;
/** Domain labels of the lookup key and the seal keys (exported for the native sealer, src/directory/seal-native.ts). */
export const LOOKUP_LABEL = ascii('contact-psi-v1-lookup');
export const SEAL_KEY_LABEL = ascii('contact-psi-v2-label-seal');
/** The synthetic IV that starts every seal: ChaCha20's nonce and the authenticator. */
export const SIV_BYTES = 12;
/** The longest user id a label carries (its length is a varint of at most 3 bytes). */
export const MAX_USER_ID_BYTES = 0xffff;
/** What sealing adds to the user id and label at least: IV (12) + a 1-byte user id length (ids under 128 bytes). */
export const SEALED_LABEL_OVERHEAD_BYTES = SIV_BYTES + 1;
/** ... and at most: IV (12) + a 3-byte user id length. */
export const MAX_SEALED_LABEL_OVERHEAD_BYTES = SIV_BYTES + 3;
/**
 * The largest sealed label a client accepts (one item of `dir.labels`, the default
 * `maxLabelBytes`), and so the largest one a directory may store or a server may send:
 * one limit end to end, or a label at the directory's limit would fail every sync of a book
 * holding that user.
 */
export const MAX_SEALED_LABEL_BYTES = 4096;
/** The most UTF-8 bytes of user id plus label one sealed label can carry (a user id under 128 bytes): 4,096 - 13 = 4,083. */
export const MAX_LABEL_PLAINTEXT_BYTES = MAX_SEALED_LABEL_BYTES - SEALED_LABEL_OVERHEAD_BYTES;

/** Bytes of the LEB128 varint of `n` (n >= 0). */
export const varintBytes = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);

/** Bytes of one seal of a user id of `userIdBytes` UTF-8 bytes and a label of `labelBytes`. */
export const sealedLabelBytes = (userIdBytes: number, labelBytes: number): number => SIV_BYTES + varintBytes(userIdBytes) + userIdBytes + labelBytes;

/** Writes the LEB128 varint of `n` at `at`; returns the offset after it. */
export function writeVarint(out: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  out[at++] = n;
  return at;
}

/**
 * Reads a minimal LEB128 varint of at most `maxBytes` bytes at `at`: [value, next offset],
 * or undefined when it runs past `end`, is longer, or is not minimal (a trailing 0x00 byte:
 * two encodings of one number would make two wire forms of one message).
 */
export function readVarint(bytes: Uint8Array, at: number, end: number, maxBytes: number): [number, number] | undefined {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < maxBytes; i++) {
    if (at + i >= end) return undefined;
    const b = bytes[at + i];
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return i > 0 && b === 0 ? undefined : [value, at + i + 1];
    scale *= 128;
  }
  return undefined;
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

export const lookupKeyOf = (tag: Uint8Array): Uint8Array => sha512Prefixed(LOOKUP_LABEL, tag).subarray(0, LOOKUP_KEY_BYTES);
/** The wire lookup key of a tag: the first WIRE_LOOKUP_KEY_BYTES of its lookup key. */
export const wireLookupKeyOf = (tag: Uint8Array): Uint8Array => lookupKeyOf(tag).slice(0, WIRE_LOOKUP_KEY_BYTES);
/** encKey (32) || macKey (32), one SHA-512 of the tag under the seal label. */
const sealKeysOf = (tag: Uint8Array): Uint8Array => sha512Prefixed(SEAL_KEY_LABEL, tag);

export interface Label {
  userId: string;
  label: Uint8Array;
}

/** siv || ChaCha20(encKey, siv) XOR (varint(len(userId)) || userId || label): deterministic, no nonce. */
export function sealLabel(tag: Uint8Array, entry: Label): Uint8Array {
  const userId = ascii(entry.userId);
  if (userId.length > MAX_USER_ID_BYTES) throw new ProtocolError('bad_field', 'user id too long');
  const plaintext = new Uint8Array(varintBytes(userId.length) + userId.length + entry.label.length);
  const at = writeVarint(plaintext, 0, userId.length);
  plaintext.set(userId, at);
  plaintext.set(entry.label, at + userId.length);
  const keys = sealKeysOf(tag);
  const siv = hmacSha256(keys.subarray(32, 64), plaintext).subarray(0, SIV_BYTES);
  const sealed = new Uint8Array(SIV_BYTES + plaintext.length);
  sealed.set(siv);
  chacha20(keys.subarray(0, 32), siv, plaintext, sealed.subarray(SIV_BYTES));
  keys.fill(0);
  plaintext.fill(0);
  return sealed;
}

/**
 * Opens a sealed label (format 2). Everything that is not a seal of this tag fails with
 * `bad_field`: too short, any flipped bit (the IV no longer matches), another tag's seal,
 * a malformed or non-minimal length, a user id that is not UTF-8.
 */
export function openLabel(tag: Uint8Array, sealed: Uint8Array): Label {
  if (sealed.length < SEALED_LABEL_OVERHEAD_BYTES) throw new ProtocolError('bad_field', 'sealed label too short');
  const keys = sealKeysOf(tag);
  const siv = sealed.subarray(0, SIV_BYTES);
  const plaintext = chacha20(keys.subarray(0, 32), siv, sealed.subarray(SIV_BYTES));
  const expected = hmacSha256(keys.subarray(32, 64), plaintext);
  keys.fill(0);
  let diff = 0;
  for (let i = 0; i < SIV_BYTES; i++) diff |= expected[i] ^ siv[i];
  if (diff !== 0) throw new ProtocolError('bad_field', 'sealed label does not open under this identifier');
  // Authentic from here on: only the directory's own sealer could have made a bad length.
  const length = readVarint(plaintext, 0, plaintext.length, 3);
  if (length === undefined || length[0] > MAX_USER_ID_BYTES || length[1] + length[0] > plaintext.length) throw new ProtocolError('bad_field', 'sealed label is malformed');
  const [n, at] = length;
  let userId: string;
  try {
    userId = textDecoder.decode(plaintext.subarray(at, at + n));
  } catch {
    throw new ProtocolError('bad_field', 'sealed label user id is not UTF-8');
  }
  return { userId, label: plaintext.slice(at + n) };
}
