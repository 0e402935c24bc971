/**
 * The GCS construction as it was before the builder of gcs-build.ts (kept verbatim, only
 * returning the serialized bytes): the oracle that test/gcs-build.test.ts compares the new
 * builder against byte for byte, and the "before" of the A/B in bench/results/session-psi-ab.md.
 * Not exported from the package; nothing in src/ calls it.
 */
import { SetEncodingError } from '../errors.js';
import { MAX_BODY_BITS, READ_PADDING, writeBits, writeBitsWide } from './bits.js';
import { checkParams, GCS_INDEX_ENTRY_BYTES, PARAM_BYTES } from './params.js';
import { allocateEncoding } from './serialize.js';
import { distinctKeys, scale48 } from './tags.js';
import type { GcsParams, TagInput } from './types.js';

const INDEX = PARAM_BYTES.gcs;
const TWO32 = 0x1_0000_0000;

/** The remainder: low r bits of the 52-bit little-endian word at tag bytes 8..14. */
function remainderOf(w2: number, w3: number, r: number): number {
  if (r < 32) return (w2 & ((1 << r) - 1)) >>> 0;
  if (r === 32) return w2;
  return w2 + (w3 & ((1 << (r - 32)) - 1)) * TWO32;
}

export function buildGcsReference(params: GcsParams, input: TagInput): Uint8Array {
  checkParams(params);
  const r = params.riceBits;
  const B = params.blockSize;
  const M = 2 ** r;
  const keys = distinctKeys(input);
  const n = keys.length / 4;
  const qs = new Uint32Array(n);
  const rems = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    qs[i] = scale48(keys[4 * i], keys[4 * i + 1] & 0xffff, n);
    rems[i] = remainderOf(keys[4 * i + 2], keys[4 * i + 3], r);
  }
  // Counting sort on q (about one value per bucket), then insertion sort on rem within a bucket.
  const starts = new Uint32Array(n + 1);
  for (let i = 0; i < n; i++) starts[qs[i] + 1]++;
  for (let b = 0; b < n; b++) starts[b + 1] += starts[b];
  const order = new Uint32Array(n);
  const fill = starts.slice(0, n);
  for (let i = 0; i < n; i++) order[fill[qs[i]]++] = i;
  for (let b = 0; b < n; b++) {
    for (let x = starts[b] + 1; x < starts[b + 1]; x++) {
      const v = order[x];
      let y = x;
      while (y > starts[b] && rems[order[y - 1]] > rems[v]) {
        order[y] = order[y - 1];
        y--;
      }
      order[y] = v;
    }
  }
  // Rice-code lengths first, so the buffer is allocated once at its exact size.
  let streamBits = 0;
  for (let x = 0; x < n; x++) {
    if (x % B === 0) continue;
    const a = order[x - 1];
    const b = order[x];
    streamBits += qs[b] - qs[a] - (rems[b] < rems[a] ? 1 : 0) + 1 + r;
  }
  if (streamBits > MAX_BODY_BITS) throw new SetEncodingError('too_large', `gcs stream of ${streamBits} bits exceeds the format limit`);
  const blocks = Math.ceil(n / B);
  const streamBytes = Math.ceil(streamBits / 8);
  const streamStart = INDEX + GCS_INDEX_ENTRY_BYTES * blocks;
  const { buf, view } = allocateEncoding('gcs', n, streamStart + streamBytes, READ_PADDING);
  buf[INDEX - 6] = r;
  buf[INDEX - 5] = Math.log2(B);
  view.setUint32(INDEX - 4, streamBytes, true);
  const stream = buf.subarray(streamStart);
  let pos = 0;
  for (let x = 0; x < n; x++) {
    const b = order[x];
    if (x % B === 0) {
      const e = INDEX + GCS_INDEX_ENTRY_BYTES * (x / B);
      view.setUint32(e, pos, true);
      view.setUint32(e + 4, qs[b], true);
      view.setUint32(e + 8, rems[b] % TWO32, true);
      view.setUint32(e + 12, Math.floor(rems[b] / TWO32), true);
      continue;
    }
    const a = order[x - 1];
    let quotient = qs[b] - qs[a];
    let remainder = rems[b] - rems[a];
    if (remainder < 0) {
      quotient--;
      remainder += M;
    }
    writeBits(stream, pos + quotient, 1, 1);
    pos += quotient + 1;
    writeBitsWide(stream, pos, remainder, r);
    pos += r;
  }
  return buf.slice(0, buf.length - READ_PADDING);
}
