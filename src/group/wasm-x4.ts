/**
 * Loader for the four-lane ristretto255 scalar multiplication in WebAssembly SIMD (source
 * in asm/ristretto255-x4/, built by scripts/build-wasm-x4.mjs into
 * ./wasm/ristretto255-x4.wasm and inlined as base64 by scripts/wasm-inline.mjs into
 * ./wasm/ristretto255-x4.wasm-bytes.ts, so bundlers carry it without configuration).
 * It multiplies four points per pass, one per i32x4 lane, constant time in the
 * scalars and in the points (blinding, unblinding, key evaluation, directory precompute).
 *
 * Every multiplication multiplies by s/2 mod L and encodes the doubled point with one
 * field inversion per 64 passes (asm/ristretto255-x4/batch-encode4.ts), and validateXY /
 * mulCommonFromXY let a check and a later evaluation share one decoding.
 *
 * `loadWasmX4()` resolves to null when WebAssembly SIMD is unavailable, or the
 * module fails its known-answer self-test; callers then keep their libsodium/noble path.
 *
 * Errors are the sodium backend's (src/group/sodium.ts), codes and messages: GroupError
 * `bad_length`, `bad_scalar` (scalars must be in [1, L)), `bad_element` / `identity_element`
 * naming the first bad input element, `identity_element` "result is the identity"; and
 * ContactPsiError `backend_unavailable` when the WebAssembly memory cannot grow.
 */
import { ContactPsiError, GroupError } from '../errors.js';
import { COMPOSITES_EXPORTS, makeCompositePair, type CompositePair, type CompositesExports } from './composites-x4.js';
import { FIXED_BASE_EXPORTS, makeFixedBaseX4, type FixedBaseExports, type FixedBaseX4 } from './fixed-base-x4.js';
import { decodeWasmBase64, fromHex, scalarToBytes, toHex } from './wasm-bytes.js';
// The bytes, inlined at build time (scripts/wasm-inline.mjs): nothing to fetch or locate.
import { WASM_BASE64 } from './wasm/ristretto255-x4.wasm-bytes.js';

export interface WasmX4 {
  /** scalars[i] * element i of `packed` (n x 32 bytes); scalars as bigints or n x 32 bytes little-endian, each in [1, L). */
  mulEach(scalars: readonly bigint[] | Uint8Array, packed: Uint8Array): Uint8Array;
  /** scalar * each element of `packed`, result packed in the same order; the scalar as a bigint or 32 bytes little-endian. */
  mulCommon(scalar: bigint | Uint8Array, packed: Uint8Array): Uint8Array;
  /** scalar * OneWayMap(u) for each 64-byte u of `uniform` (RFC 9496 §4.3.4 fused with the multiplication). */
  hashMulCommon(scalar: bigint | Uint8Array, uniform: Uint8Array): Uint8Array;
  /** OneWayMap(u) for each 64-byte u of `uniform`: hash_to_ristretto255 after expand_message_xmd. */
  fromHash(uniform: Uint8Array): Uint8Array;
  /**
   * The index of the first element of `packed` that is not a valid encoding (RFC 9496
   * §4.3.1) or is the identity (RFC 9497 §3.3), or -1 when all are valid: four square
   * roots per pass, about half of libsodium's one at a time (no multiplication).
   */
  firstInvalid(packed: Uint8Array): number;
  /**
   * mulCommon, plus the affine coordinates (x || y, 64 canonical bytes per element) of each
   * decoded input, for WasmMsm.msmAffine: the DLEQ composite over the same elements
   * without decoding them again (RFC 9497 §2.2.1 on the server).
   */
  mulCommonXY(scalar: bigint | Uint8Array, packed: Uint8Array): { evaluated: Uint8Array; xy: Uint8Array };
  /**
   * scalars[i] * OneWayMap(uniform[i]) (client blinding, fused: no encoding of H(x_i) in
   * between); scalars as n x 32 bytes little-endian, each in [1, L) (else `bad_scalar`).
   */
  hashMulEach(scalars: Uint8Array, uniform: Uint8Array): Uint8Array;
  /**
   * mulEach with n x 32 bytes of scalars, each in [1, L) (else `bad_scalar`), plus the
   * affine coordinates of each decoded input (as mulCommonXY), for WasmMsm.msmAffine.
   */
  mulEachXY(scalars: Uint8Array, packed: Uint8Array): { products: Uint8Array; xy: Uint8Array };
  /**
   * firstInvalid, plus the affine coordinates (x || y, 64 bytes per element, as mulCommonXY
   * gives them) of every element when all are valid (null otherwise): a server checks a
   * chunk when it arrives and evaluates it later from these, decoding each element once.
   */
  validateXY(packed: Uint8Array): { firstInvalid: number; xy: Uint8Array | null };
  /**
   * scalar * each point given by its affine coordinates (n x 64 bytes), encoded: mulCommon
   * without the decoding. Only for coordinates that validateXY or mulCommonXY returned
   * (decoded, checked, not the identity): nothing here checks that they are on the curve.
   */
  mulCommonFromXY(scalar: bigint | Uint8Array, xy: Uint8Array): Uint8Array;
  /** The fixed-base comb on the same instance (fixed-base-x4.ts): additive blinding and unblinding. */
  readonly fixedBase: FixedBaseX4;
  /**
   * M = sum weights_i C_i and Z = sum weights_i D_i (null: the identity) for C, D given as
   * validateXY coordinates, weights 32 bytes each below 2^253: the client's DLEQ
   * composites in one paired pass (composites-x4.ts); public data only.
   */
  readonly compositePair: CompositePair;
}

