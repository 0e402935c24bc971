/**
 * Construction of the fuse filter (spec/setenc.md §3.4 Construction), lean in time and
 * memory, and byte-identical to the construction it replaced (fuse-reference.ts): the
 * snapshot digest every node of a fleet checks, and the pinned vectors, stay valid.
 *
 * Why it is byte-identical: the cell values depend on the ORDER in which keys are peeled,
 * and that order is a function of the hypergraph only (cells are queued in ascending index
 * order, then popped last-in first-out, a cell entering the queue when its degree reaches
 * 1), never of key ids or input order. This builder runs the same queue discipline.
 *
 * What makes it fast: each key is hashed once per seed, in one sequential pass over the
 * keys. Every cell then holds the XOR of its keys' descriptions (which column the cell is
 * for the key, the key's three other offsets, its fingerprint), so a cell of degree 1
 * names its key's four cells and fingerprint by itself (the "xor of hashes" of Graf &
 * Lemire's code): peeling and assignment never go back to the keys, whose random reads
 * (16 bytes at a random key id, twice per key) cost the old code most of its time.
 *
 * What makes it lean (per key, at the 1.075 cells per key of a large filter):
 * - no copy of the keys: a packed input of 4-aligned tags is read in place through a
 *   typed-array view with a stride (the old code copied 16-byte prefixes, then copied them
 *   again while removing duplicates through a hash table of 8-16 bytes per key);
 * - duplicates are only looked for when a peel fails: two equal keys share all four cells,
 *   so a successful peel proves the keys distinct (a failed one costs one more attempt);
 * - no per-key arrays at all (the old code kept positions, fingerprints and a two-array
 *   stack: 28 bytes per key);
 * - a degree and a column share one byte (32 bits only for an attempt in which a cell
 *   holds more than 63 keys);
 * - the cell that peels a key is not XORed (the old code cleared it), so it still describes
 *   its key in the reverse pass; the peel stack holds cells only, and shares one array with
 *   the queue (the stack grows up, the queue down: a cell is queued at most once, so both
 *   fit in A slots);
 * - the fingerprint XORs become the cell values in place during the reverse pass.
 * Build arrays per cell: degree and column 1, two offsets 4, third offset 2, fingerprint 4,
 * queue or stack 4: 15 bytes, about 16.1 bytes per key, plus the output.
 */
import { SetEncodingError } from '../errors.js';
import { MAX_BODY_BITS } from './bits.js';
import { fuseLayout, type FuseLayout } from './params.js';
import { checkTag, distinctKeys, KEY_BYTES, mulHi32, u32le } from './tags.js';
import type { TagInput } from './types.js';

/** Reference implementations stop at 100 seeds: each succeeds with probability well above 1/2. */
export const FUSE_MAX_ATTEMPTS = 100;
/** Seeds are tried in the order seed, seed + phi, seed + 2 phi, ... (phi = 2^32 / golden ratio). */
export const FUSE_SEED_STEP = 0x9e3779b9;

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;
/** Below this segmentCount, x0 * segmentCount < 2^53 is exact and floor(x0 s / 2^32) needs no limbs. */
const EXACT_SEGMENT_COUNT = 2 ** 21;
const TWO_TO_MINUS_32 = 2 ** -32;

/** Keys as little-endian u32 words: key k is words[k * stride .. k * stride + 3]. */
interface KeyWords {
  readonly words: Int32Array;
  readonly stride: number;
  readonly n: number;
}

function badTag(message: string): SetEncodingError {
  return new SetEncodingError('bad_tag', message);
}

/**
 * The caller's tags as words, checked as packPrefixes checks them (`bad_tag`). A packed
 * input whose tags start on 4-byte boundaries is viewed in place on little-endian hosts.
 */
function keyWords(input: TagInput): KeyWords {
  if (Array.isArray(input)) {
    const tags = input as readonly Uint8Array[];
    const words = new Int32Array(tags.length * 4);
    for (let i = 0; i < tags.length; i++) {
      const tag = tags[i];
      checkTag(tag, KEY_BYTES);
      words[4 * i] = u32le(tag, 0);
      words[4 * i + 1] = u32le(tag, 4);
      words[4 * i + 2] = u32le(tag, 8);
      words[4 * i + 3] = u32le(tag, 12);
    }
    return { words, stride: 4, n: tags.length };
  }
  const { packed, tagLength } = input as { packed: Uint8Array; tagLength: number };
  if (!(packed instanceof Uint8Array)) throw badTag('packed tags are not a Uint8Array');
  if (!Number.isSafeInteger(tagLength) || tagLength < KEY_BYTES) throw badTag(`packed tag length must be an integer >= ${KEY_BYTES}`);
  if (packed.length % tagLength !== 0) throw badTag(`packed length is not a multiple of ${tagLength}`);
  const n = packed.length / tagLength;
  if (LITTLE_ENDIAN && packed.byteOffset % 4 === 0 && tagLength % 4 === 0) {
    return { words: new Int32Array(packed.buffer, packed.byteOffset, packed.length / 4), stride: tagLength / 4, n };
  }
  const words = new Int32Array(n * 4);
  for (let i = 0, o = 0; i < n; i++, o += tagLength) {
    words[4 * i] = u32le(packed, o);
    words[4 * i + 1] = u32le(packed, o + 4);
    words[4 * i + 2] = u32le(packed, o + 8);
    words[4 * i + 3] = u32le(packed, o + 12);
  }
  return { words, stride: 4, n };
}

