/**
 * The byte-level primitives of the libsodium backend, in its two access paths (same
 * semantics, checked by the self-test in sodium-self-test.ts):
 * - 'raw': the emscripten module under the wrappers (`sodium.libsodium`), called on one
 *   scratch block of WASM memory allocated once. No malloc/free per call, and secret bytes
 *   (keys, blinds, messages, scalar operands) are wiped from WASM memory after every call,
 *   which the wrappers do not do. expand_message_xmd runs on libsodium's SHA-512 here
 *   (noble's costs as much as the one-way map itself).
 * - 'wrapper': the documented wrapper functions plus noble's expand_message_xmd.
 *
 * The scalar operations are libsodium's crypto_core_ristretto255_scalar_* (constant time:
 * fixed-limb arithmetic, inversion by a fixed addition chain), so the OPRF's secret scalar
 * arithmetic (DLEQ response, unblinding inverses) never runs on a JS BigInt here.
 */
import { expand_message_xmd } from '@noble/curves/abstract/hash-to-curve.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { GroupError } from '../errors.js';
import type { RawModule, SodiumWrappers } from './sodium-load.js';

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
  /** (a + b) mod L, (a - b) mod L, (a * b) mod L on 32-byte little-endian scalars. */
  scalarAdd(a: Uint8Array, b: Uint8Array): Uint8Array;
  scalarSub(a: Uint8Array, b: Uint8Array): Uint8Array;
  scalarMul(a: Uint8Array, b: Uint8Array): Uint8Array;
  /** a^-1 mod L; null for zero. */
  scalarInvert(a: Uint8Array): Uint8Array | null;
}

const ELEMENT_SIZE = 32;
const SCALAR_SIZE = 32;

/** libsodium reads exactly 32 bytes per scalar; a shorter array would read stale memory. */
function checkScalar(bytes: Uint8Array): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.length !== SCALAR_SIZE) throw new GroupError('bad_scalar', `scalar must be ${SCALAR_SIZE} bytes`);
  return bytes;
}

export function wrapperPrimitives(sodium: SodiumWrappers): SodiumPrimitives {
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
    scalarAdd: (a: Uint8Array, b: Uint8Array) => sodium.crypto_core_ristretto255_scalar_add(checkScalar(a), checkScalar(b)),
    scalarSub: (a: Uint8Array, b: Uint8Array) => sodium.crypto_core_ristretto255_scalar_sub(checkScalar(a), checkScalar(b)),
    scalarMul: (a: Uint8Array, b: Uint8Array) => sodium.crypto_core_ristretto255_scalar_mul(checkScalar(a), checkScalar(b)),
    scalarInvert: (a: Uint8Array) => {
      checkScalar(a);
      return orNull(() => sodium.crypto_core_ristretto255_scalar_invert(a)); // throws for zero
    },
  });
}

/** SHA-512 block and output sizes (RFC 9380 §5.3.1 r_in_bytes, b_in_bytes). */
const SHA512_BLOCK = 128;
const SHA512_OUT = 64;

export function rawPrimitives(lib: RawModule): SodiumPrimitives {
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

  /** A two-operand scalar operation on the uniform area (a at U, b at U + 32); operands wiped. */
  const scalarOp = (op: (out: number, a: number, b: number) => unknown, a: Uint8Array, b: Uint8Array): Uint8Array => {
    checkScalar(a);
    checkScalar(b);
    const H = heap();
    H.set(a, U);
    H.set(b, U + SCALAR_SIZE);
    op(OUT, U, U + SCALAR_SIZE);
    H.fill(0, U, U + 2 * SCALAR_SIZE);
    return takeOut(H, SCALAR_SIZE);
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
    scalarAdd: (a: Uint8Array, b: Uint8Array) => scalarOp((o, x, y) => lib._crypto_core_ristretto255_scalar_add(o, x, y), a, b),
    scalarSub: (a: Uint8Array, b: Uint8Array) => scalarOp((o, x, y) => lib._crypto_core_ristretto255_scalar_sub(o, x, y), a, b),
    scalarMul: (a: Uint8Array, b: Uint8Array) => scalarOp((o, x, y) => lib._crypto_core_ristretto255_scalar_mul(o, x, y), a, b),
    scalarInvert(a: Uint8Array) {
      checkScalar(a);
      const H = heap();
      H.set(a, U);
      const rc = lib._crypto_core_ristretto255_scalar_invert(OUT, U); // -1 for zero
      H.fill(0, U, U + SCALAR_SIZE);
      const inverse = takeOut(H, SCALAR_SIZE);
      return rc === 0 ? inverse : null;
    },
  });
}

/** from_hash and scalar_reduce read exactly 64 bytes; the wrappers do not check the length. */
function checkUniform(bytes: Uint8Array): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 64) throw new GroupError('bad_length', 'expected 64 uniform bytes');
  return bytes;
}