/** The module's exports (asm/ristretto255-x4/index.ts). */
export interface WasmX4Exports extends FixedBaseExports, CompositesExports {
  readonly memory: WebAssembly.Memory;
  alloc(size: number): number;
  mulEach(n: number, scalars: number, points: number, out: number): number;
  mulCommon(n: number, scalar: number, points: number, out: number): number;
  hashMulCommon(n: number, scalar: number, uniform: number, out: number): number;
  fromHash(n: number, uniform: number, out: number): number;
  validate(n: number, points: number): number;
  mulCommonXY(n: number, scalar: number, points: number, out: number, xy: number): number;
  hashMulEach(n: number, scalars: number, uniform: number, out: number): number;
  mulEachXY(n: number, scalars: number, points: number, out: number, xy: number): number;
  validateXY(n: number, points: number, xy: number): number;
  mulCommonFromXY(n: number, scalar: number, xy: number, out: number): number;
}

const EXPORTS = [
  'alloc',
  'mulEach',
  'mulCommon',
  'hashMulCommon',
  'fromHash',
  'validate',
  'mulCommonXY',
  'hashMulEach',
  'mulEachXY',
  'validateXY',
  'mulCommonFromXY',
  ...FIXED_BASE_EXPORTS,
  ...COMPOSITES_EXPORTS,
] as const;

const ELEMENT_SIZE = 32;
const UNIFORM_SIZE = 64;
/** Elements per WASM call: bounds the I/O area (~400 KB) whatever the batch size. */
const SLICE = 4096;
/** RFC 9496 §4.4: the order of the ristretto255 group. */
const ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;
/** ORDER as 32 bytes little-endian (for the constant-time range check of byte scalars). */
const ORDER_LE = scalarToBytes(ORDER);

let loading: Promise<WasmX4 | null> | undefined;

/** The four-lane WASM multiplier, loaded and self-tested once per process; null when unavailable here. */
export function loadWasmX4(): Promise<WasmX4 | null> {
  loading ??= load().then((loaded) => (loaded === null ? null : loaded.api));
  return loading;
}

/** The raw exports next to the API, for tests of the status codes (not part of the public surface). */
export async function loadWasmX4Internals(): Promise<{ api: WasmX4; exports: WasmX4Exports } | null> {
  return load();
}

async function load(): Promise<{ api: WasmX4; exports: WasmX4Exports } | null> {
  if (typeof WebAssembly !== 'object' || typeof WebAssembly.instantiate !== 'function') return null;
  try {
    const bytes = decodeWasmBase64(WASM_BASE64);
    // validate() is false where the engine lacks WebAssembly SIMD (or the file is damaged).
    if (!WebAssembly.validate(bytes)) return null;
    const { instance } = await WebAssembly.instantiate(bytes, {});
    const ex = instance.exports as Record<string, unknown>;
    if (!(ex.memory instanceof WebAssembly.Memory) || !EXPORTS.every((name) => typeof ex[name] === 'function')) return null;
    const exports = ex as unknown as WasmX4Exports;
    const api = makeWasmX4(exports);
    return selfTestPasses(api) ? { api, exports } : null;
  } catch {
    return null;
  }
}


