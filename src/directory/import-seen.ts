/**
 * The user ids and identifiers a streaming import has accepted so far, as 32-bit
 * fingerprints in one open-addressing table of typed arrays (8 bytes a slot, at most 3/4
 * full: about 11 bytes per entry, 256 MiB at 24 million entries, where a Set of the
 * strings would take gigabytes). A fingerprint hit is only a candidate: the caller confirms
 * it against the stage file (`confirm`), so two strings that share a fingerprint are never
 * taken for a duplicate. A miss, the common case, costs no database lookup at all.
 */
import { hash, randomBytes } from 'node:crypto';

/** Which list an entry belongs to (fingerprinted under different domain labels). */
export type SeenKind = 'user' | 'identifier';

const EMPTY = 0;
const MIN_CAPACITY = 1 << 16;
/** Fingerprints kept between `find` and `add`: one row's user id and identifiers (at most 64). */
const RECENT_MAX = 80;

/**
 * The fingerprint is keyed with a random key of this table (red team, wave 3): with a public
 * hash (it was MurmurHash3 with fixed seeds, whose collisions are cheap to build whatever
 * the seed) a directory file crafted with many identifiers of one fingerprint made every
 * lookup confirm against every earlier one: 800 e-mail addresses cost 319,600 stage
 * queries, quadratic. Under an unknown key, collisions are as rare as for random strings.
 * SHA-256 of key || kind || value, first 4 bytes (~0.8 µs a value; staging spends ~27 µs of
 * main-thread CPU per identifier besides).
 */
function keyedFingerprint(key: string, kind: SeenKind, value: string): number {
  // The digest as a 'binary' (latin1) string (one char per byte, on the JS heap): a 'buffer' digest
  // is a Buffer with a backing store of its own, whose allocation, registry and sweep cost
  // more than the hash itself (2.0 vs 0.8 µs a value, about 2.4 values per user).
  const d = hash('sha256', `${key}${kind}\u0000${value}`, 'binary');
  const h = (d.charCodeAt(0) << 24) | (d.charCodeAt(1) << 16) | (d.charCodeAt(2) << 8) | d.charCodeAt(3); // the first 4 bytes, big-endian
  return h === EMPTY ? 1 : h; // 0 marks an empty slot
}

export class SeenTable {
  /** Never stored: the table is rebuilt from the stage (with a new key) when a run resumes. */
  readonly #key = randomBytes(16).toString('hex');
  /**
   * The fingerprints the latest `find`s computed, until `add` takes them: the import checks
   * a row (a find of its user id, then of each identifier) and accepts it (an add of each)
   * right after, so without this every accepted value was hashed twice. A few entries
   * searched by identity, not a Map: the Map's get/set/delete per value cost about as much
   * as the hash. Emptied at each find of a user id (the next row's checks) and bounded.
   */
  #recentValues: string[] = [];
  #recentKinds: SeenKind[] = [];
  #recentFps: number[] = [];
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
    const fp = this.#fingerprint(kind, value);
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
    this.#insert(this.#recentFingerprint(kind, value) ?? keyedFingerprint(this.#key, kind, value), kind === 'user' ? -row : row);
    this.#size++;
  }

  #fingerprint(kind: SeenKind, value: string): number {
    if (kind === 'user' || this.#recentFps.length >= RECENT_MAX) {
      this.#recentValues.length = 0;
      this.#recentKinds.length = 0;
      this.#recentFps.length = 0;
    }
    const fp = keyedFingerprint(this.#key, kind, value);
    this.#recentValues.push(value);
    this.#recentKinds.push(kind);
    this.#recentFps.push(fp);
    return fp;
  }

  #recentFingerprint(kind: SeenKind, value: string): number | undefined {
    const values = this.#recentValues;
    for (let i = values.length - 1; i >= 0; i--) if (values[i] === value && this.#recentKinds[i] === kind) return this.#recentFps[i];
    return undefined;
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