/** murmur3 fmix32 as a signed int32 (callers only XOR, mask and shift it). */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** floor(x0 * segmentCount / 2^32) for the int32 x0 read as a u32 (multiply-shift). */
function segmentOf(x0: number, segmentCount: number): number {
  return segmentCount < EXACT_SEGMENT_COUNT ? Math.floor((x0 >>> 0) * segmentCount * TWO_TO_MINUS_32) : mulHi32(x0 >>> 0, segmentCount);
}

/**
 * Per cell, the XOR over the keys touching it of each key's description as seen from that
 * cell; once a cell's degree is 1, exactly its key's. A key's cells are base + i L + o_i
 * (i = 0..3, offsets o_i < L <= 2^16). Seen from its cell in column j, a key is described by
 * j and its three other offsets, in column order: the first two in `w12` (low and high 16
 * bits), the third in `w3`. The cell itself gives o_j (its index mod L) and base (its
 * segment minus j). j is XORed into the low 2 bits of `dj`, whose upper 6 bits count the
 * keys (degree 4 d + XOR of the j: Graf & Lemire's t2count): a u8, so an attempt in which a
 * cell holds more than 63 keys is redone with a u32.
 */
interface Work {
  readonly layout: FuseLayout;
  readonly A: number;
  dj: Uint8Array | Uint32Array;
  readonly w12: Int32Array;
  readonly w3: Uint16Array;
  /** Fingerprints XORed; after the reverse pass, the cell values. */
  readonly fp: Int32Array;
  /** Peel stack of cells from index 0 up, LIFO queue of cells from index A - 1 down. */
  readonly order: Uint32Array;
}

const PEEL_FAILED = -1;
const DEGREE_OVERFLOW = -2;

/**
 * One attempt: hashes every key for `seed` (spec/setenc.md §3.4) into its four cells, then
 * peels. Returns the stack depth (n on success), PEEL_FAILED when a 2-core remains,
 * DEGREE_OVERFLOW when a u8 `dj` would wrap (the caller retries with a u32 one).
 */
function peel(keys: KeyWords, seed: number, w: Work, fpMask: number): number {
  return peelArrays(keys.words, keys.stride, keys.n, seed, w.layout.segmentCount, w.layout.segmentLengthLog2, fpMask, w.dj, w.w12, w.w3, w.fp, w.order);
}

/**
 * The body of peel, over arrays and numbers only: optimized code that reads objects embeds
 * their maps weakly, and a map that dies between two builds (a literal's, once its objects
 * are collected) throws the code away, so each build would start unoptimized again.
 */
