/**
 * The WebAssembly MSM (asm/ristretto255, loaded by src/group/wasm-msm.ts) against the noble
 * reference: sums equal to the naive sum of noble multiplications, both algorithms (Straus
 * and Pippenger at several windows), the identity reported as such, strict RFC 9496 §4.3.1
 * decoding (the Appendix A.2 invalid encodings and random strings judged as noble judges
 * them), and the sodium group's multiScalarMultiply identical to its naive path, errors
 * included.
 */
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { GroupError } from '../src/errors.js';
import { loadSodiumRistretto255 } from '../src/group/sodium.js';
import type { Group } from '../src/group/types.js';
import { loadWasmMsm, type WasmMsm } from '../src/group/wasm-msm.js';

type NoblePoint = InstanceType<typeof ristretto255.Point>;
const Point = ristretto255.Point;
const L = Point.Fn.ORDER;
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const pack = (elements: readonly Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(elements.length * 32);
  elements.forEach((e, i) => out.set(e, i * 32));
  return out;
};

/** 'ok:<hex>' or '<code>: <message>' for a GroupError, 'error' for anything else. */
function outcome(f: () => Uint8Array): string {
  try {
    return `ok:${toHex(f())}`;
  } catch (err) {
    return err instanceof GroupError ? `${err.code}: ${err.message}` : 'error';
  }
}

/** What the WASM MSM must return: the naive sum of noble multiplications (0 allowed). */
function expected(scalars: readonly bigint[], points: readonly NoblePoint[]): string {
  let acc = Point.ZERO;
  points.forEach((p, i) => {
    if (scalars[i] !== 0n) acc = acc.add(p.multiplyUnsafe(scalars[i]));
  });
  return acc.equals(Point.ZERO) ? 'identity_element: result is the identity' : `ok:${acc.toHex()}`;
}

const pointArb = fc.uint8Array({ minLength: 64, maxLength: 64 }).map((b) => ristretto255_hasher.deriveToCurve!(b) as NoblePoint);
/** A few fixed points, so that batches repeat points (and their negations). */
const POOL = [Point.BASE, Point.BASE.double(), Point.BASE.negate(), Point.BASE.multiply(7n)] as NoblePoint[];
const batchPointArb = fc.oneof({ weight: 4, arbitrary: pointArb }, { weight: 1, arbitrary: fc.constantFrom(...POOL) });
const scalarArb = fc.oneof(
  { weight: 6, arbitrary: fc.bigInt({ min: 1n, max: L - 1n }) },
  { weight: 2, arbitrary: fc.bigInt({ min: 0n, max: 40n }) },
  { weight: 1, arbitrary: fc.constantFrom(0n, 1n, 2n, 15n, 16n, 17n, L - 1n, L - 2n, 2n ** 252n, 2n ** 128n + 1n, (1n << 252n) - 1n) },
);
/** undefined: the module's own choice; 0: Straus; 2..12: Pippenger with that window. */
const windowArb = fc.constantFrom(undefined, 0, 2, 3, 4, 5, 6, 7, 8, 11);

/** RFC 9496 Appendix A.2: invalid encodings. */
const INVALID = {
  nonCanonical: [
    '00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
    'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'f3ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  ],
  negative: [
    '0100000000000000000000000000000000000000000000000000000000000000',
    '01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'ed57ffd8c914fb201471d1c3d245ce3c746fcbe63a3679d51b6a516ebebe0e20',
    'c34c4e1826e5d403b78e246e88aa051c36ccf0aafebffe137d148a2bf9104562',
    'c940e5a4404157cfb1628b108db051a8d439e1a421394ec4ebccb9ec92a8ac78',
    '47cfc5497c53dc8e61c91d17fd626ffb1c49e2bca94eed052281b510b1117a24',
    'f1c6165d33367351b0da8f6e4511010c68174a03b6581212c71c0e1d026c3c72',
    '87260f7a2f12495118360f02c26a470f450dadf34a413d21042b43b9d93e1309',
  ],
  nonSquare: [
    '26948d35ca62e643e26a83177332e6b6afeb9d08e4268b650f1f5bbd8d81d371',
    '4eac077a713c57b4f4397629a4145982c661f48044dd3f96427d40b147d9742f',
    'de6a7b00deadc788eb6b6c8d20c0ae96c2f2019078fa604fee5b87d6e989ad7b',
    'bcab477be20861e01e4a0e295284146a510150d9817763caf1a6f4b422d67042',
    '2a292df7e32cababbd9de088d1d1abec9fc0440f637ed2fba145094dc14bea08',
    'f4a9e534fc0d216c44b218fa0c42d99635a0127ee2e53c712f70609649fdff22',
    '8268436f8c4126196cf64b3c7ddbda90746a378625f9813dd9b8457077256731',
    '2810e5cbc2cc4d4eece54f61c6f69758e289aa7ab440b3cbeaa21995c2f4232b',
  ],
  negativeXY: [
    '3eb858e78f5a7254d8c9731174a94f76755fd3941c0ac93735c07ba14579630e',
    'a45fdc55c76448c049a1ab33f17023edfb2be3581e9c7aade8a6125215e04220',
    'd483fe813c6ba647ebbfd3ec41adca1c6130c2beeee9d9bf065c8d151c5f396e',
    '8a2e1d30050198c65a54483123960ccc38aef6848e1ec8f5f780e8523769ba32',
    '32888462f8b486c68ad7dd9610be5192bbeaf3b443951ac1a8118419d9fa097b',
    '227142501b9d4355ccba290404bde41575b037693cef1f438c47f8fbf35d1165',
    '5c37cc491da847cfeb9281d407efc41e15144c876e0170b499a96a22ed31e01e',
    '445425117cb8c90edcbc7c1cc0e74f747f2c1efa5630a967c64f287792a48a4b',
  ],
  yZero: ['ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'], // s = -1
};
const ALL_INVALID = Object.values(INVALID).flat();

