/**
 * The fast backend: ristretto255 on libsodium (WASM, libsodium-wrappers-sumo), byte for
 * byte identical to `nobleRistretto255` (test/group-backends.test.ts proves it). Loaded on
 * demand with a dynamic import, so code that never asks for it never pays for the WASM, and
 * an environment without WebAssembly simply falls back to noble (see select.ts).
 *
 * Two ways to reach libsodium, the same semantics:
 * - 'raw': the emscripten module under the wrappers (`sodium.libsodium`), called on one
 *   scratch block of WASM memory allocated once. No malloc/free per call, and secret bytes
 *   (blinds, messages) are wiped from WASM memory after every call, which the wrappers do
 *   not do. expand_message_xmd runs on libsodium's SHA-512 here (noble's costs as much
 *   as the one-way map itself).
 * - 'wrapper': the documented wrapper functions plus noble's expand_message_xmd.
 * The raw module is not part of the wrappers' typed API, so 'auto' uses it only when every
 * function is present and a known-answer self-test passes; otherwise the wrappers.
 *
 * libsodium has no multi-scalar multiplication, so `multiScalarMultiply` (the DLEQ
 * composites) runs on our own WebAssembly Pippenger/Straus MSM (wasm-msm.ts) when it loads,
 * and falls back to n libsodium multiplications and additions otherwise.
 *
 * Batches of at least X4_MIN_BATCH elements (multiplyPacked, multiplyEach,
 * hashToGroupBatch, hashToGroupMultiply) run on our four-lane WebAssembly SIMD module
 * (wasm-x4.ts: four points per pass, constant time, ~2x libsodium per point) when it loads;
 * single elements and smaller batches stay on libsodium, which does one point per pass.
 */
import { expand_message_xmd } from '@noble/curves/abstract/hash-to-curve.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { ContactPsiError, GroupError } from '../errors.js';
import { elementAt, packedCount } from './packed.js';
import { makeScalarField } from './scalar-field.js';
import type { Group } from './types.js';
import { loadWasmMsm, type WasmMsm } from './wasm-msm.js';
import { loadWasmX4, type WasmX4 } from './wasm-x4.js';
import { fromHex, scalarToBytes, toHex } from './wasm-bytes.js';

export type SodiumMode = 'auto' | 'raw' | 'wrapper';

/** How `multiScalarMultiply` is computed: the WASM MSM ('wasm'), or one libsodium multiplication and addition per element ('naive'). */
export type SodiumMsmMode = 'auto' | 'wasm' | 'naive';

export interface SodiumRistrettoOptions {
  /** How to call libsodium (see the file comment); 'auto' prefers 'raw' when its self-test passes. */
  readonly mode?: SodiumMode;
  /** 'auto' (default) uses the WASM MSM when it loads and passes its self-test; 'wasm' requires it. */
  readonly msm?: SodiumMsmMode;
  /** 'auto' (default) runs batches on the four-lane SIMD module when it loads; 'off' keeps them on libsodium. */
  readonly simd?: 'auto' | 'off';
}

/** From this many elements a four-lane pass (fixed cost of four points) beats libsodium's one at a time. */
export const X4_MIN_BATCH = 3;

/** The byte-level primitives a ristretto255 Group needs; both access paths implement them. */
export interface SodiumPrimitives {
  readonly path: 'raw' | 'wrapper';
  /** RFC 9380 §5.3.1 expand_message_xmd with SHA-512; edge cases defer to noble (same errors). */
  expandXmd(msg: Uint8Array, dst: Uint8Array, lenInBytes: number): Uint8Array;
  /** RFC 9496 §4.3.4 one-way map of 64 uniform bytes (may yield the identity encoding). */
  fromHash(uniform: Uint8Array): Uint8Array;
  /** Canonical encoding of a group element; the identity (all zero) is accepted here. */
  isValid(element: Uint8Array): boolean;
  /** scalar (32 bytes LE, < L) * element; null when libsodium refuses (identity result). */
  mul(scalar: Uint8Array, element: Uint8Array): Uint8Array | null;
  mulBase(scalar: Uint8Array): Uint8Array | null;
  add(a: Uint8Array, b: Uint8Array): Uint8Array | null;
  /** 64 bytes little-endian reduced mod L, 32 bytes little-endian. */
  reduce64(wide: Uint8Array): Uint8Array;
}

