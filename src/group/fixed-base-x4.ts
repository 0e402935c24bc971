/**
 * The fixed-base comb of the four-lane SIMD module (asm/ristretto255-x4/fixed-base4.ts) as
 * byte-level calls: each lane its own scalar, one base per call, given by its comb table.
 * A table (30 KiB) is built in the module once per base and kept here (the generator and
 * the last few server public keys: one per epoch key), then copied into the module's I/O
 * area with each call (a few microseconds against ~13 µs of comb per element).
 *
 * Costs per element (one core, load ~5, 4,096 elements): comb ~13 µs against ~57 µs for
 * the variable-base ladder; building a table ~0.3 ms of CPU (~2 ms on a first call, before
 * the engine optimizes the module; bench/results/additive-blinding-ab.md).
 *
 * Scalars are packed 32-byte little-endian values in [1, L), checked branch-free
 * (`bad_scalar` otherwise): the module itself multiplies any value below 2^255, 0 giving
 * the identity. Everything the module held (scalars, points, results) is wiped after each
 * call; the caller's buffers are not ours to wipe.
 */
import { ContactPsiError, GroupError } from '../errors.js';
import { ORDER } from './ristretto-order.js';
import { byteModulus, scalarBytesValid } from './scalar-bytes.js';
import { fromHex, toHex } from './wasm-bytes.js';

/** The module's fixed-base exports (asm/ristretto255-x4/index.ts). */
export interface FixedBaseExports {
  readonly memory: WebAssembly.Memory;
  alloc(size: number): number;
  tableBytes(): number;
  baseTable(point: number, table: number): number;
  mulBaseEach(n: number, table: number, scalars: number, out: number): number;
  hashAddBaseEach(n: number, table: number, scalars: number, uniform: number, out: number): number;
  subBaseEachFromXY(n: number, table: number, scalars: number, xy: number, out: number): number;
}

export const FIXED_BASE_EXPORTS = ['tableBytes', 'baseTable', 'mulBaseEach', 'hashAddBaseEach', 'subBaseEachFromXY'] as const;

export interface FixedBaseX4 {
  /** scalars[i] * base for each 32-byte scalar (constant time in the scalars). */
  mulBaseEach(base: Uint8Array, scalars: Uint8Array): Uint8Array;
  /**
   * OneWayMap(uniform[i]) + scalars[i] * G (additive blinding, RFC 9496 §4.3.4 map of the
   * 64-byte expand_message_xmd output, never encoded on its own).
   */
  hashAddBaseEach(scalars: Uint8Array, uniform: Uint8Array): Uint8Array;
  /**
   * D_i - scalars[i] * base for the points D_i given by affine coordinates (x || y, 64
   * bytes each) that this module's validateXY wrote (decoded and checked; nothing here
   * checks them again): additive unblinding.
   */
  subBaseEachFromXY(base: Uint8Array, scalars: Uint8Array, xy: Uint8Array): Uint8Array;
}

const ELEMENT_SIZE = 32;
const UNIFORM_SIZE = 64;
/** Elements per module call: bounds the I/O area whatever the batch size. */
const SLICE = 4096;
/** Tables kept: the generator's plus a few public keys (a key per epoch, a rotation overlaps two). */
const MAX_TABLES = 4;
const MODULUS = byteModulus(ORDER, 32, true);
/** RFC 9496 A.1: the generator's encoding. */
const GENERATOR = fromHex('e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76');