// ---------------------------------------------------------------------------------------
// Scalars


function isValidScalar(s: unknown): s is bigint {
  return typeof s === 'bigint' && s > 0n && s < ORDER;
}

/** A common scalar as 32 bytes of our own (wiped after use), or null when it is not in [1, L); bytes never become a BigInt. */
function commonScalarBytes(s: bigint | Uint8Array): Uint8Array | null {
  if (s instanceof Uint8Array) return s.length === 32 && bytesScalarValid(s, 0) ? s.slice() : null;
  return isValidScalar(s) ? scalarToBytes(s) : null;
}

const BAD_SCALAR = 'invalid scalar: expected 1 <= scalar < group order';

/**
 * 1 <= the 32 bytes at `at` (little endian) < L, without a data-dependent branch: the
 * borrow of s - L over all bytes, and an OR of all bytes for the zero test.
 */
function bytesScalarValid(bytes: Uint8Array, at: number): boolean {
  let borrow = 0;
  let any = 0;
  for (let i = 0; i < 32; i++) {
    const b = bytes[at + i];
    borrow = ((b - ORDER_LE[i] - borrow) >> 8) & 1;
    any |= b;
  }
  return (borrow & ((any + 0xff) >> 8)) === 1;
}

// ---------------------------------------------------------------------------------------
// The API

function noMemory(): ContactPsiError {
  return new ContactPsiError('backend_unavailable', 'the WebAssembly SIMD multiplier could not grow its memory');
}

function checkPacked(packed: Uint8Array, size: number, what: string): number {
  if (!(packed instanceof Uint8Array) || packed.length % size !== 0) {
    throw new GroupError('bad_length', `${what} length is not a multiple of ${size}`);
  }
  return packed.length / size;
}

function isZeroAt(bytes: Uint8Array, at: number, length: number): boolean {
  let acc = 0;
  for (let i = 0; i < length; i++) acc |= bytes[at + i];
  return acc === 0;
}

