/**
 * A cached snapshot kept fresh by deltas: the base encoding (as downloaded, digest-checked)
 * plus the net tag changes since, as sets of 8-byte tag prefixes. Membership is
 * `prefix ∈ added || (base.contains(tag) && prefix ∉ removed)`, which equals membership in
 * a fresh snapshot (test/discovery-delta.test.ts) up to the filters' false positives.
 *
 * The prefix sets are sorted arrays of 64-bit big-endian values (8 bytes per prefix, binary
 * search), not JS sets of strings: a set that a server made large costs its packed size,
 * not ~60 bytes of heap per entry. Deltas from the wire must be sorted, strictly ascending
 * and disjoint (spec/discovery.md §6); anything else is refused with `bad_field`.
 */
import type { SetEncoding } from '../../setenc/index.js';
import { ProtocolError } from '../errors.js';
import { DELTA_PREFIX_BYTES } from './messages.js';

const prefixOf = (bytes: Uint8Array, off = 0): bigint => new DataView(bytes.buffer, bytes.byteOffset + off, DELTA_PREFIX_BYTES).getBigUint64(0, false);

/**
 * The sorted prefixes of a packed list (8 bytes each, as on the wire). Throws `bad_field`
 * unless they are strictly ascending: a delta is a set, sent sorted, and a repeated or
 * unsorted prefix is a server that does not follow the protocol.
 */
export function sortedPrefixes(packed: Uint8Array, what: string): BigUint64Array {
  if (packed.length % DELTA_PREFIX_BYTES !== 0) throw new ProtocolError('bad_field', `${what} is not a list of ${DELTA_PREFIX_BYTES}-byte prefixes`);
  const out = new BigUint64Array(packed.length / DELTA_PREFIX_BYTES);
  for (let i = 0; i < out.length; i++) {
    out[i] = prefixOf(packed, i * DELTA_PREFIX_BYTES);
    if (i > 0 && out[i] <= out[i - 1]) throw new ProtocolError('bad_field', `${what} prefixes are not sorted and distinct (at ${i})`);
  }
  return out;
}

export function packSorted(values: BigUint64Array): Uint8Array {
  const out = new Uint8Array(values.length * DELTA_PREFIX_BYTES);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setBigUint64(i * DELTA_PREFIX_BYTES, values[i], false);
  return out;
}

function has(sorted: BigUint64Array, v: bigint): boolean {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo < sorted.length && sorted[lo] === v;
}

/** Sorted a ∪ b. */
function union(a: BigUint64Array, b: BigUint64Array): BigUint64Array {
  const out = new BigUint64Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i] < b[j])) out[n++] = a[i++];
    else if (i >= a.length || b[j] < a[i]) out[n++] = b[j++];
    else {
      out[n++] = a[i++];
      j++;
    }
  }
  return out.slice(0, n);
}

/** Sorted a \ b. */
function minus(a: BigUint64Array, b: BigUint64Array): BigUint64Array {
  const out = new BigUint64Array(a.length);
  let n = 0;
  let j = 0;
  for (let i = 0; i < a.length; i++) {
    while (j < b.length && b[j] < a[i]) j++;
    if (j >= b.length || b[j] !== a[i]) out[n++] = a[i];
  }
  return out.slice(0, n);
}

/** |a ∩ b| of two sorted arrays. */
function intersectionSize(a: BigUint64Array, b: BigUint64Array): number {
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < a.length && j < b.length) {
    if (a[i] < b[j]) i++;
    else if (b[j] < a[i]) j++;
    else {
      n++;
      i++;
      j++;
    }
  }
  return n;
}

/** One delta from the wire, checked: sorted, distinct, and nothing both added and removed. */
export interface CheckedDelta {
  added: BigUint64Array;
  removed: BigUint64Array;
}

export function checkDelta(added: Uint8Array, removed: Uint8Array): CheckedDelta {
  const a = sortedPrefixes(added, 'dir.delta added');
  const r = sortedPrefixes(removed, 'dir.delta removed');
  // A net change never both adds and removes one tag (spec/discovery.md §6).
  if (intersectionSize(a, r) !== 0) throw new ProtocolError('bad_field', 'dir.delta adds and removes the same prefix');
  return { added: a, removed: r };
}

export class DeltaView {
  added: BigUint64Array;
  removed: BigUint64Array;

  /** `added`/`removed`: the packed sets of a cache (sorted, as this class writes them). */
  constructor(
    readonly base: SetEncoding,
    added: Uint8Array = new Uint8Array(0),
    removed: Uint8Array = new Uint8Array(0),
  ) {
    this.added = sortedPrefixes(added, 'cached added');
    this.removed = sortedPrefixes(removed, 'cached removed');
  }

  /** Prefixes held (added + removed): what the cap on accumulated sets counts. */
  get size(): number {
    return this.added.length + this.removed.length;
  }

  /** Apply the net change of one more delta (later changes win). */
  apply(delta: CheckedDelta): void {
    this.added = union(minus(this.added, delta.removed), delta.added);
    this.removed = union(minus(this.removed, delta.added), delta.removed);
  }

  contains(tag: Uint8Array): boolean {
    const k = prefixOf(tag);
    return has(this.added, k) || (!has(this.removed, k) && this.base.contains(tag));
  }
}