export function makeFixedBaseX4(ex: FixedBaseExports): FixedBaseX4 {
  const tableBytes = ex.tableBytes();
  /** Tables by the base's hex encoding, oldest first (public values: bases are public keys). */
  const tables = new Map<string, Uint8Array>();
  const heap = (): Uint8Array => new Uint8Array(ex.memory.buffer);
  const alloc = (size: number): number => {
    const at = ex.alloc(size);
    if (at === 0) throw new ContactPsiError('backend_unavailable', 'the WebAssembly SIMD multiplier could not grow its memory');
    return at;
  };

  const tableOf = (base: Uint8Array): Uint8Array => {
    if (!(base instanceof Uint8Array) || base.length !== ELEMENT_SIZE) throw new GroupError('bad_length', `element must be ${ELEMENT_SIZE} bytes`);
    const key = toHex(base);
    const cached = tables.get(key);
    if (cached !== undefined) {
      // Least recently used out first: a hit moves the table to the end of the Map's order,
      // so G's table (used by every blind) is not the one evicted by a 4th server key.
      tables.delete(key);
      tables.set(key, cached);
      return cached;
    }
    const at = alloc(ELEMENT_SIZE + tableBytes);
    let table: Uint8Array;
    try {
      heap().set(base, at);
      if (ex.baseTable(at, at + ELEMENT_SIZE) !== 0) throw new GroupError('bad_element', 'the base is not a valid encoding of a non-identity element');
      table = heap().slice(at + ELEMENT_SIZE, at + ELEMENT_SIZE + tableBytes);
    } finally {
      heap().fill(0, at, at + ELEMENT_SIZE + tableBytes);
    }
    if (tables.size >= MAX_TABLES) tables.delete(tables.keys().next().value as string);
    tables.set(key, table);
    return table;
  };

  const checkScalars = (scalars: Uint8Array, n: number): void => {
    if (!(scalars instanceof Uint8Array) || scalars.length !== 32 * n) throw new GroupError('bad_length', 'one scalar per element expected');
    let ok = true;
    for (let i = 0; i < n; i++) ok = scalarBytesValid(MODULUS, scalars.subarray(32 * i, 32 * i + 32)) && ok;
    if (!ok) throw new GroupError('bad_scalar', 'invalid scalar: expected 1 <= scalar < group order');
  };

  const count = (bytes: Uint8Array, size: number, what: string): number => {
    if (!(bytes instanceof Uint8Array) || bytes.length % size !== 0) throw new GroupError('bad_length', `${what} length is not a multiple of ${size}`);
    return bytes.length / size;
  };

  /**
   * One module call per slice. Layout: [table | scalars 32 c | inputs size c | out 32 c],
   * all wiped after the copy out (blinds, H(contacts), unblinded outputs are secret).
   */
  const run = (
    table: Uint8Array,
    scalars: Uint8Array,
    inputs: Uint8Array | null,
    inputSize: number,
    n: number,
    call: (c: number, table: number, scalars: number, inputs: number, out: number) => number,
  ): Uint8Array => {
    const out = new Uint8Array(n * ELEMENT_SIZE);
    for (let first = 0; first < n; first += SLICE) {
      const c = Math.min(SLICE, n - first);
      const used = tableBytes + c * (32 + inputSize + ELEMENT_SIZE);
      const at = alloc(used);
      const sc = at + tableBytes;
      const inAt = sc + 32 * c;
      const outAt = inAt + inputSize * c;
      try {
        const H = heap();
        H.set(table, at);
        H.set(scalars.subarray(32 * first, 32 * (first + c)), sc);
        if (inputs !== null) H.set(inputs.subarray(inputSize * first, inputSize * (first + c)), inAt);
        const status = call(c, at, sc, inAt, outAt);
        // Inputs are valid here (checked scalars, our own coordinates): only an identity
        // result can fail, with negligible probability for random blinds.
        if (status !== 0) throw new GroupError('identity_element', 'result is the identity');
        out.set(heap().subarray(outAt, outAt + c * ELEMENT_SIZE), first * ELEMENT_SIZE);
      } finally {
        heap().fill(0, at, at + used);
      }
    }
    return out;
  };

  return Object.freeze({
    mulBaseEach(base: Uint8Array, scalars: Uint8Array): Uint8Array {
      const n = count(scalars, 32, 'scalars');
      checkScalars(scalars, n);
      if (n === 0) return new Uint8Array(0);
      return run(tableOf(base), scalars, null, 0, n, (c, t, s, _in, o) => ex.mulBaseEach(c, t, s, o));
    },
    hashAddBaseEach(scalars: Uint8Array, uniform: Uint8Array): Uint8Array {
      const n = count(uniform, UNIFORM_SIZE, 'uniform batch');
      checkScalars(scalars, n);
      if (n === 0) return new Uint8Array(0);
      return run(tableOf(GENERATOR), scalars, uniform, UNIFORM_SIZE, n, (c, t, s, u, o) => ex.hashAddBaseEach(c, t, s, u, o));
    },
    subBaseEachFromXY(base: Uint8Array, scalars: Uint8Array, xy: Uint8Array): Uint8Array {
      const n = count(xy, 2 * ELEMENT_SIZE, 'affine coordinates');
      checkScalars(scalars, n);
      if (n === 0) return new Uint8Array(0);
      return run(tableOf(base), scalars, xy, 2 * ELEMENT_SIZE, n, (c, t, s, x, o) => ex.subBaseEachFromXY(c, t, s, x, o));
    },
  });
}