function makeWasmX4(ex: WasmX4Exports): WasmX4 {
  /** Pointer to `size` bytes of I/O space (memory may have grown: views are taken afterwards). */
  const alloc = (size: number): number => {
    const base = ex.alloc(size);
    if (base === 0) throw noMemory();
    return base;
  };
  const heap = (): Uint8Array => new Uint8Array(ex.memory.buffer);

  /**
   * Turns a WASM status for a slice starting at element `first` into a GroupError:
   * -(i + 1) = input i of the slice is invalid or the identity, +(i + 1) = result i is
   * the identity. `elements` points at the slice's input elements (for the identity test).
   */
  const raise = (status: number, first: number, elements: number): never => {
    if (status < 0) {
      const i = -status - 1;
      const index = first + i;
      // The identity's only encoding is 32 zero bytes (RFC 9496 §4.3.2).
      if (isZeroAt(heap(), elements + ELEMENT_SIZE * i, ELEMENT_SIZE)) {
        throw new GroupError('identity_element', `element at index ${index} is the identity`);
      }
      throw new GroupError('bad_element', `element at index ${index} is not a canonical encoding of a group element`);
    }
    throw new GroupError('identity_element', 'result is the identity');
  };

  /**
   * Runs `call` over slices of at most SLICE elements. Layout per slice: [fixed | inputs |
   * out]; `fill` writes the inputs (and fixed bytes), everything is wiped after the copy
   * out (inputs and results may be secret: blinds, H(contact), unblinded outputs).
   * `elementsAt` locates the input elements within a slice's inputs (for error reports).
   */
  const sliced = (
    n: number,
    fixedSize: number,
    inputSize: number,
    fill: (H: Uint8Array, fixed: number, inputs: number, first: number, count: number) => void,
    call: (count: number, fixed: number, inputs: number, out: number) => number,
    elementsAt: (inputs: number, count: number) => number = (inputs) => inputs,
  ): Uint8Array => {
    const out = new Uint8Array(n * ELEMENT_SIZE);
    for (let first = 0; first < n; first += SLICE) {
      const count = Math.min(SLICE, n - first);
      const used = fixedSize + count * (inputSize + ELEMENT_SIZE);
      const fixed = alloc(used);
      const inputs = fixed + fixedSize;
      const outAt = inputs + count * inputSize;
      try {
        fill(heap(), fixed, inputs, first, count);
        const status = call(count, fixed, inputs, outAt);
        if (status !== 0) raise(status, first, elementsAt(inputs, count));
        out.set(heap().subarray(outAt, outAt + count * ELEMENT_SIZE), first * ELEMENT_SIZE);
      } finally {
        heap().fill(0, fixed, fixed + used);
      }
    }
    return out;
  };

  /** Whether element i of packed decodes (used only on error paths, to order errors as sodium does). */
  const elementValid = (packed: Uint8Array, i: number): boolean => {
    try {
      sliced(1, 32, ELEMENT_SIZE, (H, fixed, inputs) => {
        H[fixed] = 1;
        H.set(packed.subarray(i * ELEMENT_SIZE, (i + 1) * ELEMENT_SIZE), inputs);
      }, (count, fixed, inputs, o) => ex.mulCommon(count, fixed, inputs, o));
      return true;
    } catch {
      return false;
    }
  };

  const mulCommon = (scalar: bigint | Uint8Array, packed: Uint8Array): Uint8Array => {
    const n = checkPacked(packed, ELEMENT_SIZE, 'packed batch');
    if (n === 0) return new Uint8Array(0);
    // sodium checks the scalar after element 0 (as noble does).
    const sb = commonScalarBytes(scalar);
    if (sb === null) {
      if (!elementValid(packed, 0)) mulCommon(1n, packed.subarray(0, ELEMENT_SIZE)); // throws element 0's error
      throw new GroupError('bad_scalar', BAD_SCALAR);
    }
    try {
      return sliced(n, 32, ELEMENT_SIZE, (H, fixed, inputs, first, count) => {
        H.set(sb, fixed);
        H.set(packed.subarray(first * ELEMENT_SIZE, (first + count) * ELEMENT_SIZE), inputs);
      }, (count, fixed, inputs, o) => ex.mulCommon(count, fixed, inputs, o));
    } finally {
      sb.fill(0);
    }
  };

  const mulEach = (scalars: readonly bigint[] | Uint8Array, packed: Uint8Array): Uint8Array => {
    const n = checkPacked(packed, ELEMENT_SIZE, 'packed batch');
    const asBytes = scalars instanceof Uint8Array;
    if (asBytes ? scalars.length !== 32 * n : !Array.isArray(scalars) || scalars.length !== n) {
      throw new GroupError('bad_length', 'one scalar per element expected');
    }
    // sodium reports, in index order, element i's decoding error before scalar i's range error.
    let badScalar = -1;
    for (let i = 0; i < n && badScalar < 0; i++) {
      const ok = asBytes ? bytesScalarValid(scalars, 32 * i) : isValidScalar((scalars as readonly bigint[])[i]);
      if (!ok) badScalar = i;
    }
    const count = badScalar < 0 ? n : badScalar + 1;
    const result = sliced(count, 0, 2 * ELEMENT_SIZE, (H, _fixed, inputs, first, c) => {
      // Inputs of a slice: c scalars, then c elements (the WASM reads them as two arrays).
      for (let i = 0; i < c; i++) {
        const at = inputs + 32 * i;
        const k = first + i;
        if (k === badScalar) H[at] = 1; // placeholder: only element k's validity matters now
        else if (asBytes) H.set(scalars.subarray(32 * k, 32 * k + 32), at);
        else writeScalar(H, at, (scalars as readonly bigint[])[k]);
      }
      H.set(packed.subarray(first * ELEMENT_SIZE, (first + c) * ELEMENT_SIZE), inputs + 32 * c);
    }, (c, _fixed, inputs, o) => ex.mulEach(c, inputs, inputs + 32 * c, o), (inputs, c) => inputs + 32 * c);
    if (badScalar >= 0) throw new GroupError('bad_scalar', BAD_SCALAR);
    return result;
  };

  const hashMulCommon = (scalar: bigint | Uint8Array, uniform: Uint8Array): Uint8Array => {
    const n = checkPacked(uniform, UNIFORM_SIZE, 'uniform batch');
    const sb = commonScalarBytes(scalar);
    if (sb === null) throw new GroupError('bad_scalar', BAD_SCALAR);
    if (n === 0) {
      sb.fill(0);
      return new Uint8Array(0);
    }
    try {
      return sliced(n, 32, UNIFORM_SIZE, (H, fixed, inputs, first, count) => {
        H.set(sb, fixed);
        H.set(uniform.subarray(first * UNIFORM_SIZE, (first + count) * UNIFORM_SIZE), inputs);
      }, (count, fixed, inputs, o) => ex.hashMulCommon(count, fixed, inputs, o));
    } finally {
      sb.fill(0);
    }
  };

  const fromHash = (uniform: Uint8Array): Uint8Array => {
    const n = checkPacked(uniform, UNIFORM_SIZE, 'uniform batch');
    if (n === 0) return new Uint8Array(0);
    return sliced(n, 0, UNIFORM_SIZE, (H, _fixed, inputs, first, count) => {
      H.set(uniform.subarray(first * UNIFORM_SIZE, (first + count) * UNIFORM_SIZE), inputs);
    }, (count, _fixed, inputs, o) => ex.fromHash(count, inputs, o));
  };

  const firstInvalid = (packed: Uint8Array): number => {
    const n = checkPacked(packed, ELEMENT_SIZE, 'packed batch');
    for (let first = 0; first < n; first += SLICE) {
      const count = Math.min(SLICE, n - first);
      const at = alloc(count * ELEMENT_SIZE);
      heap().set(packed.subarray(first * ELEMENT_SIZE, (first + count) * ELEMENT_SIZE), at);
      const status = ex.validate(count, at);
      heap().fill(0, at, at + count * ELEMENT_SIZE); // as every other call: no copy left behind
      if (status < 0) return first - status - 1;
    }
    return -1;
  };

  const mulCommonXY = (scalar: bigint | Uint8Array, packed: Uint8Array): { evaluated: Uint8Array; xy: Uint8Array } => {
    const n = checkPacked(packed, ELEMENT_SIZE, 'packed batch');
    const xy = new Uint8Array(n * 2 * ELEMENT_SIZE);
    if (n === 0) return { evaluated: new Uint8Array(0), xy };
    const sb = commonScalarBytes(scalar);
    if (sb === null) {
      mulCommon(scalar, packed); // throws mulCommon's error, in its order
      throw new GroupError('bad_scalar', BAD_SCALAR);
    }
    const evaluated = new Uint8Array(n * ELEMENT_SIZE);
    try {
      for (let first = 0; first < n; first += SLICE) {
        const count = Math.min(SLICE, n - first);
        // Layout: scalar 32 | inputs 32 count | out 32 count | xy 64 count.
        const used = 32 + count * 4 * ELEMENT_SIZE;
        const fixed = alloc(used);
        const inputs = fixed + 32;
        const outAt = inputs + count * ELEMENT_SIZE;
        const xyAt = outAt + count * ELEMENT_SIZE;
        try {
          const H = heap();
          H.set(sb, fixed);
          H.set(packed.subarray(first * ELEMENT_SIZE, (first + count) * ELEMENT_SIZE), inputs);
          const status = ex.mulCommonXY(count, fixed, inputs, outAt, xyAt);
          if (status !== 0) raise(status, first, inputs);
          evaluated.set(heap().subarray(outAt, outAt + count * ELEMENT_SIZE), first * ELEMENT_SIZE);
          xy.set(heap().subarray(xyAt, xyAt + count * 2 * ELEMENT_SIZE), first * 2 * ELEMENT_SIZE);
        } finally {
          heap().fill(0, fixed, fixed + used);
        }
      }
    } finally {
      sb.fill(0);
    }
    return { evaluated, xy };
  };

  const hashMulEach = (scalars: Uint8Array, uniform: Uint8Array): Uint8Array => {
    const n = checkPacked(uniform, UNIFORM_SIZE, 'uniform batch');
    if (!(scalars instanceof Uint8Array) || scalars.length !== 32 * n) throw new GroupError('bad_length', 'one scalar per element expected');
    for (let i = 0; i < n; i++) if (!bytesScalarValid(scalars, 32 * i)) throw new GroupError('bad_scalar', BAD_SCALAR);
    if (n === 0) return new Uint8Array(0);
    // Inputs of a slice: its scalars, then its uniform strings (secret: blinds, H(contact); wiped by sliced).
    return sliced(n, 0, 32 + UNIFORM_SIZE, (H, _fixed, inputs, first, count) => {
      H.set(scalars.subarray(32 * first, 32 * (first + count)), inputs);
      H.set(uniform.subarray(first * UNIFORM_SIZE, (first + count) * UNIFORM_SIZE), inputs + 32 * count);
    }, (count, _fixed, inputs, o) => ex.hashMulEach(count, inputs, inputs + 32 * count, o));
  };

  const mulEachXY = (scalars: Uint8Array, packed: Uint8Array): { products: Uint8Array; xy: Uint8Array } => {
    const n = checkPacked(packed, ELEMENT_SIZE, 'packed batch');
    if (!(scalars instanceof Uint8Array) || scalars.length !== 32 * n) throw new GroupError('bad_length', 'one scalar per element expected');
    for (let i = 0; i < n; i++) if (!bytesScalarValid(scalars, 32 * i)) throw new GroupError('bad_scalar', BAD_SCALAR);
    const products = new Uint8Array(n * ELEMENT_SIZE);
    const xy = new Uint8Array(n * 2 * ELEMENT_SIZE);
    for (let first = 0; first < n; first += SLICE) {
      const count = Math.min(SLICE, n - first);
      // Layout: scalars 32 count | inputs 32 count | out 32 count | xy 64 count (secrets: wiped after).
      const used = count * 5 * ELEMENT_SIZE;
      const sc = alloc(used);
      const inputs = sc + count * 32;
      const outAt = inputs + count * ELEMENT_SIZE;
      const xyAt = outAt + count * ELEMENT_SIZE;
      try {
        const H = heap();
        H.set(scalars.subarray(32 * first, 32 * (first + count)), sc);
        H.set(packed.subarray(first * ELEMENT_SIZE, (first + count) * ELEMENT_SIZE), inputs);
        const status = ex.mulEachXY(count, sc, inputs, outAt, xyAt);
        if (status !== 0) raise(status, first, inputs);
        products.set(heap().subarray(outAt, outAt + count * ELEMENT_SIZE), first * ELEMENT_SIZE);
        xy.set(heap().subarray(xyAt, xyAt + count * 2 * ELEMENT_SIZE), first * 2 * ELEMENT_SIZE);
      } finally {
        heap().fill(0, sc, sc + used);
      }
    }
    return { products, xy };
  };

  const validateXY = (packed: Uint8Array): { firstInvalid: number; xy: Uint8Array | null } => {
    const n = checkPacked(packed, ELEMENT_SIZE, 'packed batch');
    const xy = new Uint8Array(n * 2 * ELEMENT_SIZE);
    for (let first = 0; first < n; first += SLICE) {
      const count = Math.min(SLICE, n - first);
      const used = count * 3 * ELEMENT_SIZE; // inputs 32 count | xy 64 count
      const at = alloc(used);
      try {
        heap().set(packed.subarray(first * ELEMENT_SIZE, (first + count) * ELEMENT_SIZE), at);
        const status = ex.validateXY(count, at, at + count * ELEMENT_SIZE);
        if (status < 0) return { firstInvalid: first - status - 1, xy: null };
        xy.set(heap().subarray(at + count * ELEMENT_SIZE, at + used), first * 2 * ELEMENT_SIZE);
      } finally {
        heap().fill(0, at, at + used);
      }
    }
    return { firstInvalid: -1, xy };
  };

  const mulCommonFromXY = (scalar: bigint | Uint8Array, xy: Uint8Array): Uint8Array => {
    const n = checkPacked(xy, 2 * ELEMENT_SIZE, 'affine coordinates');
    const sb = commonScalarBytes(scalar);
    if (sb === null) throw new GroupError('bad_scalar', BAD_SCALAR);
    if (n === 0) {
      sb.fill(0);
      return new Uint8Array(0);
    }
    try {
      return sliced(n, 32, 2 * ELEMENT_SIZE, (H, fixed, inputs, first, count) => {
        H.set(sb, fixed);
        H.set(xy.subarray(first * 2 * ELEMENT_SIZE, (first + count) * 2 * ELEMENT_SIZE), inputs);
      }, (count, fixed, inputs, o) => ex.mulCommonFromXY(count, fixed, inputs, o));
    } finally {
      sb.fill(0);
    }
  };

  const fixedBase = makeFixedBaseX4(ex);
  const compositePair = makeCompositePair(ex);
  return Object.freeze({ mulEach, mulCommon, hashMulCommon, fromHash, firstInvalid, mulCommonXY, hashMulEach, mulEachXY, validateXY, mulCommonFromXY, fixedBase, compositePair });
}

