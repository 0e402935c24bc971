/**
 * The fuse construction as it was before the lean builder of fuse-build.ts (kept verbatim,
 * only returning bytes): the oracle that test/fuse-build.test.ts compares the new builder
 * against byte for byte, and the "before" of `npm run bench -- fuse-build`. Not exported
 * from the package; nothing in src/ calls it.
 *
 * Memory: distinct keys (16 bytes per key, plus the dedupe table of 8-16) and, per attempt,
 * pos (16 per key), fps (4), stack (8) and four u32 arrays over the cells (4 x 4.3): about
 * 45 bytes per key on top of the keys.
 */
import { SetEncodingError } from '../errors.js';
import { MAX_BODY_BITS, READ_PADDING, writeBits } from './bits.js';
import { checkParams, FUSE_ARITY, fuseLayout, PARAM_BYTES } from './params.js';
import { allocateEncoding } from './serialize.js';
import { distinctKeys, fmix32, mulHi32 } from './tags.js';
import type { FuseParams, TagInput } from './types.js';

const BODY = PARAM_BYTES.fuse;
const MAX_ATTEMPTS = 100;
const SEED_STEP = 0x9e3779b9;

interface Probe {
  p0: number;
  p1: number;
  p2: number;
  p3: number;
  fp: number;
}

function probe(w0: number, w1: number, w2: number, w3: number, seed: number, segmentCount: number, log2L: number, f: number, out: Probe): void {
  let x0 = fmix32(w0 ^ seed);
  let x1 = fmix32(w1 ^ x0);
  let x2 = fmix32(w2 ^ x1);
  const x3 = fmix32(w3 ^ x2);
  x0 = fmix32(x0 ^ x3);
  x1 = fmix32(x1 ^ x0);
  x2 = fmix32(x2 ^ x1);
  const L = 1 << log2L;
  const mask = L - 1;
  const base = mulHi32(x0, segmentCount) * L;
  out.p0 = base + (x1 & mask);
  out.p1 = base + L + ((x1 >>> 16) & mask);
  out.p2 = base + 2 * L + (x2 & mask);
  out.p3 = base + 3 * L + ((x2 >>> 16) & mask);
  out.fp = f === 32 ? x3 : x3 & ((1 << f) - 1);
}

function peel(keys: Uint32Array, n: number, seed: number, segmentCount: number, log2L: number, f: number): Uint32Array | undefined {
  const A = (segmentCount + FUSE_ARITY - 1) * 2 ** log2L;
  const pos = new Uint32Array(4 * n);
  const fps = new Uint32Array(n);
  const degree = new Uint32Array(A);
  const xorKey = new Uint32Array(A);
  const h: Probe = { p0: 0, p1: 0, p2: 0, p3: 0, fp: 0 };
  for (let k = 0; k < n; k++) {
    probe(keys[4 * k], keys[4 * k + 1], keys[4 * k + 2], keys[4 * k + 3], seed, segmentCount, log2L, f, h);
    pos[4 * k] = h.p0;
    pos[4 * k + 1] = h.p1;
    pos[4 * k + 2] = h.p2;
    pos[4 * k + 3] = h.p3;
    fps[k] = h.fp;
    degree[h.p0]++;
    degree[h.p1]++;
    degree[h.p2]++;
    degree[h.p3]++;
    xorKey[h.p0] ^= k;
    xorKey[h.p1] ^= k;
    xorKey[h.p2] ^= k;
    xorKey[h.p3] ^= k;
  }
  const queue = new Uint32Array(A);
  let qlen = 0;
  for (let c = 0; c < A; c++) if (degree[c] === 1) queue[qlen++] = c;
  const stackKey = new Uint32Array(n);
  const stackCell = new Uint32Array(n);
  let sp = 0;
  while (qlen > 0) {
    const c = queue[--qlen];
    if (degree[c] !== 1) continue;
    const k = xorKey[c];
    stackKey[sp] = k;
    stackCell[sp++] = c;
    for (let j = 0; j < 4; j++) {
      const p = pos[4 * k + j];
      degree[p]--;
      xorKey[p] ^= k;
      if (degree[p] === 1) queue[qlen++] = p;
    }
  }
  if (sp !== n) return undefined;
  const cells = new Uint32Array(A);
  for (let i = n - 1; i >= 0; i--) {
    const k = stackKey[i];
    const o = 4 * k;
    cells[stackCell[i]] = (fps[k] ^ cells[pos[o]] ^ cells[pos[o + 1]] ^ cells[pos[o + 2]] ^ cells[pos[o + 3]]) >>> 0;
  }
  return cells;
}

/** The serialized encoding the pre-fuse-build.ts code produced, and the seed that worked. */
export function buildFuseReference(params: FuseParams, input: TagInput): { bytes: Uint8Array; seed: number; attempts: number } {
  checkParams(params);
  const f = params.fingerprintBits;
  const keys = distinctKeys(input);
  const n = keys.length / 4;
  const { segmentLengthLog2, segmentCount, arrayLength } = fuseLayout(n);
  if (arrayLength * f > MAX_BODY_BITS) throw new SetEncodingError('too_large', `fuse array of ${arrayLength * f} bits exceeds the format limit`);
  let seed = (params.seed ?? 0) >>> 0;
  let cells: Uint32Array | undefined = n === 0 ? new Uint32Array(0) : undefined;
  let attempts = n === 0 ? 0 : 1;
  for (; cells === undefined; attempts++) {
    cells = peel(keys, n, seed, segmentCount, segmentLengthLog2, f);
    if (cells !== undefined) break;
    if (attempts >= MAX_ATTEMPTS) throw new SetEncodingError('build_failed', `fuse construction failed for ${MAX_ATTEMPTS} seeds`);
    seed = (seed + SEED_STEP) >>> 0;
  }
  const { buf, view } = allocateEncoding('fuse', n, BODY + Math.ceil((arrayLength * f) / 8), READ_PADDING);
  buf[BODY - 10] = f;
  buf[BODY - 9] = segmentLengthLog2;
  view.setUint32(BODY - 8, segmentCount, true);
  view.setUint32(BODY - 4, seed, true);
  const body = buf.subarray(BODY);
  for (let i = 0; i < arrayLength; i++) if (cells[i] !== 0) writeBits(body, i * f, cells[i], f);
  return { bytes: buf.slice(0, buf.length - READ_PADDING), seed, attempts };
}
