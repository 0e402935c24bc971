/**
 * A cached snapshot kept fresh by deltas: the base encoding (as downloaded, digest-checked)
 * plus the net tag changes since, as sets of 8-byte tag prefixes. Membership is
 * `prefix ∈ added || (base.contains(tag) && prefix ∉ removed)`, which equals membership in
 * a fresh snapshot (test/discovery-delta.test.ts) up to the filters' false positives.
 */
import type { SetEncoding } from '../../setenc/index.js';
import { DELTA_PREFIX_BYTES } from './messages.js';

const key = (bytes: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < DELTA_PREFIX_BYTES; i++) s += String.fromCharCode(bytes[i]);
  return s;
};

export function unpackPrefixes(packed: Uint8Array): Set<string> {
  const out = new Set<string>();
  for (let off = 0; off < packed.length; off += DELTA_PREFIX_BYTES) out.add(key(packed.subarray(off, off + DELTA_PREFIX_BYTES)));
  return out;
}

export function packPrefixes(set: Set<string>): Uint8Array {
  const sorted = [...set].sort();
  const out = new Uint8Array(sorted.length * DELTA_PREFIX_BYTES);
  sorted.forEach((k, i) => {
    for (let j = 0; j < DELTA_PREFIX_BYTES; j++) out[i * DELTA_PREFIX_BYTES + j] = k.charCodeAt(j);
  });
  return out;
}

export class DeltaView {
  readonly added: Set<string>;
  readonly removed: Set<string>;

  constructor(
    readonly base: SetEncoding,
    added: Uint8Array = new Uint8Array(0),
    removed: Uint8Array = new Uint8Array(0),
  ) {
    this.added = unpackPrefixes(added);
    this.removed = unpackPrefixes(removed);
  }

  /** Apply the net change of one more delta (later changes win). */
  apply(added: Uint8Array, removed: Uint8Array): void {
    for (const k of unpackPrefixes(removed)) {
      this.added.delete(k);
      this.removed.add(k);
    }
    for (const k of unpackPrefixes(added)) {
      this.removed.delete(k);
      this.added.add(k);
    }
  }

  contains(tag: Uint8Array): boolean {
    const k = key(tag);
    return this.added.has(k) || (!this.removed.has(k) && this.base.contains(tag));
  }
}