function writeScalar(H: Uint8Array, at: number, s: bigint): void {
  const view = new DataView(H.buffer, H.byteOffset + at, 32);
  view.setBigUint64(0, BigInt.asUintN(64, s), true);
  view.setBigUint64(8, BigInt.asUintN(64, s >> 64n), true);
  view.setBigUint64(16, BigInt.asUintN(64, s >> 128n), true);
  view.setBigUint64(24, s >> 192n, true);
}

// ---------------------------------------------------------------------------------------
// Known-answer self-test (RFC 9496 Appendix A.1 and A.3)

const KAT = {
  generator: 'e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76',
  twoG: '6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919',
  threeG: '94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259',
  mapInput:
    '5d1be09e3d0c82fc538112490e35701979d99e06ca3e2b5b54bffe8b4dc772c1' +
    '4d98b696a1bbfb5ca32c436cc61c16563790306c79eaca7705668b47dffe5bb6',
  mapOutput: '3066f82a1a747d45120d1740f14358531a8f04bbffe6a819f86dfe50f44a0a46',
  // Computed with @noble/curves: k1 recodes to digits of every magnitude 0..8 (each table
  // entry and the sign handling are exercised); k2 is close to L, times 3B.
  k1: 0xf1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1n,
  k1B: '5ec415f0d2d2d8b9b7fae2ef90d648e11e306caa1fd3b361b82024518f6d6457',
  k2: 0x1000000000000000000000000000000002aaa366083abde55935a881e6a1a1ddn,
  k2ThreeB: '2e5992ca23ea7f2680615d13243e787946b2ab5e47a9a63ac7e3e859e3b60556',
} as const;



