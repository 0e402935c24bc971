/**
 * Issue 9 §5, secret scalars: the byte-level scalar arithmetic (libsodium's constant-time
 * crypto_core_ristretto255_scalar_*, and the branch-free JS helpers of scalar-bytes.ts) is
 * byte-identical to the BigInt reference, edge cases included; and on the libsodium backend
 * the OPRF's secret scalars (key, blinds, their inverses, the proof nonce, c*k) are handed
 * around as bytes and computed by libsodium, never turned into a BigInt.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { GroupError } from '../src/errors.js';
import { nobleP256, nobleRistretto255 } from '../src/group/noble.js';
import { byteModulus, reduceRandomScalar, scalarBytesValid } from '../src/group/scalar-bytes.js';
import { invertScalar, mod } from '../src/group/scalar-field.js';
import { loadSodiumPrimitives, loadSodiumRistretto255, type SodiumPrimitives } from '../src/group/sodium.js';
import { makeSodiumGroup } from '../src/group/sodium-group.js';
import type { Group, ScalarField, ScalarInput } from '../src/group/types.js';
import { loadWasmMsm } from '../src/group/wasm-msm.js';
import { loadWasmX4 } from '../src/group/wasm-x4.js';
import { proveFromComposite } from '../src/oprf/dleq.js';
import { createSuite, Modes } from '../src/oprf/suite.js';
import { seededRng } from './helpers/rng.js';

const L = nobleRistretto255.scalar.order;
const N256 = nobleP256.scalar.order;
const RUNS = { numRuns: 200 };

const le = (v: bigint, size = 32): Uint8Array => {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
};
const be = (v: bigint, size = 32): Uint8Array => le(v, size).reverse();
const fromLe = (b: Uint8Array): bigint => b.reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n);
const fromBe = (b: Uint8Array): bigint => b.reduce((acc, x) => (acc << 8n) | BigInt(x), 0n);

/** Scalars in [0, L) with the edges drawn often: 0, 1, 2, L-2, L-1, 2^252 (top limb). */
const EDGES = [0n, 1n, 2n, L - 2n, L - 1n, 2n ** 252n];
const scalarArb = fc.oneof(
  { weight: 3, arbitrary: fc.bigInt({ min: 0n, max: L - 1n }) },
  { weight: 1, arbitrary: fc.constantFrom(...EDGES) },
);
/** 64-byte wide values (the RFC 9380 hash_to_field input), incl. 0, L, k*L + r, 2^512 - 1. */
const MAX512 = 2n ** 512n - 1n;
const wideArb = fc.oneof(
  { weight: 3, arbitrary: fc.bigInt({ min: 0n, max: MAX512 }) },
  { weight: 1, arbitrary: fc.constantFrom(0n, 1n, L - 1n, L, L + 1n, L * L, MAX512, MAX512 - (MAX512 % L)) },
  { weight: 1, arbitrary: fc.tuple(fc.bigInt({ min: 1n, max: MAX512 / L - 1n }), scalarArb).map(([k, r]) => k * L + r) },
);

let raw: SodiumPrimitives;
let wrapper: SodiumPrimitives;
let sodium: Group;

beforeAll(async () => {
  [raw, wrapper, sodium] = await Promise.all([loadSodiumPrimitives({ mode: 'raw' }), loadSodiumPrimitives({ mode: 'wrapper' }), loadSodiumRistretto255()]);
});

describe('generators reach the cases the tests name', () => {
  it('edges and wide values above L are drawn', () => {
    const scalars = fc.sample(scalarArb, { numRuns: 500, seed: 1 });
    for (const e of EDGES) expect(scalars).toContain(e);
    const wides = fc.sample(wideArb, { numRuns: 500, seed: 2 });
    expect(wides.filter((w) => w >= L).length).toBeGreaterThan(400);
    expect(wides).toContain(L);
    expect(wides).toContain(MAX512);
  });
});

