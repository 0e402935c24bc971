/**
 * Loader for the ristretto255 multi-scalar multiplication in WebAssembly (source in
 * asm/ristretto255/, built by scripts/build-wasm.mjs into ./wasm/ristretto255.wasm and
 * inlined as base64 by scripts/wasm-inline.mjs into ./wasm/ristretto255.wasm-bytes.ts).
 * It serves the DLEQ proof composites (RFC 9497 §2.2.1 ComputeComposites: M = sum d_i C_i,
 * Z = sum d_i D_i), whose inputs are all public, so the WASM code is variable-time; never pass it a secret scalar.
 *
 * `loadWasmMsm()` resolves to null (and the caller keeps its own path) when WebAssembly
 * is unavailable (or refused by a Content-Security-Policy without 'wasm-unsafe-eval'), or
 * the module fails its known-answer self-test.
 */
import { ContactPsiError, GroupError } from '../errors.js';
import { decodeWasmBase64, fromHex, toHex } from './wasm-bytes.js';
// The bytes, inlined at build time (scripts/wasm-inline.mjs): nothing to fetch or locate.
import { WASM_BASE64 } from './wasm/ristretto255.wasm-bytes.js';

export interface WasmMsmOptions {
  /** Force the algorithm (tests, tuning): 0 = Straus, 2..16 = Pippenger with that window. */
  readonly window?: number;
}

export interface WasmMsm {
  /**
   * The encoding of sum scalars[i] * element i of `packed` (n x 32 bytes). Scalars are
   * bigints in [0, L), or n x 32 bytes little-endian below 2^253 (callers reduce mod L).
   * Throws GroupError: `bad_element` / `identity_element` naming the first bad element
   * (RFC 9496 §4.3.1 strict decoding; RFC 9497 §3.3 rejects the identity), `identity_element`
   * for an identity sum, `bad_scalar`, `bad_length`; ContactPsiError `backend_unavailable`
   * when the WebAssembly memory cannot grow.
   */
  msm(scalars: readonly bigint[] | Uint8Array, packed: Uint8Array, options?: WasmMsmOptions): Uint8Array;
  /**
   * msm over points given as affine coordinates (x || y, 64 bytes each) that a strict
   * decoding produced (WasmX4.mulCommonXY), so nothing is decoded or checked here: pass
   * only coordinates from there. Scalars as in msm(); the identity sum is `identity_element`.
   */
  msmAffine(scalars: readonly bigint[] | Uint8Array, xy: Uint8Array): Uint8Array;
  /** The algorithm msm() picks for n elements: 0 = Straus, else the Pippenger window. */
  windowFor(n: number): number;
  /** decode then encode one element (RFC 9496 §4.3.1, §4.3.2); a diagnostic for the field code. */
  roundTrip(element: Uint8Array): Uint8Array;
}

/** The module's exports (asm/ristretto255/index.ts). */
interface MsmExports {
  readonly memory: WebAssembly.Memory;
  scratch(n: number): number;
  msm(n: number, scalars: number, points: number, out: number): number;
  msmWindow(n: number, scalars: number, points: number, out: number, window: number): number;
  windowFor(n: number): number;
  errorIndex(): number;
  roundTrip(input: number, out: number): number;
  scratchAffine(n: number): number;
  msmAffine(n: number, scalars: number, xy: number, out: number): number;
}

const EXPORTS = ['scratch', 'msm', 'msmWindow', 'windowFor', 'errorIndex', 'roundTrip', 'scratchAffine', 'msmAffine'] as const;

/** Status codes of asm/ristretto255/msm.ts. */
const Status = { OK: 0, IDENTITY: 1, BAD_ENCODING: 2, IDENTITY_INPUT: 3, BAD_SCALAR: 4, NO_MEMORY: 5, BAD_ARGUMENT: 6 } as const;

const ELEMENT_SIZE = 32;
/** RFC 9496 §4.4: the order of the ristretto255 group. */
const ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;

let loading: Promise<WasmMsm | null> | undefined;