function selfTestPasses(api: WasmX4): boolean {
  try {
    const g = fromHex(KAT.generator);
    const pair = new Uint8Array(64);
    pair.set(g, 0);
    pair.set(g, 32);
    if (toHex(api.mulCommon(2n, g)) !== KAT.twoG) return false;
    const each = api.mulEach([3n, 2n], pair);
    if (toHex(each.subarray(0, 32)) !== KAT.threeG || toHex(each.subarray(32)) !== KAT.twoG) return false;
    if (toHex(api.mulCommon(KAT.k1, g)) !== KAT.k1B) return false;
    const mixed = api.mulEach([KAT.k2, KAT.k1], Uint8Array.of(...fromHex(KAT.threeG), ...g));
    if (toHex(mixed.subarray(0, 32)) !== KAT.k2ThreeB || toHex(mixed.subarray(32)) !== KAT.k1B) return false;
    if (toHex(api.fromHash(fromHex(KAT.mapInput))) !== KAT.mapOutput) return false;
    // The comb against the ladder's known answers (every digit magnitude, both signs).
    const combed = api.fixedBase.mulBaseEach(g, Uint8Array.of(...scalarToBytes(KAT.k1), ...scalarToBytes(3n)));
    if (toHex(combed.subarray(0, 32)) !== KAT.k1B || toHex(combed.subarray(32)) !== KAT.threeG) return false;
    return toHex(api.hashMulCommon(2n, fromHex(KAT.mapInput))) === toHex(api.mulCommon(2n, fromHex(KAT.mapOutput)));
  } catch {
    return false;
  }
}
