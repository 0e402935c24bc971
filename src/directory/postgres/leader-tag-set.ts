/**
 * The fleet leader's copy of the current epoch's tag set (16-byte prefixes, sorted, packed:
 * what a snapshot is encoded from), moved from version to version by the tag log instead of
 * read again: reading 137,000 prefixes back from PostgreSQL costs 0.3 to 1.5 s on a loaded
 * machine (ten times that at 1M users), applying a small change to the copy under a
 * millisecond. The move is checked: every removed prefix must be there, every added one
 * absent; anything else (a trimmed log, rows logged before schema 4 without a snapshot
 * prefix, another epoch) reads the whole set again. That the moved count equals the table's
 * (a tag written without its log row: a bug, or a hand edit) is checked beside the change,
 * not on its path (verify(), started by the leader as it encodes): counting scans every tag,
 * 170 ms of PostgreSQL at 1M users; a copy found wrong is dropped, and the next change reads
 * the set whole.
 */
import type { FleetTrace } from './fleet-node.js';
import type { PostgresStore, TagLogPrefix } from './store.js';

export interface PackedTags {
  readonly version: number;
  /** Sorted, `tagLength` bytes each; tagLength 0 when there are none (as readTagSet). */
  readonly packed: Uint8Array;
  readonly tagLength: number;
  readonly count: number;
}

const compareBytes = (a: Uint8Array, b: Uint8Array): number => Buffer.compare(a, b);

// latin1 maps each byte to one UTF-16 unit of the same value, so string order = byte order.
const keyOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');

/** The net change of log rows in log order (as tag-delta.ts netTagDelta, at any width): sorted, packed. */
export function netPrefixes(rows: readonly TagLogPrefix[], width: number): { added: Uint8Array; removed: Uint8Array } {
  const seen = new Map<string, { first: TagLogPrefix['op']; last: TagLogPrefix['op'] }>();
  for (const row of rows) {
    const key = keyOf(row.prefix);
    const entry = seen.get(key);
    if (entry === undefined) seen.set(key, { first: row.op, last: row.op });
    else entry.last = row.op;
  }
  const added: string[] = [];
  const removed: string[] = [];
  for (const [key, { first, last }] of seen) {
    if (first === 'added' && last === 'added') added.push(key);
    else if (first === 'removed' && last === 'removed') removed.push(key);
  }
  const pack = (keys: string[]) => {
    keys.sort();
    const out = new Uint8Array(keys.length * width);
    keys.forEach((k, i) => out.set(Buffer.from(k, 'latin1'), i * width));
    return out;
  };
  return { added: pack(added), removed: pack(removed) };
}

/**
 * `packed` (sorted, `width` bytes each) without `removed` and with `added` (both sorted,
 * packed); undefined when a removed entry is not there or an added one already is (the copy
 * and the log disagree: read the set again).
 */
export function applyPrefixDelta(packed: Uint8Array, width: number, added: Uint8Array, removed: Uint8Array): Uint8Array | undefined {
  const n = packed.length / width;
  const a = added.length / width;
  const r = removed.length / width;
  const size = n + a - r;
  if (size < 0) return undefined;
  const out = new Uint8Array(size * width);
  const at = (buf: Uint8Array, i: number) => buf.subarray(i * width, (i + 1) * width);
  let i = 0;
  let j = 0;
  let k = 0;
  let o = 0;
  while (i < n) {
    // The next position where something happens: an entry to drop or one to insert before.
    const nextRemoved = k < r ? lowerBound(packed, width, at(removed, k), i) : n;
    const nextAdded = j < a ? lowerBound(packed, width, at(added, j), i) : n;
    const stop = Math.min(nextRemoved, nextAdded);
    // More kept than fits: some removed entry was not there.
    if (o + (stop - i) > size) return undefined;
    out.set(packed.subarray(i * width, stop * width), o * width);
    o += stop - i;
    i = stop;
    if (i === n) break;
    if (nextAdded === i) {
      if (compareBytes(at(added, j), at(packed, i)) === 0 || o >= size) return undefined; // already there
      out.set(at(added, j), o * width);
      o++;
      j++;
      continue;
    }
    if (compareBytes(at(removed, k), at(packed, i)) !== 0) return undefined; // not there
    i++;
    k++;
  }
  if (k < r || o + (a - j) !== size) return undefined; // removed entries past the end: not there
  for (; j < a; j++, o++) out.set(at(added, j), o * width);
  return o * width === out.length ? out : undefined;
}