/** The WASM MSM, loaded and self-tested once per process; null when unavailable here. */
export function loadWasmMsm(): Promise<WasmMsm | null> {
  loading ??= load();
  return loading;
}

async function load(): Promise<WasmMsm | null> {
  if (typeof WebAssembly !== 'object' || typeof WebAssembly.instantiate !== 'function') return null;
  try {
    const bytes = decodeWasmBase64(WASM_BASE64);
    const { instance } = await WebAssembly.instantiate(bytes, {});
    const ex = instance.exports as Record<string, unknown>;
    if (!(ex.memory instanceof WebAssembly.Memory) || !EXPORTS.every((name) => typeof ex[name] === 'function')) return null;
    const msm = makeWasmMsm(ex as unknown as MsmExports);
    return selfTestPasses(msm) ? msm : null;
  } catch {
    return null;
  }
}


/** scalars[i] as 32 bytes little-endian at offset + 32i: four 64-bit words per scalar. */
function writeScalars(view: DataView, offset: number, scalars: readonly bigint[]): void {
  for (let i = 0; i < scalars.length; i++) {
    const s = scalars[i];
    if (typeof s !== 'bigint' || s < 0n || s >= ORDER) {
      throw new GroupError('bad_scalar', `scalar at index ${i} must be in [0, group order)`);
    }
    const o = offset + 32 * i;
    view.setBigUint64(o, BigInt.asUintN(64, s), true);
    view.setBigUint64(o + 8, BigInt.asUintN(64, s >> 64n), true);
    view.setBigUint64(o + 16, BigInt.asUintN(64, s >> 128n), true);
    view.setBigUint64(o + 24, s >> 192n, true);
  }
}

function noMemory(): ContactPsiError {
  return new ContactPsiError('backend_unavailable', 'the WebAssembly MSM could not grow its memory');
}