function peelArrays(
  words: Int32Array,
  stride: number,
  n: number,
  seed: number,
  segmentCount: number,
  log2L: number,
  fpMask: number,
  DJ: Uint8Array | Uint32Array,
  W12: Int32Array,
  W3: Uint16Array,
  FP: Int32Array,
  order: Uint32Array,
): number {
  const A = order.length;
  const L = 2 ** log2L;
  const mask = L - 1;
  const maxDj = DJ instanceof Uint8Array ? 0xff : 0xffff_ffff;
  DJ.fill(0);
  W12.fill(0);
  W3.fill(0);
  FP.fill(0);
  let overflow = false;
  for (let k = 0, o = 0; k < n; k++, o += stride) {
    let x0 = mix(words[o] ^ seed);
    let x1 = mix(words[o + 1] ^ x0);
    let x2 = mix(words[o + 2] ^ x1);
    const x3 = mix(words[o + 3] ^ x2);
    x0 = mix(x0 ^ x3);
    x1 = mix(x1 ^ x0);
    x2 = mix(x2 ^ x1);
    const base = segmentOf(x0, segmentCount) * L; // may pass 2^31: no int32 shift
    const o0 = x1 & mask;
    const o1 = (x1 >>> 16) & mask;
    const o2 = x2 & mask;
    const o3 = (x2 >>> 16) & mask;
    const o01 = o0 | (o1 << 16);
    const fp = x3 & fpMask;
    const p0 = base + o0;
    const p1 = base + L + o1;
    const p2 = base + 2 * L + o2;
    const p3 = base + 3 * L + o3;
    const d0 = DJ[p0] + 4;
    const d1 = (DJ[p1] + 4) ^ 1;
    const d2 = (DJ[p2] + 4) ^ 2;
    const d3 = (DJ[p3] + 4) ^ 3;
    if (d0 > maxDj || d1 > maxDj || d2 > maxDj || d3 > maxDj) overflow = true;
    DJ[p0] = d0;
    DJ[p1] = d1;
    DJ[p2] = d2;
    DJ[p3] = d3;
    W12[p0] ^= o1 | (o2 << 16);
    W12[p1] ^= o0 | (o2 << 16);
    W12[p2] ^= o01;
    W12[p3] ^= o01;
    W3[p0] ^= o3;
    W3[p1] ^= o3;
    W3[p2] ^= o3;
    W3[p3] ^= o2;
    FP[p0] ^= fp;
    FP[p1] ^= fp;
    FP[p2] ^= fp;
    FP[p3] ^= fp;
  }
  if (overflow) return DEGREE_OVERFLOW;
  // The queue, read from the top: queue[i] of the old code is order[A - 1 - i].
  const top = A - 1;
  let qlen = 0;
  for (let c = 0; c < A; c++) if (DJ[c] >>> 2 === 1) order[top - qlen++] = c;
  let sp = 0;
  while (qlen > 0) {
    const c = order[top - --qlen];
    const dj = DJ[c];
    if (dj >>> 2 !== 1) continue;
    // sp + qlen <= cells ever queued <= A, so the stack never reaches a queued slot.
    order[sp++] = c;
    const j = dj & 3;
    const w12 = W12[c];
    const lo = w12 & 0xffff;
    const hi = w12 >>> 16;
    const w3 = W3[c];
    const own = c & mask;
    const base = c - own - j * L;
    const o0 = j === 0 ? own : lo;
    const o1 = j === 1 ? own : j === 0 ? lo : hi;
    const o2 = j === 2 ? own : j === 3 ? w3 : hi;
    const o3 = j === 3 ? own : w3;
    const o01 = o0 | (o1 << 16);
    const fp = FP[c];
    // The old code's order over the four cells (the queue order depends on it). The peeling
    // cell c keeps its key's description (the old code XORed it out), for the reverse pass.
    let p = base + o0;
    let d = DJ[p] - 4;
    if (p === c) DJ[p] = d;
    else {
      DJ[p] = d;
      W12[p] ^= o1 | (o2 << 16);
      W3[p] ^= o3;
      FP[p] ^= fp;
      if (d >>> 2 === 1) order[top - qlen++] = p;
    }
    p = base + L + o1;
    d = DJ[p] - 4;
    if (p === c) DJ[p] = d;
    else {
      DJ[p] = d ^ 1;
      W12[p] ^= o0 | (o2 << 16);
      W3[p] ^= o3;
      FP[p] ^= fp;
      if (d >>> 2 === 1) order[top - qlen++] = p;
    }
    p = base + 2 * L + o2;
    d = DJ[p] - 4;
    if (p === c) DJ[p] = d;
    else {
      DJ[p] = d ^ 2;
      W12[p] ^= o01;
      W3[p] ^= o3;
      FP[p] ^= fp;
      if (d >>> 2 === 1) order[top - qlen++] = p;
    }
    p = base + 3 * L + o3;
    d = DJ[p] - 4;
    if (p === c) DJ[p] = d;
    else {
      DJ[p] = d ^ 3;
      W12[p] ^= o01;
      W3[p] ^= o2;
      FP[p] ^= fp;
      if (d >>> 2 === 1) order[top - qlen++] = p;
    }
  }
  return sp === n ? sp : PEEL_FAILED;
}

/**
 * Reverse peel order: when the key peeled at cell c is assigned, c still holds the key's
 * description and fingerprint, and the key's other cells are final (peeled after it, so
 * assigned already, or never peeled, whose XORs cancelled to 0). The XOR of the four cells
 * is then the value c needs for the key's four cells to XOR to its fingerprint.
 */
function assign(n: number, log2L: number, DJ: Uint8Array | Uint32Array, W12: Int32Array, W3: Uint16Array, FP: Int32Array, order: Uint32Array): void {
  const L = 2 ** log2L;
  const mask = L - 1;
  for (let i = n - 1; i >= 0; i--) {
    const c = order[i];
    const j = DJ[c] & 3;
    const w12 = W12[c];
    const lo = w12 & 0xffff;
    const hi = w12 >>> 16;
    const w3 = W3[c];
    const own = c & mask;
    const base = c - own - j * L;
    const o0 = j === 0 ? own : lo;
    const o1 = j === 1 ? own : j === 0 ? lo : hi;
    const o2 = j === 2 ? own : j === 3 ? w3 : hi;
    const o3 = j === 3 ? own : w3;
    FP[c] = FP[base + o0] ^ FP[base + L + o1] ^ FP[base + 2 * L + o2] ^ FP[base + 3 * L + o3];
  }
}