/** The first index >= from whose entry is >= key. */
function lowerBound(packed: Uint8Array, width: number, key: Uint8Array, from: number): number {
  let lo = from;
  let hi = packed.length / width;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareBytes(packed.subarray(mid * width, (mid + 1) * width), key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class LeaderTagSet {
  #epoch: number | undefined;
  #tags: PackedTags | undefined;
  /** Sets moved by the log, and read whole (for tests and logs). */
  moved = 0;
  read = 0;
  /** Moved copies whose count the table contradicted (each dropped). */
  contradicted = 0;
  #verifying = false;
  /** The moved copy whose count is not checked yet. */
  #unchecked: { epoch: number; version: number; count: number } | undefined;

  constructor(
    private readonly store: PostgresStore,
    private readonly width: number,
    private readonly trace?: FleetTrace,
  ) {}

  /** One move or read at a time: a prefetch and a build never race to keep an older copy. */
  #queue: Promise<unknown> = Promise.resolve();

  /** The epoch's tag set at exactly `version` (complete there); undefined when the directory moved past it. */
  at(epoch: number, version: number): Promise<PackedTags | undefined> {
    const run = this.#queue.then(() => this.#at(epoch, version));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Reads the set in the background if the copy is not of `epoch` (a leader that starts
   * serving a stored snapshot), so that the first change after it moves the copy instead of
   * reading 1M prefixes. Resolves with the set read, or undefined if none was needed or it
   * failed (only a missed head start).
   */
  async prefetch(epoch: number, version: number): Promise<PackedTags | undefined> {
    if (this.#epoch === epoch && this.#tags !== undefined) return undefined;
    return this.at(epoch, version).catch(() => undefined);
  }

  async #at(epoch: number, version: number): Promise<PackedTags | undefined> {
    const held = this.#epoch === epoch ? this.#tags : undefined;
    if (held !== undefined && held.version === version) return held;
    if (held !== undefined && held.version < version) {
      const log = await this.store.tagLogSince(epoch, held.version, version, this.width, { count: false });
      this.trace?.('tag log read', { version, count: log?.rows.length });
      if (log !== undefined) {
        const { added, removed } = netPrefixes(log.rows, this.width);
        const packed = applyPrefixDelta(held.tagLength === 0 ? new Uint8Array(0) : held.packed, this.width, added, removed);
        if (packed !== undefined) {
          const count = packed.length / this.width;
          this.moved++;
          this.#unchecked = { epoch, version, count };
          return this.#keep(epoch, { version, packed, tagLength: count === 0 ? 0 : this.width, count });
        }
      }
    }
    const set = await this.store.readTagSetAt(epoch, version, this.width);
    this.trace?.('tag set read whole', { version, count: set?.count });
    if (set === undefined) return undefined;
    this.read++;
    return this.#keep(epoch, { version, packed: set.packed, tagLength: set.tagLength, count: set.count });
  }

  /**
   * Checks the count of the last moved copy against the table (while the directory is still
   * at its version; a later move is checked later). Resolves false if the table contradicts
   * it: the copy is dropped (the next change reads the set whole).
   */
  async verify(): Promise<boolean> {
    const unchecked = this.#unchecked;
    // One count at a time (it scans every tag): a copy moved meanwhile is checked after the next view.
    if (unchecked === undefined || this.#verifying) return true;
    this.#verifying = true;
    let count: number | undefined;
    try {
      count = await this.store.countTagsAt(unchecked.epoch, unchecked.version);
    } finally {
      this.#verifying = false;
    }
    if (this.#unchecked === unchecked) this.#unchecked = undefined;
    if (count === undefined || count === unchecked.count) return true;
    this.contradicted++;
    // Every copy moved from it is wrong too: whatever this epoch's copy is now, read it again.
    if (this.#epoch === unchecked.epoch) this.#tags = undefined;
    return false;
  }

  #keep(epoch: number, tags: PackedTags): PackedTags {
    this.#epoch = epoch;
    this.#tags = tags;
    return tags;
  }
}
