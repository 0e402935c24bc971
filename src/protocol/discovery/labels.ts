/**
 * Labels are what a match reveals (a user id and, say, a public key). They are sealed with
 * an AEAD whose key is derived from the OPRF output of the identifier, so only a party that
 * knows the identifier (and got it evaluated) can open one, and a stolen label table
 * reveals nothing without the OPRF key. The lookup key that names a label is derived from
 * the same output under another label, so neither can be computed from the other, and
 * neither from the snapshot (which holds only truncated tags or fingerprints).
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { ProtocolError } from '../errors.js';
import { ascii, concat, i2osp } from '../../oprf/encoding.js';

export const LOOKUP_KEY_BYTES = 16;
/** Domain labels of the lookup key and the seal key (exported for the native sealer, src/directory/seal-native.ts). */
export const LOOKUP_LABEL = ascii('contact-psi-v1-lookup');
export const SEAL_KEY_LABEL = ascii('contact-psi-v1-label-key');
export const NONCE_BYTES = 24;
/** The longest user id a label carries: its length travels in 2 bytes. */
export const MAX_USER_ID_BYTES = 0xffff;
/** Poly1305 tag that ends every seal. */
export const AEAD_TAG_BYTES = 16;
/** What sealing adds to the user id and label: nonce (24) + user id length (2) + AEAD tag (16). */
export const SEALED_LABEL_OVERHEAD_BYTES = NONCE_BYTES + 2 + AEAD_TAG_BYTES;
/**
 * The largest sealed label a client accepts (one item of `dir.labels`, the default
 * `maxLabelBytes`), and so the largest one a directory may store or a server may send:
 * one limit end to end, or a label at the directory's limit would fail every sync of a book
 * holding that user.
 */
export const MAX_SEALED_LABEL_BYTES = 4096;
/** The most UTF-8 bytes of user id plus label one sealed label can carry: 4,096 - 42 = 4,054. */
export const MAX_LABEL_PLAINTEXT_BYTES = MAX_SEALED_LABEL_BYTES - SEALED_LABEL_OVERHEAD_BYTES;

/** Bytes of one seal of a user id of `userIdBytes` UTF-8 bytes and a label of `labelBytes`. */
export const sealedLabelBytes = (userIdBytes: number, labelBytes: number): number => SEALED_LABEL_OVERHEAD_BYTES + userIdBytes + labelBytes;
const textDecoder = new TextDecoder('utf-8', { fatal: true });

export const lookupKeyOf = (tag: Uint8Array): Uint8Array => sha512(concat(LOOKUP_LABEL, tag)).subarray(0, LOOKUP_KEY_BYTES);
const sealKeyOf = (tag: Uint8Array): Uint8Array => sha512(concat(SEAL_KEY_LABEL, tag)).subarray(0, 32);

export interface Label {
  userId: string;
  label: Uint8Array;
}

/** nonce(24) || XChaCha20-Poly1305(key(tag), nonce, len(userId) || userId || label, ad = lookup key). */
export function sealLabel(tag: Uint8Array, entry: Label, nonce: Uint8Array): Uint8Array {
  if (nonce.length !== NONCE_BYTES) throw new ProtocolError('internal', 'nonce must be 24 bytes');
  const userId = ascii(entry.userId);
  if (userId.length > MAX_USER_ID_BYTES) throw new ProtocolError('bad_field', 'user id too long');
  const plaintext = concat(i2osp(userId.length, 2), userId, entry.label);
  const sealed = xchacha20poly1305(sealKeyOf(tag), nonce, lookupKeyOf(tag)).encrypt(plaintext);
  return concat(nonce, sealed);
}

/** Opens a sealed label; a forged or mismatched one fails with `bad_label`. */
export function openLabel(tag: Uint8Array, sealed: Uint8Array): Label {
  if (sealed.length < SEALED_LABEL_OVERHEAD_BYTES) throw new ProtocolError('bad_field', 'sealed label too short');
  let plaintext: Uint8Array;
  try {
    plaintext = xchacha20poly1305(sealKeyOf(tag), sealed.subarray(0, NONCE_BYTES), lookupKeyOf(tag)).decrypt(sealed.subarray(NONCE_BYTES));
  } catch {
    throw new ProtocolError('bad_field', 'sealed label does not open under this identifier');
  }
  const length = (plaintext[0] << 8) | plaintext[1];
  if (2 + length > plaintext.length) throw new ProtocolError('bad_field', 'sealed label is malformed');
  let userId: string;
  try {
    userId = textDecoder.decode(plaintext.subarray(2, 2 + length));
  } catch {
    throw new ProtocolError('bad_field', 'sealed label user id is not UTF-8');
  }
  return { userId, label: plaintext.slice(2 + length) };
}