/** RFC 9496 §4.4: the order of the ristretto255 group. */
const ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;
const ELEMENT_SIZE = 32;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

// ---------------------------------------------------------------------------------------
// Loading libsodium and choosing the access path

/** The subset of the wrappers' API used here (typed by the package). */
type SodiumWrappers = typeof import('libsodium-wrappers-sumo').default;

/** The emscripten module under the wrappers; untyped there, so checked at load time. */
interface RawModule {
  HEAPU8: Uint8Array;
  _malloc(size: number): number;
  _free(ptr: number): void;
  _crypto_hash_sha512(out: number, input: number, lenLow: number, lenHigh: number): number;
  _crypto_core_ristretto255_from_hash(out: number, uniform: number): number;
  _crypto_core_ristretto255_is_valid_point(element: number): number;
  _crypto_core_ristretto255_add(out: number, a: number, b: number): number;
  _crypto_core_ristretto255_scalar_reduce(out: number, wide: number): void;
  _crypto_scalarmult_ristretto255(out: number, scalar: number, element: number): number;
  _crypto_scalarmult_ristretto255_base(out: number, scalar: number): number;
}

const RAW_FUNCTIONS = [
  '_malloc',
  '_free',
  '_crypto_hash_sha512',
  '_crypto_core_ristretto255_from_hash',
  '_crypto_core_ristretto255_is_valid_point',
  '_crypto_core_ristretto255_add',
  '_crypto_core_ristretto255_scalar_reduce',
  '_crypto_scalarmult_ristretto255',
  '_crypto_scalarmult_ristretto255_base',
] as const;

let sodiumReady: Promise<SodiumWrappers> | undefined;

function loadWrappers(): Promise<SodiumWrappers> {
  if (sodiumReady === undefined) {
    const pending = (async () => {
      const mod = await import('libsodium-wrappers-sumo');
      await mod.default.ready;
      return mod.default;
    })();
    // A failed load (no WebAssembly, no crypto.getRandomValues) may be retried later.
    pending.catch(() => {
      if (sodiumReady === pending) sodiumReady = undefined;
    });
    sodiumReady = pending;
  }
  return sodiumReady;
}

function rawModuleOf(sodium: SodiumWrappers): RawModule | undefined {
  const raw = (sodium as unknown as { libsodium?: Record<string, unknown> }).libsodium;
  if (raw === undefined || raw === null || !(raw.HEAPU8 instanceof Uint8Array)) return undefined;
  return RAW_FUNCTIONS.every((name) => typeof raw[name] === 'function') ? (raw as unknown as RawModule) : undefined;
}

const instances = new Map<string, Group>();

/**
 * Loads libsodium (and the WASM MSM) and returns a ristretto255 Group on it. Rejects with
 * ContactPsiError `backend_unavailable` when libsodium cannot be loaded or fails its
 * self-test, or when `msm: 'wasm'` was asked for and the WASM MSM is unavailable.
 */
export async function loadSodiumRistretto255(options: SodiumRistrettoOptions = {}): Promise<Group> {
  const msmMode = options.msm ?? 'auto';
  const [prims, wasm, x4] = await Promise.all([
    loadSodiumPrimitives(options),
    msmMode === 'naive' ? null : loadWasmMsm(),
    options.simd === 'off' ? null : loadWasmX4(),
  ]);
  if (msmMode === 'wasm' && wasm === null) {
    throw new ContactPsiError('backend_unavailable', 'the WebAssembly MSM (src/group/wasm/ristretto255.wasm) could not be loaded');
  }
  const key = `${prims.path}/${wasm === null ? 'naive' : 'wasm'}/${x4 === null ? 'x1' : 'x4'}`;
  let group = instances.get(key);
  if (group === undefined) {
    group = makeSodiumGroup(prims, wasm, x4);
    instances.set(key, group);
  }
  return group;
}

const primitives = new Map<SodiumMode, Promise<SodiumPrimitives>>();

/** The primitives behind the Group (self-tested once per mode), exported for the RFC vector tests. */
export function loadSodiumPrimitives(options: SodiumRistrettoOptions = {}): Promise<SodiumPrimitives> {
  const mode = options.mode ?? 'auto';
  let pending = primitives.get(mode);
  if (pending === undefined) {
    pending = choosePrimitives(mode);
    primitives.set(mode, pending);
    pending.catch(() => primitives.delete(mode));
  }
  return pending;
}