describe('libsodium scalar arithmetic equals the BigInt reference, byte for byte', () => {
  for (const path of ['raw', 'wrapper'] as const) {
    const prims = () => (path === 'raw' ? raw : wrapper);
    it(`${path}: add, sub, mul`, () => {
      fc.assert(
        fc.property(scalarArb, scalarArb, (a, b) => {
          const p = prims();
          expect(p.scalarAdd(le(a), le(b))).toEqual(le((a + b) % L));
          expect(p.scalarSub(le(a), le(b))).toEqual(le(mod(a - b, L)));
          expect(p.scalarMul(le(a), le(b))).toEqual(le((a * b) % L));
        }),
        RUNS,
      );
    });
    it(`${path}: invert (zero has no inverse)`, () => {
      fc.assert(
        fc.property(scalarArb, (a) => {
          const inverse = prims().scalarInvert(le(a));
          if (a === 0n) expect(inverse).toBeNull();
          else expect(inverse).toEqual(le(invertScalar(a, L)));
        }),
        RUNS,
      );
    });
    it(`${path}: 64-byte wide reduction (values >= L)`, () => {
      fc.assert(fc.property(wideArb, (w) => void expect(prims().reduce64(le(w, 64))).toEqual(le(w % L))), RUNS);
    });
  }

  it('the sodium scalar field: its byte operations, invertEach and check match the reference field', () => {
    const reference = nobleRistretto255.scalar;
    expect(sodium.scalar.constantTime).toBe(true);
    expect(reference.constantTime).toBe(false);
    expect(nobleP256.scalar.constantTime).toBe(false);
    fc.assert(
      fc.property(scalarArb, scalarArb, fc.array(scalarArb.filter((x) => x !== 0n), { maxLength: 6 }), (a, b, many) => {
        for (const op of ['add', 'sub', 'mul'] as const) expect(sodium.scalar[op](le(a), le(b))).toEqual(reference[op](le(a), le(b)));
        if (a === 0n) expect(() => sodium.scalar.invert(le(a))).toThrow(GroupError);
        else expect(sodium.scalar.invert(le(a))).toEqual(le(invertScalar(a, L)));
        expect(sodium.scalar.invertEach(many.map((x) => le(x)))).toEqual(many.map((x) => le(invertScalar(x, L))));
        expect(reference.invertEach(many.map((x) => le(x)))).toEqual(many.map((x) => le(invertScalar(x, L))));
      }),
      RUNS,
    );
  });

  it('invertEach with a zero scalar throws bad_scalar on both fields', () => {
    for (const field of [sodium.scalar, nobleRistretto255.scalar]) {
      expect(() => field.invertEach([le(3n), le(0n), le(5n)])).toThrow(expect.objectContaining({ code: 'bad_scalar' }));
    }
  });

  it('hashToScalarBytes is hashToScalar as bytes, on both backends', () => {
    const dst = new TextEncoder().encode('HashToScalar-test');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (msg) => {
        const expected = nobleRistretto255.scalar.toBytes(nobleRistretto255.hashToScalar(msg, dst));
        expect(sodium.hashToScalarBytes(msg, dst)).toEqual(expected);
        expect(nobleRistretto255.hashToScalarBytes(msg, dst)).toEqual(expected);
        expect(nobleP256.hashToScalarBytes(msg, dst)).toEqual(nobleP256.scalar.toBytes(nobleP256.hashToScalar(msg, dst)));
      }),
      { numRuns: 50 },
    );
  });
});