function makeWasmMsm(ex: MsmExports): WasmMsm {
  const msm = (scalars: readonly bigint[] | Uint8Array, packed: Uint8Array, options: WasmMsmOptions = {}): Uint8Array => {
    if (!(packed instanceof Uint8Array) || packed.length % ELEMENT_SIZE !== 0) {
      throw new GroupError('bad_length', `packed batch length is not a multiple of ${ELEMENT_SIZE}`);
    }
    const n = packed.length / ELEMENT_SIZE;
    const asBytes = scalars instanceof Uint8Array;
    if (asBytes ? scalars.length !== 32 * n : scalars.length !== n) {
      throw new GroupError('bad_length', 'one scalar per element expected');
    }
    const base = ex.scratch(n);
    if (base === 0) throw noMemory();
    const S = base;
    const P = base + 32 * n;
    const O = base + 64 * n;
    // Views are taken after scratch() and again after msm(): either may grow the memory,
    // which detaches the previous ArrayBuffer.
    if (asBytes) new Uint8Array(ex.memory.buffer).set(scalars, S);
    else writeScalars(new DataView(ex.memory.buffer), S, scalars);
    new Uint8Array(ex.memory.buffer).set(packed, P);
    const status = options.window === undefined ? ex.msm(n, S, P, O) : ex.msmWindow(n, S, P, O, options.window);
    const at = ex.errorIndex();
    switch (status) {
      case Status.OK:
        return new Uint8Array(ex.memory.buffer).slice(O, O + ELEMENT_SIZE);
      case Status.IDENTITY:
        throw new GroupError('identity_element', 'result is the identity');
      case Status.BAD_ENCODING:
        throw new GroupError('bad_element', `element at index ${at} is not a canonical encoding of a group element`);
      case Status.IDENTITY_INPUT:
        throw new GroupError('identity_element', `element at index ${at} is the identity`);
      case Status.BAD_SCALAR:
        throw new GroupError('bad_scalar', `scalar at index ${at} must be below 2^253`);
      case Status.NO_MEMORY:
        throw noMemory();
      case Status.BAD_ARGUMENT:
        throw new RangeError(`unsupported MSM window ${String(options.window)}`);
      default:
        throw new Error(`the WebAssembly MSM returned an unknown status ${status}`);
    }
  };
  const msmAffine = (scalars: readonly bigint[] | Uint8Array, xy: Uint8Array): Uint8Array => {
    if (!(xy instanceof Uint8Array) || xy.length % (2 * ELEMENT_SIZE) !== 0) {
      throw new GroupError('bad_length', `affine coordinates length is not a multiple of ${2 * ELEMENT_SIZE}`);
    }
    const n = xy.length / (2 * ELEMENT_SIZE);
    const asBytes = scalars instanceof Uint8Array;
    if (asBytes ? scalars.length !== 32 * n : scalars.length !== n) throw new GroupError('bad_length', 'one scalar per element expected');
    const base = ex.scratchAffine(n);
    if (base === 0) throw noMemory();
    const S = base;
    const P = base + 32 * n;
    const O = base + 96 * n;
    if (asBytes) new Uint8Array(ex.memory.buffer).set(scalars, S);
    else writeScalars(new DataView(ex.memory.buffer), S, scalars);
    new Uint8Array(ex.memory.buffer).set(xy, P);
    const status = ex.msmAffine(n, S, P, O);
    if (status === Status.OK) return new Uint8Array(ex.memory.buffer).slice(O, O + ELEMENT_SIZE);
    if (status === Status.IDENTITY) throw new GroupError('identity_element', 'result is the identity');
    if (status === Status.BAD_SCALAR) throw new GroupError('bad_scalar', `scalar at index ${ex.errorIndex()} must be below 2^253`);
    if (status === Status.NO_MEMORY) throw noMemory();
    throw new Error(`the WebAssembly MSM returned an unknown status ${status}`);
  };
  return Object.freeze({
    msm,
    msmAffine,
    windowFor: (n: number) => ex.windowFor(n),
    roundTrip(element: Uint8Array) {
      if (!(element instanceof Uint8Array) || element.length !== ELEMENT_SIZE) {
        throw new GroupError('bad_length', `element must be ${ELEMENT_SIZE} bytes`);
      }
      const base = ex.scratch(1);
      if (base === 0) throw noMemory();
      new Uint8Array(ex.memory.buffer).set(element, base);
      if (ex.roundTrip(base, base + 32) !== Status.OK) {
        throw new GroupError('bad_element', 'element is not a canonical encoding of a group element');
      }
      return new Uint8Array(ex.memory.buffer).slice(base + 32, base + 64);
    },
  });
}

// ---------------------------------------------------------------------------------------
// Known-answer self-test (RFC 9496 A.1 multiples of the generator, A.2 a bad encoding),
// through both algorithms, before anything relies on the module.

const KAT = {
  g: 'e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76',
  g2: '6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919',
  g3: '94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259',
  g5: 'e882b131016b52c1d3337080187cf768423efccbb517bb495ab812c4160ff44e',
  nonCanonical: 'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
} as const;



function errorCode(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (err) {
    return err instanceof ContactPsiError ? `${err.code}: ${err.message}` : 'other';
  }
}

function selfTestPasses(m: WasmMsm): boolean {
  try {
    const g = fromHex(KAT.g);
    const g2 = fromHex(KAT.g2);
    const pair = new Uint8Array([...g, ...g2]);
    const identity = 'identity_element: result is the identity';
    for (const window of [0, 2, 5]) {
      if (toHex(m.msm([3n, 1n], pair, { window })) !== KAT.g5) return false; // 3G + 2G
      if (toHex(m.msm([2n, 1n], new Uint8Array([...g, ...g]), { window })) !== KAT.g3) return false;
      if (errorCode(() => m.msm([ORDER - 2n, 1n], pair, { window })) !== identity) return false; // -2G + 2G
    }
    const bad = new Uint8Array([...g, ...fromHex(KAT.nonCanonical)]);
    return errorCode(() => m.msm([1n, 1n], bad)) === 'bad_element: element at index 1 is not a canonical encoding of a group element';
  } catch {
    return false;
  }
}