async function choosePrimitives(mode: SodiumMode): Promise<SodiumPrimitives> {
  let sodium: SodiumWrappers;
  try {
    sodium = await loadWrappers();
  } catch (err) {
    throw new ContactPsiError('backend_unavailable', 'libsodium (WASM) could not be loaded', { cause: err });
  }
  if (mode !== 'wrapper') {
    const raw = tryRaw(sodium);
    if (typeof raw !== 'string') return raw;
    if (mode === 'raw') throw new ContactPsiError('backend_unavailable', `libsodium raw path unusable: ${raw}`);
  }
  const prims = wrapperPrimitives(sodium);
  const failure = selfTestFailure(prims);
  if (failure !== undefined) throw new ContactPsiError('backend_unavailable', `libsodium failed its self-test: ${failure}`);
  return prims;
}

let rawInstance: { module: RawModule; prims: SodiumPrimitives } | undefined;

/** The raw-path primitives if they exist and pass the self-test, else the reason why not. */
function tryRaw(sodium: SodiumWrappers): SodiumPrimitives | string {
  const module = rawModuleOf(sodium);
  if (module === undefined) return 'the raw libsodium module is not exposed';
  try {
    // One scratch block per module instance: allocated once, never freed (a few hundred bytes).
    if (rawInstance?.module !== module) rawInstance = { module, prims: rawPrimitives(module) };
  } catch (err) {
    return `setup failed: ${err instanceof Error ? err.message : String(err)}`;
  }
  return selfTestFailure(rawInstance.prims) ?? rawInstance.prims;
}

// ---------------------------------------------------------------------------------------
// Known-answer self-test: proves the calling convention of the raw module (e.g. the split
// 64-bit length of crypto_hash_sha512) before any caller relies on it.

const KAT = {
  generator: 'e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76', // RFC 9496 A.1
  twoG: '6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919', // RFC 9496 A.1
  nonCanonical: 'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // RFC 9496 A.2
  // RFC 9496 A.3, first element-derivation vector.
  mapInput:
    '5d1be09e3d0c82fc538112490e35701979d99e06ca3e2b5b54bffe8b4dc772c1' +
    '4d98b696a1bbfb5ca32c436cc61c16563790306c79eaca7705668b47dffe5bb6',
  mapOutput: '3066f82a1a747d45120d1740f14358531a8f04bbffe6a819f86dfe50f44a0a46',
  // RFC 9380 K.3, msg "abc": len 0x20 (b_1 only) and the last 32 bytes of len 0x80 (b_2, the strxor chain).
  xmdDst: 'QUUX-V01-CS02-with-expander-SHA512-256',
  xmd32: '0da749f12fbe5483eb066a5f595055679b976e93abe9be6f0f6318bce7aca8dc',
  xmd128Tail: '1851041310ad659e4b23520e1772ab29dcdeb2002222a363f0c2b1c972b3efe1',
} as const;

function selfTestFailure(p: SodiumPrimitives): string | undefined {
  try {
    const one = scalarToBytes(1n);
    const two = scalarToBytes(2n);
    const g = p.mulBase(one);
    if (g === null || toHex(g) !== KAT.generator) return 'scalarmult_base';
    const g2 = p.mul(two, g);
    if (g2 === null || toHex(g2) !== KAT.twoG) return 'scalarmult';
    const sum = p.add(g, g);
    if (sum === null || toHex(sum) !== KAT.twoG) return 'add';
    if (!p.isValid(g) || p.isValid(fromHex(KAT.nonCanonical))) return 'is_valid_point';
    if (toHex(p.fromHash(fromHex(KAT.mapInput))) !== KAT.mapOutput) return 'from_hash';
    const abc = new Uint8Array([0x61, 0x62, 0x63]);
    const dst = new TextEncoder().encode(KAT.xmdDst);
    if (toHex(p.expandXmd(abc, dst, 32)) !== KAT.xmd32) return 'expand_message_xmd';
    if (toHex(p.expandXmd(abc, dst, 128).subarray(96)) !== KAT.xmd128Tail) return 'expand_message_xmd';
    const wide = new Uint8Array(64).fill(0xff);
    if (bytesToScalar(p.reduce64(wide)) !== (2n ** 512n - 1n) % ORDER) return 'scalar_reduce';
    return undefined;
  } catch (err) {
    return `threw ${err instanceof Error ? err.message : String(err)}`;
  }
}

