/**
 * ristretto255 multi-scalar multiplication in WebAssembly (loaded by src/group/wasm-msm.ts).
 *
 * Calling convention: scratch(n) returns a pointer P with 64n + 32 bytes behind it; the
 * caller writes n scalars (32 bytes little-endian each) at P, n element encodings at
 * P + 32n, calls msm(n, P, P + 32n, P + 64n) and reads 32 bytes at P + 64n. The call may
 * grow the memory, so the caller must take a fresh view of it afterwards.
 */
import { initConstants } from './constants';
import { ensureMemory, heapStart } from './memory';
import { chooseWindow, errorIndex as lastErrorIndex, msmWith, roundTrip as decodeEncode } from './msm';

initConstants();

/** Pointer to room for the inputs and output of an n-element MSM; 0 when memory cannot grow. */
export function scratch(n: i32): usize {
  if (n < 0) return 0;
  const base = heapStart();
  return ensureMemory(base + ((<usize>n) << 6) + 32) ? base : 0;
}

/** sum scalars[i] * points[i] with the algorithm chosen for n; see msm.ts for the status codes. */
export function msm(n: i32, scalars: usize, points: usize, out: usize): i32 {
  return msmWith(n, scalars, points, out, n < 0 ? 0 : chooseWindow(n));
}

/** The same with a forced algorithm: window 0 = Straus, 2..16 = Pippenger (tests, tuning). */
export function msmWindow(n: i32, scalars: usize, points: usize, out: usize, window: i32): i32 {
  return msmWith(n, scalars, points, out, window);
}

/**
 * msm() over points given as affine coordinates (x || y, 64 bytes each, at `xy`) from a
 * strict decoding done elsewhere (src/group/wasm-x4.ts mulCommonXY): no decoding here.
 * scratchAffine(n) has room for n scalars, 64n bytes of coordinates and the output.
 */
export function msmAffine(n: i32, scalars: usize, xy: usize, out: usize): i32 {
  return msmWith(n, scalars, xy, out, n < 0 ? 0 : chooseWindow(n), true);
}

export function scratchAffine(n: i32): usize {
  if (n < 0) return 0;
  const base = heapStart();
  return ensureMemory(base + <usize>n * 96 + 32) ? base : 0;
}

/** The algorithm msm() picks for n (0 = Straus, else the Pippenger window). */
export function windowFor(n: i32): i32 {
  return chooseWindow(n);
}

/** Index of the scalar or point that made the last call fail, -1 if none. */
export function errorIndex(): i32 {
  return lastErrorIndex();
}

/** decode then encode one element (RFC 9496 §4.3.1, §4.3.2): a test hook. */
export function roundTrip(input: usize, out: usize): i32 {
  return decodeEncode(input, out);
}
