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
 * What it saves (per key, at the 1.075 cells per key of a large filter):
 * - no copy of the keys: a packed input of 4-aligned tags is read in place through a
 *   Uint32Array view with a stride (the old code copied 16-byte prefixes, then copied them
 *   again while removing duplicates through a hash table of 8-16 bytes per key);
 * - duplicates are only looked for when a peel fails: two equal keys share all four cells,
 *   so a successful peel proves the keys distinct (and a failed one costs one retry);
 * - no per-key position or fingerprint arrays: a key's cells are recomputed from its words
 *   (seven fmix32) when it is peeled and when it is assigned;
 * - degrees are 8-bit (a wider array is used only for an attempt where a cell exceeds 255);
 * - the cell that peels a key keeps that key's id in its XOR slot (the old code XORed it
 *   out), so the peel stack holds cells only, and shares one array with the queue (the
 *   stack grows up, the queue down: a cell is queued at most once, so both fit in A slots);
 * - the XOR slots become the cell values in place during the reverse pass.
 * Build arrays: 1 + 4 + 4 bytes per cell, about 9.7 bytes per key, plus the output.
 */
import { SetEncodingError } from '../errors.js';
import { MAX_BODY_BITS } from './bits.js';
import { FUSE_ARITY, fuseLayout, type FuseLayout } from './params.js';
import { checkTag, distinctKeys, KEY_BYTES, mulHi32, u32le } from './tags.js';
import type { TagInput } from './types.js';

/** Reference implementations stop at 100 seeds: each succeeds with probability well above 1/2. */
export const FUSE_MAX_ATTEMPTS = 100;
/** Seeds are tried in the order seed, seed + phi, seed + 2 phi, ... (phi = 2^32 / golden ratio). */
export const FUSE_SEED_STEP = 0x9e3779b9;

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;
/** Below this segmentCount, x0 * segmentCount < 2^53 is exact and floor(x0 s / 2^32) needs no limbs. */
const EXACT_SEGMENT_COUNT = 2 ** 21;

/** Keys as little-endian u32 words: key k is words[k * stride .. k * stride + 3]. */
interface KeyWords {
  readonly words: Uint32Array;
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
    const words = new Uint32Array(tags.length * 4);
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
    return { words: new Uint32Array(packed.buffer, packed.byteOffset, packed.length / 4), stride: tagLength / 4, n };
  }
  const words = new Uint32Array(n * 4);
  for (let i = 0, o = 0; i < n; i++, o += tagLength) {
    words[4 * i] = u32le(packed, o);
    words[4 * i + 1] = u32le(packed, o + 4);
    words[4 * i + 2] = u32le(packed, o + 8);
    words[4 * i + 3] = u32le(packed, o + 12);
  }
  return { words, stride: 4, n };
}

/**
 * The spec's hash of key k (spec/setenc.md §3.4), writing its four cells and fingerprint to
 * out[0..4]. Small enough for V8 to inline into the three loops that call it.
 */
function cellsOf(words: Uint32Array, o: number, seed: number, segmentCount: number, log2L: number, fpMask: number, out: Uint32Array): void {
  let x0 = mix(words[o] ^ seed);
  let x1 = mix(words[o + 1] ^ x0);
  let x2 = mix(words[o + 2] ^ x1);
  const x3 = mix(words[o + 3] ^ x2);
  x0 = mix(x0 ^ x3);
  x1 = mix(x1 ^ x0);
  x2 = mix(x2 ^ x1);
  const L = 1 << log2L;
  const mask = L - 1;
  const segment = segmentCount < EXACT_SEGMENT_COUNT ? Math.floor((x0 >>> 0) * segmentCount * 2.3283064365386963e-10) : mulHi32(x0 >>> 0, segmentCount);
  const base = segment * L; // may pass 2^31: no int32 shift
  out[0] = base + (x1 & mask);
  out[1] = base + L + ((x1 >>> 16) & mask);
  out[2] = base + 2 * L + (x2 & mask);
  out[3] = base + 3 * L + ((x2 >>> 16) & mask);
  out[4] = x3 & fpMask;
}

/** murmur3 fmix32 as a signed int32 (callers only XOR, mask and shift it). */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** The arrays one construction reuses across its seeds. */
interface Work {
  readonly layout: FuseLayout;
  readonly A: number;
  degree: Uint8Array | Uint32Array;
  /** XOR of the ids of the keys touching a cell; after the peel, the peeled key's id; after assignment, the cell value. */
  readonly xor: Uint32Array;
  /** Peel stack of cells from index 0 up, LIFO queue of cells from index A - 1 down. */
  readonly order: Uint32Array;
  readonly h: Uint32Array;
}

const PEEL_FAILED = -1;
const DEGREE_OVERFLOW = -2;

/**
 * One attempt: counts degrees and XORs for `seed`, then peels. Returns the stack depth
 * (n on success), PEEL_FAILED when a 2-core remains, DEGREE_OVERFLOW when an 8-bit degree
 * would wrap (the caller retries the seed with 32-bit degrees).
 */
