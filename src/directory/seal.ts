/**
 * Sealing labels at rest: precompute stores, next to each tag's lookup key, the label sealed
 * exactly as the discovery protocol sends it (protocol/discovery/labels.ts), so a lookup
 * returns stored bytes. The seal key is derived from the tag, i.e. from the OPRF key: the
 * table of (lookup key, sealed label) alone reveals nothing without that key (the tag
 * column does open it, as the operator's plain users table would anyway).
 *
 * Precompute seals one label per tag, so this is on the hot path: the same bytes as
 * `sealLabel` are made here with Node's native SHA-512, HMAC-SHA-256 and ChaCha20 (seal-native.ts),
 * falling back to `sealLabel` itself where the native cipher is missing. With a worker pool
 * precompute seals on the workers (seal-batch.ts). test/directory-seal.test.ts checks both
 * give identical bytes.
 */
import { randomBytes } from 'node:crypto';
import { lookupKeyOf, sealLabel } from '../protocol/discovery/labels.js';
import { LOOKUP_KEY_BYTES, MAX_USER_ID_BYTES, nativeSealer, NONCE_BYTES, sealedLength } from './seal-native.js';

export { NONCE_BYTES } from './seal-native.js';

/** What a seal covers: the user id and label, sealed under the tag. */
export interface LabelToSeal {
  readonly userId: string;
  readonly label: Uint8Array;
}

export interface SealInput extends LabelToSeal {
  readonly tag: Uint8Array;
}

/** A sealed label and the lookup key it is stored under (both derived from the tag). */
export interface SealedLabel {
  readonly lookupKey: Uint8Array;
  readonly sealed: Uint8Array;
}

const utf8 = new TextEncoder(); // as sealLabel's ascii(): TextEncoder, UTF-8

/**
 * Seals a batch. Label format 2 is deterministic (a synthetic IV, labels.ts): the same tag,
 * user id and label always seal to the same bytes, and a re-seal of a changed label gets
 * another IV; the nonces handed around here are not used by it.
 */
export function sealLabels(entries: readonly SealInput[]): Uint8Array[] {
  return sealLabelsWith(entries, randomNonces(entries.length)).map((s) => s.sealed);
}

/** sealLabels with its lookup keys, which precompute stores beside each seal. */
export function sealWithLookupKeys(entries: readonly SealInput[]): SealedLabel[] {
  return sealLabelsWith(entries, randomNonces(entries.length));
}

/** Fresh random nonces for `count` seals, packed. */
export const randomNonces = (count: number): Uint8Array => new Uint8Array(randomBytes(NONCE_BYTES * count));

/**
 * Byte-identical to `sealLabel(tag, entry)` and `lookupKeyOf(tag)`, errors included. `nonces`
 * (24 bytes per entry) is checked and not used: label format 2 needs none.
 */
export function sealLabelsWith(entries: readonly SealInput[], nonces: Uint8Array): SealedLabel[] {
  checkNonces(entries.length, nonces);
  const native = nativeSealer();
  return entries.map((e, i) => {
    const userId = utf8.encode(e.userId);
    // Without the native cipher, or for a user id sealLabel refuses (it throws its own error).
    if (native === null || userId.length > MAX_USER_ID_BYTES) return { lookupKey: lookupKeyOf(e.tag), sealed: sealLabel(e.tag, e) };
    const sealed = new Uint8Array(sealedLength(userId.length, e.label.length));
    const lookupKey = new Uint8Array(LOOKUP_KEY_BYTES);
    native(e.tag, userId, e.label, sealed, 0, lookupKey, 0);
    return { lookupKey, sealed };
  });
}

/** Throws unless `nonces` holds exactly 24 bytes per entry. */
export function checkNonces(count: number, nonces: Uint8Array): void {
  if (!(nonces instanceof Uint8Array) || nonces.length !== NONCE_BYTES * count) {
    throw new RangeError(`expected ${NONCE_BYTES * count} nonce bytes for ${count} labels`);
  }
}