let wasm: WasmMsm;
beforeAll(async () => {
  const loaded = await loadWasmMsm();
  // `npm run build` (run by `npm ci`) produces src/group/wasm/ristretto255.wasm.
  expect(loaded, 'the WASM MSM did not load: run `npm run build`').not.toBeNull();
  wasm = loaded!;
});

describe('WASM MSM vs noble', () => {
  it('picks Straus for small batches and Pippenger with a growing window for large ones', () => {
    expect(wasm.windowFor(1)).toBe(0);
    expect(wasm.windowFor(2)).toBe(0);
    const windows = [256, 1024, 4096, 16384, 65535].map((n) => wasm.windowFor(n));
    expect(windows.every((c) => c >= 4 && c <= 12)).toBe(true);
    expect([...windows].sort((a, b) => a - b)).toEqual(windows);
  });

  it('equals the naive noble sum, for n in 1..40, on either algorithm', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(scalarArb, batchPointArb), { minLength: 1, maxLength: 40 }), windowArb, (terms, window) => {
        const scalars = terms.map(([s]) => s);
        const points = terms.map(([, p]) => p);
        const packed = pack(points.map((p) => p.toBytes()));
        expect(outcome(() => wasm.msm(scalars, packed, { window }))).toBe(expected(scalars, points));
      }),
      { numRuns: 60 },
    );
  });

  it('takes scalars as bigints or as packed little-endian bytes alike', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(scalarArb, pointArb), { minLength: 1, maxLength: 12 }), (terms) => {
        const scalars = terms.map(([s]) => s);
        const bytes = pack(scalars.map((s) => ristretto255.Point.Fn.toBytes(s)));
        const packed = pack(terms.map(([, p]) => p.toBytes()));
        expect(outcome(() => wasm.msm(bytes, packed))).toBe(outcome(() => wasm.msm(scalars, packed)));
      }),
      { numRuns: 20 },
    );
  });

  it('reports the identity when P and -P (or s and L - s) cancel', () => {
    fc.assert(
      fc.property(pointArb, pointArb, fc.bigInt({ min: 1n, max: L - 1n }), fc.bigInt({ min: 1n, max: L - 1n }), windowArb, (p, q, s, t, window) => {
        const identity = 'identity_element: result is the identity';
        const pp = pack([p.toBytes(), p.negate().toBytes()]);
        expect(outcome(() => wasm.msm([s, s], pp, { window }))).toBe(identity);
        expect(outcome(() => wasm.msm([s, L - s], pack([p.toBytes(), p.toBytes()]), { window }))).toBe(identity);
        // A cancelling pair inside a larger sum leaves the rest.
        const three = pack([p.toBytes(), q.toBytes(), p.negate().toBytes()]);
        expect(outcome(() => wasm.msm([s, t, s], three, { window }))).toBe(`ok:${q.multiply(t).toHex()}`);
      }),
      { numRuns: 15 },
    );
  });

  it('multiplies the generator like RFC 9496 A.1 (k * G for k = 0..15)', () => {
    for (let k = 0n; k < 16n; k++) {
      const want = k === 0n ? 'identity_element: result is the identity' : `ok:${Point.BASE.multiply(k).toHex()}`;
      for (const window of [undefined, 0, 2, 5]) expect(outcome(() => wasm.msm([k], Point.BASE.toBytes(), { window }))).toBe(want);
    }
  });

  it('n = 1,500 (Pippenger) equals noble and the naive libsodium path', async () => {
    const n = 1500;
    const points = Array.from({ length: n }, (_, i) => ristretto255_hasher.deriveToCurve!(sha512(new Uint8Array([i >> 8, i & 0xff]))) as NoblePoint);
    const scalars = points.map((_, i) => (BigInt(i + 1) * 0x9e3779b97f4a7c15f39cc0605cedc834n + 0xdeadbeefn * BigInt(i * i)) % L);
    const packed = pack(points.map((p) => p.toBytes()));
    expect(wasm.windowFor(n)).toBeGreaterThan(0);
    const want = expected(scalars, points);
    expect(outcome(() => wasm.msm(scalars, packed))).toBe(want);
    const naive = await loadSodiumRistretto255({ msm: 'naive' });
    expect(outcome(() => naive.multiScalarMultiply(scalars, packed))).toBe(want);
  });
});

