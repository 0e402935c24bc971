/**
 * The user ids and identifiers a streaming import has accepted so far, as 32-bit
 * fingerprints in one open-addressing table of typed arrays (8 bytes a slot, at most 3/4
 * full: about 11 bytes per entry, 256 MiB at 24 million entries, where a Set of the
 * strings would take gigabytes). A fingerprint hit is only a candidate: the caller confirms
 * it against the stage file (`confirm`), so two strings that share a fingerprint are never
 * taken for a duplicate. A miss, the common case, costs no database lookup at all.
 */

/** Which list an entry belongs to (fingerprinted with different seeds). */
export type SeenKind = 'user' | 'identifier';

const EMPTY = 0;
const MIN_CAPACITY = 1 << 16;

/** MurmurHash3's 32-bit body and finalizer over UTF-16 code units. */
function fingerprint(s: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < s.length; i++) {
    let k = Math.imul(s.charCodeAt(i), 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= s.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h === EMPTY ? 1 : h; // 0 marks an empty slot
}

const SEED: Record<SeenKind, number> = { user: 0x9747b28c, identifier: 0x5bd1e995 };

export class SeenTable {
  #fps: Int32Array;
  /** The row of each entry: > 0 for an identifier, < 0 (negated) for a user id. */
  #rows: Int32Array;
  #size = 0;
  #mask: number;

  constructor(capacity = MIN_CAPACITY) {
    let c = MIN_CAPACITY;
    while (c < capacity) c *= 2;
    this.#fps = new Int32Array(c);
    this.#rows = new Int32Array(c);
    this.#mask = c - 1;
  }

  get size(): number {
    return this.#size;
  }

  /**
   * The row of the earlier entry equal to `value`, or undefined. `confirm(row)` says whether
   * the entry of that row really is `value` (asked only on a fingerprint hit).
   */
  find(kind: SeenKind, value: string, confirm: (row: number) => boolean): number | undefined {
    const fp = fingerprint(value, SEED[kind]);
    const sign = kind === 'user' ? -1 : 1;
    for (let slot = fp & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const f = this.#fps[slot];
      if (f === EMPTY) return undefined;
      if (f === fp) {
        const r = this.#rows[slot];
        if (Math.sign(r) === sign && confirm(Math.abs(r))) return Math.abs(r);
      }
    }
  }

  add(kind: SeenKind, value: string, row: number): void {
    if (!Number.isSafeInteger(row) || row < 1 || row > 0x7fffffff) throw new RangeError('row out of range');
    if ((this.#size + 1) * 4 > this.#fps.length * 3) this.#grow();
    this.#insert(fingerprint(value, SEED[kind]), kind === 'user' ? -row : row);
    this.#size++;
  }

  #insert(fp: number, row: number): void {
    let slot = fp & this.#mask;
    while (this.#fps[slot] !== EMPTY) slot = (slot + 1) & this.#mask;
    this.#fps[slot] = fp;
    this.#rows[slot] = row;
  }

  #grow(): void {
    const fps = this.#fps;
    const rows = this.#rows;
    this.#fps = new Int32Array(fps.length * 2);
    this.#rows = new Int32Array(fps.length * 2);
    this.#mask = this.#fps.length - 1;
    for (let i = 0; i < fps.length; i++) if (fps[i] !== EMPTY) this.#insert(fps[i], rows[i]);
  }
}