// ---------------------------------------------------------------------------------------
// The two access paths

function wrapperPrimitives(sodium: SodiumWrappers): SodiumPrimitives {
  // The wrappers throw on a refused result (identity, invalid input); callers validate
  // first, so a throw here means "identity result".
  const orNull = (f: () => Uint8Array): Uint8Array | null => {
    try {
      return f();
    } catch {
      return null;
    }
  };
  return Object.freeze({
    path: 'wrapper' as const,
    expandXmd: (msg: Uint8Array, dst: Uint8Array, len: number) => expand_message_xmd(msg, dst, len, sha512),
    fromHash: (uniform: Uint8Array) => sodium.crypto_core_ristretto255_from_hash(checkUniform(uniform)),
    isValid: (element: Uint8Array) => sodium.crypto_core_ristretto255_is_valid_point(element),
    mul: (s: Uint8Array, element: Uint8Array) => orNull(() => sodium.crypto_scalarmult_ristretto255(s, element)),
    mulBase: (s: Uint8Array) => orNull(() => sodium.crypto_scalarmult_ristretto255_base(s)),
    add: (a: Uint8Array, b: Uint8Array) => orNull(() => sodium.crypto_core_ristretto255_add(a, b)),
    reduce64: (wide: Uint8Array) => sodium.crypto_core_ristretto255_scalar_reduce(wide),
  });
}

/** SHA-512 block and output sizes (RFC 9380 §5.3.1 r_in_bytes, b_in_bytes). */
const SHA512_BLOCK = 128;
const SHA512_OUT = 64;