function peel(keys: KeyWords, seed: number, w: Work, fpMask: number): number {
  const { words, stride, n } = keys;
  const { degree, xor, order, h, A } = w;
  const { segmentCount, segmentLengthLog2: log2L } = w.layout;
  const maxDegree = degree instanceof Uint8Array ? 0xff : 0xffff_ffff;
  degree.fill(0);
  xor.fill(0);
  let overflow = false;
  for (let k = 0, o = 0; k < n; k++, o += stride) {
    cellsOf(words, o, seed, segmentCount, log2L, fpMask, h);
    const p0 = h[0];
    const p1 = h[1];
    const p2 = h[2];
    const p3 = h[3];
    const d0 = degree[p0] + 1;
    const d1 = degree[p1] + 1;
    const d2 = degree[p2] + 1;
    const d3 = degree[p3] + 1;
    if (d0 > maxDegree || d1 > maxDegree || d2 > maxDegree || d3 > maxDegree) overflow = true;
    degree[p0] = d0;
    degree[p1] = d1;
    degree[p2] = d2;
    degree[p3] = d3;
    xor[p0] ^= k;
    xor[p1] ^= k;
    xor[p2] ^= k;
    xor[p3] ^= k;
  }
  if (overflow) return DEGREE_OVERFLOW;
  // The queue, read from the top: queue[i] of the old code is order[A - 1 - i].
  const top = A - 1;
  let qlen = 0;
  for (let c = 0; c < A; c++) if (degree[c] === 1) order[top - qlen++] = c;
  let sp = 0;
  while (qlen > 0) {
    const c = order[top - --qlen];
    if (degree[c] !== 1) continue;
    const k = xor[c];
    // sp + qlen <= cells ever queued <= A, so the stack never reaches a queued slot.
    order[sp++] = c;
    cellsOf(words, k * stride, seed, segmentCount, log2L, fpMask, h);
    for (let j = 0; j < FUSE_ARITY; j++) {
      const p = h[j];
      const d = degree[p] - 1;
      degree[p] = d;
      if (p === c) continue; // keeps k in its peeling cell's slot, for the reverse pass
      xor[p] ^= k;
      if (d === 1) order[top - qlen++] = p;
    }
  }
  return sp === n ? sp : PEEL_FAILED;
}

/**
 * Reverse peel order: when key k is assigned its cell c, c's slot still holds k and the
 * key's other cells are final (peeled after k, so assigned already, or never peeled and 0),
 * so XOR-ing all four slots and k gives the value that makes the key's XOR its fingerprint.
 */
function assign(keys: KeyWords, seed: number, w: Work, fpMask: number): void {
  const { words, stride, n } = keys;
  const { xor, order, h } = w;
  const { segmentCount, segmentLengthLog2: log2L } = w.layout;
  for (let i = n - 1; i >= 0; i--) {
    const c = order[i];
    const k = xor[c];
    cellsOf(words, k * stride, seed, segmentCount, log2L, fpMask, h);
    xor[c] = h[4] ^ xor[h[0]] ^ xor[h[1]] ^ xor[h[2]] ^ xor[h[3]] ^ k;
  }
}

export interface FuseConstruction {
  readonly count: number;
  readonly layout: FuseLayout;
  readonly seed: number;
  /** Cell values (f bits each), arrayLength of them. */
  readonly cells: Uint32Array;
  /** Seeds tried for the distinct keys (1 when the first one peeled; 0 for the empty set). */
  readonly attempts: number;
  /** Whether a failed peel made the builder look for duplicate keys. */
  readonly dedupeRan: boolean;
  /** Whether some attempt needed 32-bit degrees (a cell touched by more than 255 keys). */
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
    if (keys.n === 0) return { count: 0, layout, seed: firstSeed, cells: new Uint32Array(0), attempts: 0, dedupeRan: deduped, wideDegrees };
    const w: Work = { layout, A, degree: wideDegrees ? new Uint32Array(A) : new Uint8Array(A), xor: new Uint32Array(A), order: new Uint32Array(A), h: new Uint32Array(5) };
    let seed = firstSeed;
    for (let attempt = 1; ; attempt++) {
      let sp = peel(keys, seed, w, fpMask);
      if (sp === DEGREE_OVERFLOW) {
        wideDegrees = true;
        w.degree = new Uint32Array(A);
        sp = peel(keys, seed, w, fpMask);
      }
      if (sp === keys.n) {
        assign(keys, seed, w, fpMask);
        return { count: keys.n, layout, seed, cells: w.xor, attempts: attempt, dedupeRan: deduped, wideDegrees };
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
  return { words, stride: 4, n: words.length / 4 };
}

/** Writes the cells, f bits each, least-significant bit first, into a zeroed body. */
export function packCells(cells: Uint32Array, f: number, body: Uint8Array): void {
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
