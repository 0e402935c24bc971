/**
 * `sealLabel` and `lookupKeyOf` (protocol/discovery/labels.ts) on Node's native crypto, for
 * precompute, which seals one label per tag. XChaCha20-Poly1305 is HChaCha20 (a single
 * ChaCha block, noble's `hchacha`) giving a subkey, then the IETF ChaCha20-Poly1305 AEAD
 * (OpenSSL) under that subkey with the nonce 0^4 || nonce[16..24) (draft-irtf-cfrg-xchacha
 * §2.3): the same bytes as noble's xchacha20poly1305, under labels.ts's domain labels;
 * test/directory-seal.test.ts compares the two implementations byte for byte.
 */
import { createCipheriv, createHash, getCiphers, hash } from 'node:crypto';
import { hchacha } from '@noble/ciphers/chacha.js';
import { ascii } from '../oprf/encoding.js';
import { AEAD_TAG_BYTES, LOOKUP_KEY_BYTES, LOOKUP_LABEL, MAX_USER_ID_BYTES, NONCE_BYTES, SEAL_KEY_LABEL, sealedLabelBytes } from '../protocol/discovery/labels.js';

export { LOOKUP_KEY_BYTES, MAX_USER_ID_BYTES, NONCE_BYTES };
/** "expand 32-byte k" as the byte string ChaCha reads it (hchacha takes native-order word views). */
const SIGMA = ascii('expand 32-byte k');

/** Bytes of one seal: nonce || XChaCha20-Poly1305(len(userId) || userId || label). */
export const sealedLength = sealedLabelBytes;

/**
 * Seals len(userId) || userId || label (userId already UTF-8, at most MAX_USER_ID_BYTES)
 * under `tag` with a 24-byte nonce: writes the seal to `out` at `outAt` (sealedLength bytes)
 * and the lookup key to `keyOut` at `keyAt`.
 */
export type SealInto = (
  tag: Uint8Array,
  userId: Uint8Array,
  label: Uint8Array,
  nonce: Uint8Array,
  out: Uint8Array,
  outAt: number,
  keyOut: Uint8Array,
  keyAt: number,
) => void;

/** One-shot SHA-512 (crypto.hash, Node >= 20.12) avoids a Hash object per call; createHash otherwise. */
const sha512: (data: Uint8Array) => Uint8Array =
  typeof hash === 'function' ? (data) => hash('sha512', data, 'buffer') : (data) => createHash('sha512').update(data).digest();

let cached: SealInto | null | undefined;

/** The native sealer, or null when this Node has no chacha20-poly1305 (e.g. some FIPS builds): use sealLabel then. */
export function nativeSealer(): SealInto | null {
  if (cached === undefined) cached = getCiphers().includes('chacha20-poly1305') ? makeSealer() : null;
  return cached;
}

function makeSealer(): SealInto {
  // Scratch for the hash inputs (label || tag), grown for longer tags; hchacha word views
  // over aligned copies (its arguments are Uint32Arrays over the bytes, in native order).
  let lookupInput = new Uint8Array(0);
  let sealInput = new Uint8Array(0);
  const sigma = new Uint32Array(SIGMA.buffer.slice(SIGMA.byteOffset, SIGMA.byteOffset + 16));
  const key = new Uint32Array(8);
  const keyBytes = new Uint8Array(key.buffer);
  const prefix = new Uint32Array(4);
  const prefixBytes = new Uint8Array(prefix.buffer);
  const subkey = new Uint32Array(8);
  const subkeyBytes = new Uint8Array(subkey.buffer);
  const iv = new Uint8Array(12);

  return (tag, userId, label, nonce, out, outAt, keyOut, keyAt) => {
    if (lookupInput.length !== LOOKUP_LABEL.length + tag.length) {
      lookupInput = new Uint8Array(LOOKUP_LABEL.length + tag.length);
      sealInput = new Uint8Array(SEAL_KEY_LABEL.length + tag.length);
      lookupInput.set(LOOKUP_LABEL);
      sealInput.set(SEAL_KEY_LABEL);
    }
    lookupInput.set(tag, LOOKUP_LABEL.length);
    sealInput.set(tag, SEAL_KEY_LABEL.length);
    const lookupKey = sha512(lookupInput).subarray(0, LOOKUP_KEY_BYTES);
    keyOut.set(lookupKey, keyAt);
    const sealKey = sha512(sealInput);
    keyBytes.set(sealKey.subarray(0, 32));
    sealKey.fill(0);
    prefixBytes.set(nonce.subarray(0, 16));
    hchacha(sigma, key, prefix, subkey);
    iv.set(nonce.subarray(16, 24), 4); // iv[0..4) stays zero
    // len(userId) || userId || label, as sealLabel frames it.
    const plaintext = new Uint8Array(2 + userId.length + label.length);
    plaintext[0] = userId.length >>> 8;
    plaintext[1] = userId.length & 0xff;
    plaintext.set(userId, 2);
    plaintext.set(label, 2 + userId.length);
    const cipher = createCipheriv('chacha20-poly1305', subkeyBytes, iv, { authTagLength: AEAD_TAG_BYTES });
    cipher.setAAD(lookupKey, { plaintextLength: plaintext.length });
    out.set(nonce, outAt);
    let at = outAt + NONCE_BYTES;
    const body = cipher.update(plaintext);
    out.set(body, at);
    at += body.length;
    const rest = cipher.final();
    out.set(rest, at);
    at += rest.length;
    out.set(cipher.getAuthTag(), at);
    // The key material is derived from the tag: leave none of it in the scratch buffers.
    keyBytes.fill(0);
    subkeyBytes.fill(0);
    plaintext.fill(0);
    sealInput.fill(0, SEAL_KEY_LABEL.length);
    lookupInput.fill(0, LOOKUP_LABEL.length);
  };
}