describe('WASM ristretto255 decoding (RFC 9496 §4.3.1) and encoding (§4.3.2)', () => {
  it('encode(decode(x)) == x for valid elements', () => {
    fc.assert(
      fc.property(pointArb, (p) => {
        expect(toHex(wasm.roundTrip(p.toBytes()))).toBe(p.toHex());
      }),
      { numRuns: 200 },
    );
  });

  it('accepts and rejects exactly what noble does, on random and canonical-looking strings', () => {
    const canonicalLooking = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => {
      b[31] &= 0x7f;
      b[0] &= 0xfe;
      return b;
    });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), canonicalLooking), (bytes) => {
        let reference: string;
        try {
          reference = `ok:${Point.fromBytes(bytes).toHex()}`;
        } catch {
          reference = 'bad_element';
        }
        const ours = outcome(() => wasm.roundTrip(bytes));
        expect(ours.startsWith('bad_element') ? 'bad_element' : ours).toBe(reference);
      }),
      { numRuns: 400 },
    );
  });

  it('rejects each RFC 9496 A.2 invalid encoding, naming its index in the batch', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ALL_INVALID), fc.array(pointArb, { minLength: 0, maxLength: 6 }), fc.nat(), windowArb, (badHex, others, pos, window) => {
        expect(() => Point.fromBytes(fromHex(badHex))).toThrow(); // the reference agrees it is invalid
        const index = pos % (others.length + 1);
        const elements: Uint8Array[] = others.map((p) => p.toBytes());
        elements.splice(index, 0, fromHex(badHex));
        const scalars = elements.map((_, i) => BigInt(i + 1));
        expect(outcome(() => wasm.msm(scalars, pack(elements), { window }))).toBe(
          `bad_element: element at index ${index} is not a canonical encoding of a group element`,
        );
      }),
      { numRuns: 100 },
    );
  });

  it('rejects an identity element in the batch (RFC 9497 §3.3) at its index, and bad arguments', () => {
    const batch = pack([Point.BASE.toBytes(), new Uint8Array(32), Point.BASE.toBytes()]);
    expect(outcome(() => wasm.msm([1n, 2n, 3n], batch))).toBe('identity_element: element at index 1 is the identity');
    expect(outcome(() => wasm.msm([1n, 2n], batch))).toBe('bad_length: one scalar per element expected');
    expect(outcome(() => wasm.msm([1n], new Uint8Array(31)))).toMatch(/^bad_length/);
    expect(outcome(() => wasm.msm([L], Point.BASE.toBytes()))).toMatch(/^bad_scalar: scalar at index 0/);
    expect(outcome(() => wasm.msm([-1n], Point.BASE.toBytes()))).toMatch(/^bad_scalar/);
    const big = new Uint8Array(32).fill(0xff);
    expect(outcome(() => wasm.msm(big, Point.BASE.toBytes()))).toMatch(/^bad_scalar: scalar at index 0/);
    expect(() => wasm.msm([1n], Point.BASE.toBytes(), { window: 1 })).toThrow(RangeError);
    expect(() => wasm.msm([1n], Point.BASE.toBytes(), { window: 17 })).toThrow(RangeError);
    expect(outcome(() => wasm.msm([], new Uint8Array(0)))).toBe('identity_element: result is the identity');
  });
});

describe('sodium group: multiScalarMultiply on the WASM MSM', () => {
  let fast: Group;
  let naive: Group;
  beforeAll(async () => {
    fast = await loadSodiumRistretto255({ msm: 'wasm' });
    naive = await loadSodiumRistretto255({ msm: 'naive' });
  });

  it('is byte-identical to the naive path, errors (code, message, index) included', () => {
    const elementArb: fc.Arbitrary<Uint8Array> = fc.oneof(
      { weight: 8, arbitrary: pointArb.map((p): Uint8Array => p.toBytes()) },
      { weight: 1, arbitrary: fc.constantFrom(...ALL_INVALID).map((h): Uint8Array => fromHex(h)) },
      { weight: 1, arbitrary: fc.constant<Uint8Array>(new Uint8Array(32)) },
    );
    const groupScalarArb = fc.oneof(
      { weight: 12, arbitrary: fc.bigInt({ min: 1n, max: L - 1n }) },
      { weight: 1, arbitrary: fc.constantFrom(0n, L, -3n, L + 5n) },
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(groupScalarArb, elementArb), { minLength: 0, maxLength: 10 }), (terms) => {
        const scalars = terms.map(([s]) => s);
        const packed = pack(terms.map(([, e]) => e));
        expect(outcome(() => fast.multiScalarMultiply(scalars, packed))).toBe(outcome(() => naive.multiScalarMultiply(scalars, packed)));
      }),
      { numRuns: 150 },
    );
  });

  it('keeps its identity and length errors', () => {
    const g = Point.BASE.toBytes();
    for (const group of [fast, naive]) {
      expect(outcome(() => group.multiScalarMultiply([1n, L - 1n], pack([g, g])))).toBe('identity_element: result is the identity');
      expect(outcome(() => group.multiScalarMultiply([1n], pack([g, g])))).toBe('bad_length: one scalar per element expected');
    }
  });
});
