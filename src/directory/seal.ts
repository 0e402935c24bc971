/**
 * Sealing labels at rest: precompute stores, next to each tag's lookup key, the label sealed
 * exactly as the discovery protocol sends it (protocol/discovery/labels.ts), so a lookup
 * returns stored bytes. The seal key is derived from the tag, i.e. from the OPRF key: the
 * table of (lookup key, sealed label) alone reveals nothing without that key (the tag
 * column does open it, as the operator's plain users table would anyway).
 */
import { randomBytes } from 'node:crypto';
import { sealLabel } from '../protocol/discovery/labels.js';

const NONCE_BYTES = 24;

/**
 * Seals a batch, one fresh random nonce each. XChaCha20's 192-bit nonces make random nonces
 * safe: a re-seal (label change) under the same tag never repeats one in practice.
 */
export function sealLabels(entries: readonly { tag: Uint8Array; userId: string; label: Uint8Array }[]): Uint8Array[] {
  const nonces = randomBytes(NONCE_BYTES * entries.length);
  return entries.map((e, i) =>
    sealLabel(e.tag, { userId: e.userId, label: e.label }, new Uint8Array(nonces.buffer, nonces.byteOffset + i * NONCE_BYTES, NONCE_BYTES)),
  );
}