function rawPrimitives(lib: RawModule): SodiumPrimitives {
  // Scratch layout (bytes): scalar 32 | a 32 | b 32 | out 64 | uniform/b_0 64 | b_i 64.
  const base = lib._malloc(288);
  if (base === 0) throw new Error('malloc failed');
  const S = base, A = base + 32, B = base + 64, OUT = base + 96, U = base + 160, BI = base + 224;
  // Growable buffer for msg_prime (RFC 9380 §5.3.1 step 6); messages are small in practice.
  let msgBuf = 0;
  let msgCap = 0;
  const msgArea = (size: number): number => {
    if (size > msgCap) {
      const cap = Math.max(size, 1024);
      const p = lib._malloc(cap);
      if (p === 0) throw new Error('malloc failed');
      if (msgBuf !== 0) lib._free(msgBuf); // wiped after every use, so nothing secret is freed
      msgBuf = p;
      msgCap = cap;
    }
    return msgBuf;
  };
  // lib.HEAPU8 is re-read on every call: any malloc (ours or another wrapper call) may grow
  // the WASM memory and detach the previous view.
  const heap = (): Uint8Array => lib.HEAPU8;
  // Results can be secret too (k * H(x) after unblinding, H(x) itself): copy out, then wipe.
  const takeOut = (H: Uint8Array, length: number): Uint8Array => {
    const r = H.slice(OUT, OUT + length);
    H.fill(0, OUT, OUT + length);
    return r;
  };

  const expandXmd = (msg: Uint8Array, dst: Uint8Array, len: number): Uint8Array => {
    const ell = Math.ceil(len / SHA512_OUT);
    // Anything unusual (wrong types, empty or oversize DST, out-of-range length) goes to
    // noble, so the errors and the RFC 9380 §5.3.3 oversize-DST rule are noble's own.
    if (!(msg instanceof Uint8Array) || !(dst instanceof Uint8Array) || dst.length === 0 || dst.length > 255 ||
        !Number.isSafeInteger(len) || len < 1 || len > 65535 || ell > 255) {
      return expand_message_xmd(msg, dst, len, sha512);
    }
    const primeLen = SHA512_BLOCK + msg.length + 3 + dst.length + 1;
    const M = msgArea(Math.max(primeLen, SHA512_OUT + 1 + dst.length + 1));
    const H = heap();
    // msg_prime = Z_pad || msg || I2OSP(len, 2) || I2OSP(0, 1) || DST_prime
    H.fill(0, M, M + SHA512_BLOCK);
    H.set(msg, M + SHA512_BLOCK);
    let o = M + SHA512_BLOCK + msg.length;
    H[o++] = len >>> 8;
    H[o++] = len & 0xff;
    H[o++] = 0;
    H.set(dst, o);
    o += dst.length;
    H[o++] = dst.length;
    lib._crypto_hash_sha512(U, M, primeLen, 0); // b_0
    const out = new Uint8Array(ell * SHA512_OUT);
    for (let i = 1; i <= ell; i++) {
      // b_i = H(strxor(b_0, b_{i-1}) || I2OSP(i, 1) || DST_prime), with b_1 = H(b_0 || 1 || DST_prime)
      for (let j = 0; j < SHA512_OUT; j++) H[M + j] = i === 1 ? H[U + j] : H[U + j] ^ H[BI + j];
      H[M + SHA512_OUT] = i;
      H.set(dst, M + SHA512_OUT + 1);
      H[M + SHA512_OUT + 1 + dst.length] = dst.length;
      lib._crypto_hash_sha512(BI, M, SHA512_OUT + 2 + dst.length, 0);
      out.set(H.subarray(BI, BI + SHA512_OUT), (i - 1) * SHA512_OUT);
    }
    // The message is a contact identifier: leave no copy of it in WASM memory.
    H.fill(0, M, M + primeLen);
    H.fill(0, U, U + 2 * SHA512_OUT);
    return len === out.length ? out : out.slice(0, len);
  };

  return Object.freeze({
    path: 'raw' as const,
    expandXmd,
    fromHash(uniform: Uint8Array) {
      checkUniform(uniform);
      const H = heap();
      H.set(uniform, U);
      lib._crypto_core_ristretto255_from_hash(OUT, U);
      H.fill(0, U, U + 64);
      return takeOut(H, ELEMENT_SIZE);
    },
    isValid(element: Uint8Array) {
      if (element.length !== ELEMENT_SIZE) return false;
      heap().set(element, A);
      return lib._crypto_core_ristretto255_is_valid_point(A) === 1;
    },
    mul(s: Uint8Array, element: Uint8Array) {
      const H = heap();
      H.set(s, S);
      H.set(element, A);
      const rc = lib._crypto_scalarmult_ristretto255(OUT, S, A);
      H.fill(0, S, S + 32); // the scalar is a secret blind or key
      return rc === 0 ? takeOut(H, ELEMENT_SIZE) : null;
    },
    mulBase(s: Uint8Array) {
      const H = heap();
      H.set(s, S);
      const rc = lib._crypto_scalarmult_ristretto255_base(OUT, S);
      H.fill(0, S, S + 32);
      return rc === 0 ? takeOut(H, ELEMENT_SIZE) : null;
    },
    add(a: Uint8Array, b: Uint8Array) {
      const H = heap();
      H.set(a, A);
      H.set(b, B);
      return lib._crypto_core_ristretto255_add(OUT, A, B) === 0 ? takeOut(H, ELEMENT_SIZE) : null;
    },
    reduce64(wide: Uint8Array) {
      checkUniform(wide);
      const H = heap();
      H.set(wide, U);
      lib._crypto_core_ristretto255_scalar_reduce(OUT, U);
      H.fill(0, U, U + 64);
      return takeOut(H, 32);
    },
  });
}

/** from_hash and scalar_reduce read exactly 64 bytes; the wrappers do not check the length. */
function checkUniform(bytes: Uint8Array): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 64) throw new GroupError('bad_length', 'expected 64 uniform bytes');
  return bytes;
}

// ---------------------------------------------------------------------------------------
// The Group, mirroring noble.ts check for check (same codes, same order, same messages)


function bytesToScalar(le: Uint8Array): bigint {
  let hex = '0x';
  for (let i = le.length - 1; i >= 0; i--) hex += HEX[le[i]];
  return BigInt(hex);
}



function isZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (const b of bytes) acc |= b;
  return acc === 0;
}