describe('branch-free byte helpers equal the BigInt reference', () => {
  const fields: [string, bigint, boolean][] = [
    ['ristretto255', L, true],
    ['P-256', N256, false],
  ];
  for (const [name, order, littleEndian] of fields) {
    const m = byteModulus(order, 32, littleEndian);
    const enc = (v: bigint) => (littleEndian ? le(v) : be(v));
    it(`${name}: the range check is 1 <= v < order`, () => {
      const edge = fc.constantFrom(0n, 1n, order - 1n, order, order + 1n, 2n ** 256n - 1n, 2n ** 255n);
      fc.assert(
        fc.property(fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }), edge), (v) => {
          expect(scalarBytesValid(m, enc(v))).toBe(v >= 1n && v < order);
        }),
        RUNS,
      );
      expect(scalarBytesValid(m, new Uint8Array(31).fill(1))).toBe(false);
    });
    it(`${name}: RandomScalar is (v mod (order - 1)) + 1 of the big-endian input`, () => {
      const edge = fc.constantFrom(0n, 1n, order - 2n, order - 1n, order, 2n * (order - 1n), 2n ** 384n - 1n);
      fc.assert(
        fc.property(fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 384n - 1n }), edge), (v) => {
          const input = be(v, 48);
          expect(reduceRandomScalar(m, input)).toEqual(enc(mod(v, order - 1n) + 1n));
          expect(input.every((b) => b === 0)).toBe(true); // wiped
        }),
        RUNS,
      );
    });
  }
});