export interface FuseConstruction {
  readonly count: number;
  readonly layout: FuseLayout;
  readonly seed: number;
  /** Cell values (f bits each, as int32), arrayLength of them. */
  readonly cells: Int32Array;
  /** Seeds tried for the distinct keys (1 when the first one peeled; 0 for the empty set). */
  readonly attempts: number;
  /** Whether a failed peel made the builder look for duplicate keys. */
  readonly dedupeRan: boolean;
  /** Whether some attempt needed 32-bit degrees (a cell touched by more than 63 keys). */
  readonly wideDegrees: boolean;
}

function checkSize(layout: FuseLayout, f: number): boolean {
  return layout.arrayLength * f <= MAX_BODY_BITS;
}

/**
 * Peels the distinct 16-byte prefixes of `input` for seeds firstSeed, firstSeed + step, ...
 * Throws `bad_tag`, `too_large` or, after `maxAttempts` seeds, `build_failed`.
 */
export function constructFuse(input: TagInput, f: number, firstSeed: number, maxAttempts = FUSE_MAX_ATTEMPTS): FuseConstruction {
  let keys = keyWords(input);
  let deduped = false;
  // Only duplicates could make the input's layout too large when the distinct keys' is not.
  if (!checkSize(fuseLayout(keys.n), f)) {
    keys = distinctOf(input);
    deduped = true;
  }
  const fpMask = f === 32 ? -1 : (1 << f) - 1;
  let wideDegrees = false;
  layouts: for (;;) {
    const layout = fuseLayout(keys.n);
    if (!checkSize(layout, f)) throw new SetEncodingError('too_large', `fuse array of ${layout.arrayLength * f} bits exceeds the format limit`);
    const A = layout.arrayLength;
    if (keys.n === 0) return { count: 0, layout, seed: firstSeed, cells: new Int32Array(0), attempts: 0, dedupeRan: deduped, wideDegrees };
    const w: Work = {
      layout,
      A,
      dj: wideDegrees ? new Uint32Array(A) : new Uint8Array(A),
      w12: new Int32Array(A),
      w3: new Uint16Array(A),
      fp: new Int32Array(A),
      order: new Uint32Array(A),
    };
    let seed = firstSeed;
    for (let attempt = 1; ; attempt++) {
      let sp = peel(keys, seed, w, fpMask);
      if (sp === DEGREE_OVERFLOW) {
        wideDegrees = true;
        w.dj = new Uint32Array(A);
        sp = peel(keys, seed, w, fpMask);
      }
      if (sp === keys.n) {
        assign(keys.n, layout.segmentLengthLog2, w.dj, w.w12, w.w3, w.fp, w.order);
        return { count: keys.n, layout, seed, cells: w.fp, attempts: attempt, dedupeRan: deduped, wideDegrees };
      }
      if (!deduped) {
        deduped = true;
        const distinct = distinctOf(input);
        // Duplicates change the count and so the layout: start over from the first seed.
        if (distinct.n !== keys.n) {
          keys = distinct;
          continue layouts;
        }
      }
      if (attempt >= maxAttempts) throw new SetEncodingError('build_failed', `fuse construction failed for ${maxAttempts} seeds`);
      seed = (seed + FUSE_SEED_STEP) >>> 0;
    }
  }
}

function distinctOf(input: TagInput): KeyWords {
  const words = distinctKeys(input);
  return { words: new Int32Array(words.buffer, words.byteOffset, words.length), stride: 4, n: words.length / 4 };
}

/** Writes the cells, f bits each, least-significant bit first, into a zeroed body. */
export function packCells(cells: Int32Array, f: number, body: Uint8Array): void {
  let acc = 0; // pending bits, the low `nb` of them valid
  let nb = 0;
  let o = 0;
  for (let i = 0; i < cells.length; i++) {
    const v = cells[i];
    acc |= v << nb;
    nb += f;
    if (nb >= 32) {
      body[o] = acc;
      body[o + 1] = acc >>> 8;
      body[o + 2] = acc >>> 16;
      body[o + 3] = acc >>> 24;
      o += 4;
      nb -= 32;
      acc = nb === 0 ? 0 : v >>> (f - nb);
    }
  }
  for (; nb > 0; nb -= 8, acc >>>= 8) body[o++] = acc;
}