function makeSodiumGroup(p: SodiumPrimitives, wasm: WasmMsm | null, x4: WasmX4 | null): Group {
  const scalar = makeScalarField(ORDER, 32, true);

  const decode = (bytes: Uint8Array, index?: number): void => {
    const where = index === undefined ? '' : ` at index ${index}`;
    if (!(bytes instanceof Uint8Array) || bytes.length !== ELEMENT_SIZE) {
      throw new GroupError('bad_length', `element${where} must be ${ELEMENT_SIZE} bytes`);
    }
    // libsodium's is_valid_point is RFC 9496 §4.3.1 decode (canonical, square, sign
    // checks) and accepts the identity; the identity's only canonical encoding is 32 zero
    // bytes, so RFC 9497 §3.3's identity rejection is a zero test.
    if (!p.isValid(bytes)) {
      throw new GroupError('bad_element', `element${where} is not a canonical encoding of a group element`);
    }
    if (isZero(bytes)) throw new GroupError('identity_element', `element${where} is the identity`);
  };

  // noble rejects scalars outside [1, L) instead of reducing them (0 would give the
  // identity); libsodium would silently clear bit 255 and reduce, so check here.
  const scalarBytes = (s: bigint): Uint8Array => {
    if (typeof s !== 'bigint' || s <= 0n || s >= ORDER) {
      throw new GroupError('bad_scalar', 'invalid scalar: expected 1 <= scalar < group order');
    }
    return scalarToBytes(s);
  };

  const nonIdentity = (result: Uint8Array | null): Uint8Array => {
    if (result === null || isZero(result)) throw new GroupError('identity_element', 'result is the identity');
    return result;
  };

  const validScalar = (s: bigint): boolean => typeof s === 'bigint' && s > 0n && s < ORDER;

  /**
   * The WASM MSM with the naive loop's errors, in the naive loop's order (element i is
   * decoded before scalar i is checked): the WASM module decodes strictly and names the
   * first bad element, and a bad scalar is reported here after the elements before it.
   * Undefined when the WASM memory cannot grow, so that the naive loop runs instead.
   */
  const wasmMsm = (m: WasmMsm, scalars: readonly bigint[], packed: Uint8Array): Uint8Array | undefined => {
    const n = scalars.length;
    for (let i = 0; i < n; i++) {
      if (validScalar(scalars[i])) continue;
      for (let j = 0; j <= i; j++) decode(elementAt(packed, j, ELEMENT_SIZE), j);
      scalarBytes(scalars[i]); // throws bad_scalar
    }
    try {
      return m.msm(scalars, packed);
    } catch (err) {
      if (err instanceof ContactPsiError && err.code === 'backend_unavailable') return undefined;
      throw err;
    }
  };

  const hashToGroup = (msg: Uint8Array, dst: Uint8Array): Uint8Array =>
    nonIdentity(p.fromHash(p.expandXmd(msg, dst, 64))); // RFC 9380 Appendix B hash_to_ristretto255

  /**
   * libsodium's multiplication decodes the element itself and refuses what RFC 9496
   * §4.3.1 rejects (and an identity result), so the separate decode, a square root per
   * element, runs only to name the error once libsodium refused.
   */
  const mulOrExplain = (sb: Uint8Array, element: Uint8Array, index?: number): Uint8Array => {
    const product = element instanceof Uint8Array && element.length === ELEMENT_SIZE ? p.mul(sb, element) : null;
    if (product === null) decode(element, index);
    return nonIdentity(product);
  };

  /**
   * A batch on the four-lane module, or undefined for the libsodium path: too small a
   * batch, no module, or a module whose memory could not grow (same results either way).
   */
  const useX4 = (n: number, run: (m: WasmX4) => Uint8Array): Uint8Array | undefined => {
    if (x4 === null || n < X4_MIN_BATCH) return undefined;
    try {
      return run(x4);
    } catch (err) {
      if (err instanceof ContactPsiError && !(err instanceof GroupError) && err.code === 'backend_unavailable') return undefined;
      throw err;
    }
  };

  /** RFC 9380 expand_message_xmd output (64 uniform bytes) per message, packed: the one-way map's input. */
  const expandEach = (msgs: readonly Uint8Array[], dst: Uint8Array): Uint8Array => {
    const out = new Uint8Array(msgs.length * 64);
    msgs.forEach((m, i) => out.set(p.expandXmd(m, dst, 64), i * 64));
    return out;
  };

  const multiplyOne = (s: bigint, element: Uint8Array, index?: number): Uint8Array => {
    let sb: Uint8Array;
    try {
      sb = scalarBytes(s);
    } catch (err) {
      decode(element, index); // a bad element is reported before a bad scalar, as noble does
      throw err;
    }
    try {
      return mulOrExplain(sb, element, index);
    } finally {
      sb.fill(0);
    }
  };

  const group: Group = {
    id: 'ristretto255',
    backend: 'sodium',
    elementSize: ELEMENT_SIZE,
    scalar,
    generator: fromHex(KAT.generator),
    hashToGroup,
    hashToGroupBatch(msgs, dst) {
      const fast = useX4(msgs.length, (m) => m.fromHash(expandEach(msgs, dst)));
      if (fast !== undefined) return fast;
      const out = new Uint8Array(msgs.length * ELEMENT_SIZE);
      msgs.forEach((m, i) => out.set(hashToGroup(m, dst), i * ELEMENT_SIZE));
      return out;
    },
    hashToScalar: (msg, dst) => bytesToScalar(p.reduce64(p.expandXmd(msg, dst, 64))),
    validateElement: (bytes) => decode(bytes),
    validatePacked(packed) {
      const n = packedCount(packed, ELEMENT_SIZE);
      for (let i = 0; i < n; i++) decode(elementAt(packed, i, ELEMENT_SIZE), i);
      return n;
    },
    multiply: (s, element) => multiplyOne(s, element),
    multiplyPacked(s, packed) {
      const n = packedCount(packed, ELEMENT_SIZE);
      const fast = useX4(n, (m) => m.mulCommon(s, packed));
      if (fast !== undefined) return fast;
      const out = new Uint8Array(packed.length);
      let sb: Uint8Array | undefined; // converted once, checked after element 0 as noble does
      try {
        for (let i = 0; i < n; i++) {
          const element = elementAt(packed, i, ELEMENT_SIZE);
          if (i === 0) decode(element, i);
          sb ??= scalarBytes(s);
          out.set(mulOrExplain(sb, element, i), i * ELEMENT_SIZE);
        }
      } finally {
        sb?.fill(0);
      }
      return out;
    },
    multiplyEach(scalars, packed) {
      const n = packedCount(packed, ELEMENT_SIZE);
      if (scalars.length !== n) throw new GroupError('bad_length', 'one scalar per element expected');
      const fast = useX4(n, (m) => m.mulEach(scalars, packed));
      if (fast !== undefined) return fast;
      const out = new Uint8Array(packed.length);
      for (let i = 0; i < n; i++) {
        out.set(multiplyOne(scalars[i], elementAt(packed, i, ELEMENT_SIZE), i), i * ELEMENT_SIZE);
      }
      return out;
    },
    hashToGroupMultiply(s, msgs, dst) {
      // H(x) and k*H(x) without the encode and decode between them (RFC 9497 Evaluate).
      return useX4(msgs.length, (m) => m.hashMulCommon(s, expandEach(msgs, dst))) ?? group.multiplyPacked(s, group.hashToGroupBatch(msgs, dst));
    },
    multiplyBase(s) {
      const sb = scalarBytes(s);
      try {
        return nonIdentity(p.mulBase(sb));
      } finally {
        sb.fill(0);
      }
    },
    multiScalarMultiply(scalars, packed) {
      const n = packedCount(packed, ELEMENT_SIZE);
      if (scalars.length !== n) throw new GroupError('bad_length', 'one scalar per element expected');
      // Public inputs only (DLEQ composites, RFC 9497 §2.2.1), so the variable-time WASM MSM is fine.
      const fast = wasm === null ? undefined : wasmMsm(wasm, scalars, packed);
      if (fast !== undefined) return fast;
      // Naive: plain sum of products. Partial sums may be the identity (32 zero bytes),
      // which libsodium's add accepts.
      let acc: Uint8Array = new Uint8Array(ELEMENT_SIZE);
      for (let i = 0; i < n; i++) {
        const term = multiplyOne(scalars[i], elementAt(packed, i, ELEMENT_SIZE), i);
        const sum = i === 0 ? term : p.add(acc, term);
        if (sum === null) throw new GroupError('bad_element', 'libsodium refused an addition of valid elements');
        acc = sum;
      }
      return nonIdentity(acc);
    },
    equals(a, b) {
      decode(a);
      decode(b);
      // Canonical encodings are unique (RFC 9496 §4.3.2), so equal points have equal bytes.
      let diff = 0;
      for (let i = 0; i < ELEMENT_SIZE; i++) diff |= a[i] ^ b[i];
      return diff === 0;
    },
  };
  return Object.freeze(group);
}
