/**
 * The server's side of session PSI before any client arrives: a fresh key for this
 * session and k*H(y) for every server item. This is the expensive part (one hash to the
 * group and one scalar multiplication per item); it is a plain function of its inputs so
 * it can run in a worker pool and be reused for one session only.
 */
import type { Rng } from '../group/types.js';
import type { KeyPair, OprfSuite } from '../oprf/suite.js';

export interface PreparedServerSet {
  readonly suite: OprfSuite;
  readonly keys: KeyPair;
  readonly items: readonly Uint8Array[];
  /** Packed k*H(y_i), same order as items. */
  readonly elements: Uint8Array;
  /** F(k, y_i) = suite.finalizeUnblinded(y_i, elements_i), when computed with them (on a pool): the intersection tags. */
  readonly outputs?: readonly Uint8Array[];
}

/**
 * Distinct items only (the first of each, in order): duplicates would leak through the
 * encoding's count. An open-addressing table of indices keyed by a 32-bit hash of the
 * bytes, no string per item (a string key per item was ~4 µs per element on the setup's
 * serial path, before the pool starts). The items may come from anyone, so the hash is not
 * trusted: past `probeBudget` probes in all (default 8 per item, far above what random
 * bytes need) the work goes to the string set instead, whose hashing V8 seeds per process.
 */
export function distinctItems(items: readonly Uint8Array[], probeBudget = 8 * items.length + 64): Uint8Array[] {
  return new DistinctItems(items, probeBudget).take(items.length);
}

/**
 * distinctItems in pieces, so that a pool can start on the first distinct items while the
 * rest are still being sorted out: take(end) returns the first occurrences among the items
 * not taken yet up to `end`, in order; the pieces joined are distinctItems(items).
 */
export class DistinctItems {
  readonly #items: readonly Uint8Array[];
  readonly #budget: number;
  readonly #mask: number;
  readonly #slots: Int32Array; // index into #out, -1 when free
  readonly #hashes: Int32Array;
  readonly #out: Uint8Array[] = [];
  #probes = 0;
  #next = 0;
  /** The string set, once the probe budget is spent (then for every item after). */
  #seen: Set<string> | undefined;
  #stringsFrom: number | undefined;

  constructor(items: readonly Uint8Array[], probeBudget = 8 * items.length + 64) {
    this.#items = items;
    this.#budget = probeBudget;
    let size = 16;
    while (size < 2 * items.length) size *= 2;
    this.#mask = size - 1;
    this.#slots = new Int32Array(size).fill(-1);
    this.#hashes = new Int32Array(size);
  }

  /** Distinct items found when the probe budget ran out (strings from there on), or undefined. */
  get stringsFrom(): number | undefined {
    return this.#stringsFrom;
  }

  /** Items taken so far. */
  get taken(): number {
    return this.#next;
  }

  /** Every distinct item taken so far, in order (the array itself: later takes extend it). */
  get distinct(): readonly Uint8Array[] {
    return this.#out;
  }

  take(end: number): Uint8Array[] {
    const first = this.#out.length;
    const stop = Math.min(end, this.#items.length);
    this.#next = this.#seen === undefined ? this.#takeHashed(stop) : this.#next;
    if (this.#next < stop) this.#takeStrings(stop);
    return this.#out.slice(first);
  }

  /**
   * The table path over items [#next, stop), with the state in locals (this loop is most of
   * the setup's serial work); returns where it stopped: `stop`, or the item at which the
   * probe budget ran out (not added).
   */
  #takeHashed(stop: number): number {
    const items = this.#items;
    const slots = this.#slots;
    const hashes = this.#hashes;
    const mask = this.#mask;
    const budget = this.#budget;
    const out = this.#out;
    let probes = this.#probes;
    let i = this.#next;
    try {
      for (; i < stop; i++) {
        const item = items[i];
        const h = hashBytes(item);
        let at = h & mask;
        for (;;) {
          const s = slots[at];
          if (s < 0) {
            slots[at] = out.length;
            hashes[at] = h;
            out.push(item);
            break;
          }
          if (hashes[at] === h && sameBytes(out[s], item)) break;
          if (++probes > budget) return i;
          at = (at + 1) & mask;
        }
      }
      return i;
    } finally {
      this.#probes = probes;
    }
  }

  /** The string path, from the first item the table could not take (budget spent) to `stop`. */
  #takeStrings(stop: number): void {
    const out = this.#out;
    if (this.#seen === undefined) {
      this.#seen = new Set(out.map(bytesKey)); // budget spent: strings from here on
      this.#stringsFrom = out.length;
    }
    const seen = this.#seen;
    for (; this.#next < stop; this.#next++) {
      const item = this.#items[this.#next];
      const key = bytesKey(item);
      if (!seen.has(key)) {
        seen.add(key);
        out.push(item);
      }
    }
  }
}

/** A 32-bit hash of the bytes (multiply-xor over 32-bit words, then MurmurHash3's finalizer). */
function hashBytes(b: Uint8Array): number {
  let h = b.length;
  let i = 0;
  for (; i + 4 <= b.length; i += 4) h = (Math.imul(h ^ (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)), 0x9e3779b1) + 0x7f4a7c15) | 0;
  for (; i < b.length; i++) h = Math.imul(h ^ b[i], 0x9e3779b1) | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function bytesKey(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

export function prepareServerSet(suite: OprfSuite, items: readonly Uint8Array[], rng: Rng, keys?: KeyPair): PreparedServerSet {
  const distinct = distinctItems(items);
  const keyPair = keys ?? suite.generateKeyPair(rng);
  const k = suite.group.scalar.check(keyPair.secretKey); // stays bytes: no BigInt of the key
  const { group } = suite;
  // k*H(y) for every item; fused where the backend can (no encode/decode of H(y) between).
  const elements = group.hashToGroupMultiply
    ? group.hashToGroupMultiply(k, distinct, suite.hashToGroupDST)
    : group.multiplyPacked(k, group.hashToGroupBatch(distinct, suite.hashToGroupDST));
  return { suite, keys: keyPair, items: distinct, elements };
}