describe('scalars given as bytes', () => {
  /** 'ok:<hex>' or the GroupError code. */
  const outcome = (f: () => Uint8Array): string => {
    try {
      return `ok:${Buffer.from(f()).toString('hex')}`;
    } catch (err) {
      return err instanceof GroupError ? err.code : `error:${String(err)}`;
    }
  };
  // Valid scalars, and the invalid ones a byte API can receive: 0, L, 2^256 - 1, wrong length.
  const byteScalarArb = fc.oneof(
    { weight: 4, arbitrary: scalarArb.map((v) => le(v)) },
    { weight: 1, arbitrary: fc.constantFrom(le(L), le(2n ** 256n - 1n), new Uint8Array(31).fill(1), new Uint8Array(33).fill(1)) },
  );

  it('give the same bytes and error codes as the same scalars as bigints, on libsodium (one element and four-lane batches) and noble', () => {
    const dst = new Uint8Array([1, 2, 3]);
    fc.assert(
      fc.property(byteScalarArb, fc.array(byteScalarArb, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 4 }), (s, each, count) => {
        const big = (b: Uint8Array): bigint => (b.length === 32 ? fromLe(b) : -1n); // -1: what a wrong length means (invalid)
        const msgs = Array.from({ length: count }, (_, i) => new Uint8Array([i]));
        const packed = sodium.hashToGroupBatch(msgs, dst);
        const points = sodium.hashToGroupBatch(each.map((_, i) => new Uint8Array([9, i])), dst);
        const cases: [string, (g: Group, x: (b: Uint8Array) => ScalarInput) => Uint8Array][] = [
          ['multiply', (g, x) => g.multiply(x(s), packed.subarray(0, 32))],
          ['multiplyPacked', (g, x) => g.multiplyPacked(x(s), packed)],
          ['multiplyBase', (g, x) => g.multiplyBase(x(s))],
          ['multiplyEach', (g, x) => g.multiplyEach(each.map(x), points)],
          ['hashToGroupMultiply', (g, x) => g.hashToGroupMultiply!(x(s), msgs, dst)],
        ];
        for (const [, run] of cases) {
          const asBytes = outcome(() => run(sodium, (b) => b));
          expect(asBytes).toBe(outcome(() => run(sodium, big)));
          if (!asBytes.startsWith('ok:')) expect(asBytes).toBe('bad_scalar');
          if (run !== cases[4][1]) expect(outcome(() => run(nobleRistretto255, (b) => b))).toBe(asBytes);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('are not modified by the group (it wipes its own copies only)', () => {
    const k = le(123456789n);
    const element = sodium.multiplyBase(le(5n));
    sodium.multiply(k, element);
    sodium.multiplyPacked(k, Uint8Array.of(...element, ...element, ...element));
    sodium.multiplyEach([k, k, k], Uint8Array.of(...element, ...element, ...element));
    expect(k).toEqual(le(123456789n));
  });
});

describe('the DLEQ response s = r - c*k', () => {
  it('is byte-identical on libsodium and on the BigInt reference, for keys and nonces at the edges', () => {
    const ctx = (group: Group) => createSuite('ristretto255-SHA512', Modes.VOPRF, group);
    const ours = ctx(sodium);
    const reference = ctx(nobleRistretto255);
    const M = sodium.hashToGroup(new Uint8Array([1, 2, 3]), new Uint8Array([4]));
    const nonzero = scalarArb.filter((x) => x !== 0n);
    fc.assert(
      fc.property(nonzero, nonzero, (k, r) => {
        const B = sodium.multiplyBase(le(k));
        const proof = proveFromComposite(ours, le(k), B, M, le(r));
        expect(proof).toEqual(proveFromComposite(reference, le(k), B, M, le(r)));
        const c = fromLe(proof.subarray(0, 32));
        expect(fromLe(proof.subarray(32))).toBe(mod(r - c * k, L));
      }),
      { numRuns: 30 },
    );
  });
});

// ---------------------------------------------------------------------------------------
// Inspection: on libsodium, secrets never become BigInts

interface SpyLog {
  scalarArgs: ScalarInput[];
  fromBytes: Uint8Array[];
  toBytes: bigint[];
  prims: Record<string, number>;
  bigints: bigint[];
}

/** The sodium Group built on counting primitives, wrapped so that every scalar handed to it is recorded. */
async function spiedSodiumGroup(log: SpyLog): Promise<Group> {
  const counted = Object.fromEntries(
    Object.entries(raw).map(([name, f]) =>
      typeof f !== 'function'
        ? [name, f]
        : [name, (...args: unknown[]) => ((log.prims[name] = (log.prims[name] ?? 0) + 1), (f as (...a: unknown[]) => unknown)(...args))],
    ),
  ) as unknown as SodiumPrimitives;
  const real = makeSodiumGroup(counted, await loadWasmMsm(), await loadWasmX4());
  const scalar: ScalarField = {
    ...real.scalar,
    fromBytes: (b) => (log.fromBytes.push(b.slice()), real.scalar.fromBytes(b)),
    toBytes: (v) => (log.toBytes.push(v), real.scalar.toBytes(v)),
  };
  const record = (s: ScalarInput) => log.scalarArgs.push(s instanceof Uint8Array ? s.slice() : s);
  return {
    ...real,
    scalar,
    multiply: (s, e) => (record(s), real.multiply(s, e)),
    multiplyPacked: (s, p) => (record(s), real.multiplyPacked(s, p)),
    multiplyEach: (ss, p) => (ss.forEach(record), real.multiplyEach(ss, p)),
    multiplyBase: (s) => (record(s), real.multiplyBase(s)),
    hashToGroupMultiply: (s, m, d) => (record(s), real.hashToGroupMultiply!(s, m, d)),
  };
}

/** Records every value the global BigInt() function returns while `run` runs (conversions from bytes, hex or numbers). */
function recordingBigInt<T>(log: SpyLog, run: () => T): T {
  const RealBigInt = globalThis.BigInt;
  const spy = ((v: string | number | bigint | boolean) => {
    const r = RealBigInt(v);
    log.bigints.push(r);
    return r;
  }) as BigIntConstructor;
  Object.defineProperties(spy, {
    asUintN: { value: RealBigInt.asUintN },
    asIntN: { value: RealBigInt.asIntN },
    prototype: { value: RealBigInt.prototype },
  });
  globalThis.BigInt = spy;
  try {
    return run();
  } finally {
    globalThis.BigInt = RealBigInt;
  }
}

describe('on libsodium the OPRF keeps secret scalars in bytes and computes them in libsodium', () => {
  it('keys, blinds, inverses and the proof nonce reach the group as bytes; no BigInt ever holds one', async () => {
    const log: SpyLog = { scalarArgs: [], fromBytes: [], toBytes: [], prims: {}, bigints: [] };
    const group = await spiedSodiumGroup(log);
    const suite = createSuite('ristretto255-SHA512', Modes.VOPRF, group);
    const rng = seededRng(9);
    const inputs = Array.from({ length: 5 }, (_, i) => new TextEncoder().encode(`tel:+4179000000${i}`));
    const r = nobleRistretto255.scalar.random(seededRng(10));

    const { keys, state, evaluation, outputs, primsAfter } = recordingBigInt(log, () => {
      const keys = suite.deriveKeyPair(new Uint8Array(32).fill(7), new Uint8Array([1]));
      const generated = suite.generateKeyPair(rng);
      suite.publicKeyOf(generated.secretKey);
      suite.evaluate(keys.secretKey, inputs);
      const state = suite.blind(inputs, rng);
      const before = { ...log.prims };
      const evaluation = suite.blindEvaluateVerifiable(keys.secretKey, state.blinded, rng, r);
      const afterProof = { ...log.prims };
      const outputs = suite.finalize(state, evaluation.evaluated, { proof: evaluation.proof, publicKey: keys.publicKey });
      const primsAfter = { before, afterProof, afterFinalize: { ...log.prims } };
      return { keys, state, evaluation, outputs, primsAfter };
    });
    expect(outputs).toHaveLength(inputs.length);

    // Every scalar handed to the group was bytes.
    expect(log.scalarArgs.length).toBeGreaterThan(0);
    for (const s of log.scalarArgs) expect(s).toBeInstanceOf(Uint8Array);

    // The secret values, and c*k, never appeared as a BigInt: not through the scalar field's
    // conversions, not through BigInt() (a conversion by bytes or hex would show here).
    const k = fromLe(keys.secretKey);
    const blinds = state.blinds.map(fromLe);
    const c = fromLe(evaluation.proof.subarray(0, 32));
    const secrets = new Set([k, fromLe(r), (c * k) % L, ...blinds, ...blinds.map((b) => invertScalar(b, L))]);
    for (const v of [...log.toBytes, ...log.bigints]) expect(secrets.has(v)).toBe(false);
    const secretHex = new Set([keys.secretKey, r, ...state.blinds].map((b) => Buffer.from(b).toString('hex')));
    for (const b of log.fromBytes) expect(secretHex.has(Buffer.from(b).toString('hex'))).toBe(false);

    // s = r - c*k was libsodium's (one multiplication, one subtraction); the unblinding
    // inverses were libsodium's (one inversion for the batch, Montgomery's trick).
    const delta = (from: Record<string, number>, to: Record<string, number>, name: string) => (to[name] ?? 0) - (from[name] ?? 0);
    expect(delta(primsAfter.before, primsAfter.afterProof, 'scalarMul')).toBe(1);
    expect(delta(primsAfter.before, primsAfter.afterProof, 'scalarSub')).toBe(1);
    expect(delta(primsAfter.afterProof, primsAfter.afterFinalize, 'scalarInvert')).toBe(1);
    expect(delta(primsAfter.afterProof, primsAfter.afterFinalize, 'scalarMul')).toBe(3 * (inputs.length - 1));
    expect(log.prims.reduce64 ?? 0).toBeGreaterThan(0); // DeriveKeyPair's HashToScalar reduced by libsodium
  });

  it('the spied run gives the same bytes as the reference backend (the inspection observes the real path)', async () => {
    const log: SpyLog = { scalarArgs: [], fromBytes: [], toBytes: [], prims: {}, bigints: [] };
    const spied = createSuite('ristretto255-SHA512', Modes.VOPRF, await spiedSodiumGroup(log));
    const reference = createSuite('ristretto255-SHA512', Modes.VOPRF, nobleRistretto255);
    const inputs = [new Uint8Array([1]), new Uint8Array([2, 3]), new Uint8Array(0)];
    const run = (suite: typeof spied) => {
      const rng = seededRng(3);
      const keys = suite.generateKeyPair(rng);
      const state = suite.blind(inputs, rng);
      const evaluation = suite.blindEvaluateVerifiable(keys.secretKey, state.blinded, rng);
      return { keys, state, evaluation, outputs: suite.finalize(state, evaluation.evaluated, { proof: evaluation.proof, publicKey: keys.publicKey }) };
    };
    expect(run(spied)).toEqual(run(reference));
  });
});
