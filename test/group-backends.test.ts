/**
 * The sodium backend must be byte-identical to the noble reference: same outputs, and the
 * same accept/reject decision with the same error code on bad input. Both libsodium access
 * paths ('raw' WASM heap, 'wrapper' functions) are checked.
 */
import { ristretto255_hasher } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ContactPsiError, GroupError } from '../src/errors.js';
import { nobleP256, nobleRistretto255 } from '../src/group/noble.js';
import { invertScalar } from '../src/group/scalar-field.js';
import { loadGroup } from '../src/group/select.js';
import { loadSodiumPrimitives, loadSodiumRistretto255 } from '../src/group/sodium.js';
import type { Group } from '../src/group/types.js';

const noble = nobleRistretto255;
const L = noble.scalar.order;
// noble costs ~0.5-1 ms per multiplication; keep the runs small enough for CI.
const RUNS = { numRuns: 100 };

/** 'ok:<hex>' or the error code (GroupError) / 'error' (anything else thrown). */
function outcome(f: () => Uint8Array | bigint | number | boolean | void): string {
  try {
    const r = f();
    if (r instanceof Uint8Array) return `ok:${Buffer.from(r).toString('hex')}`;
    return `ok:${String(r)}`;
  } catch (err) {
    return err instanceof GroupError ? err.code : 'error';
  }
}

/** Same outcome, except that noble's own scalar range check throws a plain RangeError. */
function expectSame(sodium: string, reference: string): void {
  if (reference === 'error') expect(sodium).toBe('bad_scalar');
  else expect(sodium).toBe(reference);
}

const scalarArb = fc.oneof(
  { weight: 8, arbitrary: fc.bigInt({ min: 1n, max: L - 1n }) },
  { weight: 1, arbitrary: fc.constantFrom(1n, 2n, L - 1n, L - 2n, 2n ** 252n, 2n ** 128n + 1n) },
);
/** Valid elements made by noble alone (RFC 9496 one-way map of random bytes). */
const elementArb = fc.uint8Array({ minLength: 64, maxLength: 64 }).map((b) => ristretto255_hasher.deriveToCurve!(b).toBytes());
const packedArb = (max: number) =>
  fc.array(elementArb, { minLength: 0, maxLength: max }).map((els) => {
    const out = new Uint8Array(els.length * 32);
    els.forEach((e, i) => out.set(e, i * 32));
    return out;
  });
/** Mostly invalid 32-byte strings, plus valid ones, the identity and near-p values. */
const encodingArb = fc.oneof(
  fc.uint8Array({ minLength: 32, maxLength: 32 }),
  elementArb,
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => {
    b[31] &= 0x7f; // canonical-looking: below 2^255 and "non-negative" (RFC 9496 §4.3.1)
    b[0] &= 0xfe;
    return b;
  }),
  fc.constant(new Uint8Array(32)),
  fc.integer({ min: 0, max: 40 }).map((k) => {
    const b = new Uint8Array(32).fill(0xff); // p + k - 19 around the field prime
    b[31] = 0x7f;
    b[0] = 0xda + k;
    return b;
  }),
  fc.uint8Array({ minLength: 0, maxLength: 40 }),
);
const msgArb = fc.uint8Array({ maxLength: 300 });
// 0 (noble rejects), 1..255 (plain) and > 255 bytes (RFC 9380 §5.3.3 oversize DST).
const dstArb = fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 80 }), fc.uint8Array({ minLength: 256, maxLength: 300 }), fc.constant(new Uint8Array(0)));

describe.each(['raw', 'wrapper'] as const)('sodium (%s) vs noble ristretto255', (mode) => {
  let sodium: Group;
  beforeAll(async () => {
    sodium = await loadSodiumRistretto255({ mode });
  });

  it('describes the same group', () => {
    expect(sodium.backend).toBe('sodium');
    expect(sodium.id).toBe(noble.id);
    expect(sodium.elementSize).toBe(noble.elementSize);
    expect(sodium.scalar.order).toBe(L);
    expect(sodium.scalar.littleEndian).toBe(true);
    expect(sodium.generator).toEqual(noble.generator);
  });

  it('hashToGroup: random messages and DSTs', () => {
    fc.assert(
      fc.property(msgArb, dstArb, (msg, dst) => {
        expect(outcome(() => sodium.hashToGroup(msg, dst))).toBe(outcome(() => noble.hashToGroup(msg, dst)));
      }),
      RUNS,
    );
  });

  it('hashToGroupBatch', () => {
    fc.assert(
      fc.property(fc.array(msgArb, { maxLength: 6 }), fc.uint8Array({ minLength: 1, maxLength: 64 }), (msgs, dst) => {
        expect(sodium.hashToGroupBatch(msgs, dst)).toEqual(noble.hashToGroupBatch(msgs, dst));
      }),
      { numRuns: 15 },
    );
  });

  it('hashToGroupMultiply (fused on the SIMD module) equals multiplyPacked of hashToGroupBatch', () => {
    fc.assert(
      fc.property(fc.array(msgArb, { maxLength: 9 }), fc.uint8Array({ minLength: 1, maxLength: 64 }), scalarArb, (msgs, dst, k) => {
        expect(sodium.hashToGroupMultiply!(k, msgs, dst)).toEqual(noble.multiplyPacked(k, noble.hashToGroupBatch(msgs, dst)));
      }),
      { numRuns: 15 },
    );
    const msgs = [new Uint8Array(1), new Uint8Array(2), new Uint8Array(3)];
    expect(outcome(() => sodium.hashToGroupMultiply!(0n, msgs, new Uint8Array(4)))).toBe('bad_scalar');
    expect(outcome(() => sodium.hashToGroupMultiply!(L, msgs, new Uint8Array(4)))).toBe('bad_scalar');
  });

  it('hashToScalar', () => {
    fc.assert(
      fc.property(msgArb, dstArb, (msg, dst) => {
        expect(outcome(() => sodium.hashToScalar(msg, dst))).toBe(outcome(() => noble.hashToScalar(msg, dst)));
      }),
      { numRuns: 200 },
    );
  });

  it('validateElement: same decision and code on random encodings', () => {
    fc.assert(
      fc.property(encodingArb, (bytes) => {
        expect(outcome(() => sodium.validateElement(bytes))).toBe(outcome(() => noble.validateElement(bytes)));
      }),
      { numRuns: 400 },
    );
  });

  it('validatePacked: same count, or the same code and index', () => {
    const arb = fc.array(encodingArb.filter((b) => b.length === 32), { maxLength: 5 }).chain((els) =>
      fc.integer({ min: 0, max: 2 }).map((extra) => {
        const out = new Uint8Array(els.length * 32 + (extra === 2 ? 1 : 0));
        els.forEach((e, i) => out.set(e, i * 32));
        return out;
      }),
    );
    const describeErr = (g: Group, p: Uint8Array): string => {
      try {
        return `ok:${g.validatePacked(p)}`;
      } catch (err) {
        return err instanceof GroupError ? `${err.code}:${err.message}` : 'error';
      }
    };
    fc.assert(
      fc.property(arb, (packed) => {
        expect(describeErr(sodium, packed)).toBe(describeErr(noble, packed));
      }),
      { numRuns: 200 },
    );
  });

  it('multiply', () => {
    fc.assert(
      fc.property(scalarArb, elementArb, (s, e) => {
        expect(sodium.multiply(s, e)).toEqual(noble.multiply(s, e));
      }),
      RUNS,
    );
  });

  it('multiply rejects what noble rejects (bad scalars, bad elements)', () => {
    const badScalar = fc.constantFrom(0n, L, L + 1n, -1n, 2n ** 255n);
    fc.assert(
      fc.property(fc.oneof(scalarArb, badScalar), encodingArb, (s, e) => {
        expectSame(outcome(() => sodium.multiply(s, e)), outcome(() => noble.multiply(s, e)));
      }),
      RUNS,
    );
    expect(() => sodium.multiplyBase(0n)).toThrowError(expect.objectContaining({ code: 'bad_scalar' }));
    expect(() => sodium.multiplyBase(L)).toThrowError(expect.objectContaining({ code: 'bad_scalar' }));
  });

  it('multiplyPacked', () => {
    fc.assert(
      fc.property(scalarArb, packedArb(4), (s, packed) => {
        expect(sodium.multiplyPacked(s, packed)).toEqual(noble.multiplyPacked(s, packed));
      }),
      { numRuns: 15 },
    );
  });

  it('multiplyPacked and multiplyEach reject what noble rejects, at the same index', () => {
    // sodium lets libsodium's multiplication do the decoding and explains only a refusal.
    const messageOf = (f: () => Uint8Array): string => {
      try {
        return `ok:${Buffer.from(f()).toString('hex')}`;
      } catch (err) {
        return err instanceof GroupError ? `${err.code}:${/index (\d+)/.exec(err.message)?.[1] ?? '-'}` : 'error';
      }
    };
    const mixed = fc.array(fc.oneof(elementArb, encodingArb.filter((e) => e.length === 32)), { minLength: 1, maxLength: 5 }).map((els) => {
      const out = new Uint8Array(els.length * 32);
      els.forEach((e, i) => out.set(e, i * 32));
      return out;
    });
    fc.assert(
      fc.property(scalarArb, mixed, (s, packed) => {
        expect(messageOf(() => sodium.multiplyPacked(s, packed))).toBe(messageOf(() => noble.multiplyPacked(s, packed)));
        const scalars = Array.from({ length: packed.length / 32 }, (_, i) => s + BigInt(i) < L ? s + BigInt(i) : 1n);
        expect(messageOf(() => sodium.multiplyEach(scalars, packed))).toBe(messageOf(() => noble.multiplyEach(scalars, packed)));
      }),
      RUNS,
    );
  });

  it('multiplyEach', () => {
    const arb = packedArb(4).chain((packed) =>
      fc.tuple(fc.constant(packed), fc.array(scalarArb, { minLength: packed.length / 32, maxLength: packed.length / 32 })),
    );
    fc.assert(
      fc.property(arb, ([packed, scalars]) => {
        expect(sodium.multiplyEach(scalars, packed)).toEqual(noble.multiplyEach(scalars, packed));
      }),
      { numRuns: 15 },
    );
    const one = noble.generator;
    expect(outcome(() => sodium.multiplyEach([1n, 2n], one))).toBe('bad_length');
    expect(outcome(() => noble.multiplyEach([1n, 2n], one))).toBe('bad_length');
  });

  it('multiplyBase', () => {
    fc.assert(
      fc.property(scalarArb, (s) => {
        expect(sodium.multiplyBase(s)).toEqual(noble.multiplyBase(s));
      }),
      RUNS,
    );
  });

  it('multiScalarMultiply', () => {
    const arb = packedArb(4).chain((packed) =>
      fc.tuple(fc.constant(packed), fc.array(scalarArb, { minLength: packed.length / 32, maxLength: packed.length / 32 })),
    );
    fc.assert(
      fc.property(arb, ([packed, scalars]) => {
        expect(outcome(() => sodium.multiScalarMultiply(scalars, packed))).toBe(outcome(() => noble.multiScalarMultiply(scalars, packed)));
      }),
      { numRuns: 15 },
    );
  });

  it('multiScalarMultiply: a sum that is the identity is rejected by both, an empty sum too', () => {
    const g = noble.generator;
    const twice = new Uint8Array([...g, ...g]);
    expect(outcome(() => sodium.multiScalarMultiply([1n, L - 1n], twice))).toBe('identity_element');
    expect(outcome(() => noble.multiScalarMultiply([1n, L - 1n], twice))).toBe('identity_element');
    // P + (-P) + P: an identity partial sum must not break the accumulation.
    const thrice = new Uint8Array([...g, ...g, ...g]);
    expect(sodium.multiScalarMultiply([1n, L - 1n, 5n], thrice)).toEqual(noble.multiplyBase(5n));
    expect(outcome(() => sodium.multiScalarMultiply([], new Uint8Array(0)))).toBe('identity_element');
    expect(outcome(() => noble.multiScalarMultiply([], new Uint8Array(0)))).toBe('identity_element');
  });

  it('scalar inversion round trip: s^-1 * (s * P) = P', () => {
    fc.assert(
      fc.property(scalarArb, elementArb, (s, e) => {
        const blinded = sodium.multiply(s, e);
        expect(sodium.multiply(invertScalar(s, L), blinded)).toEqual(e);
      }),
      { numRuns: 100 },
    );
  });

  it('equals', () => {
    fc.assert(
      fc.property(elementArb, elementArb, (a, b) => {
        expect(sodium.equals(a, b)).toBe(noble.equals(a, b));
        expect(sodium.equals(a, a.slice())).toBe(true);
      }),
      RUNS,
    );
    expect(outcome(() => sodium.equals(noble.generator, new Uint8Array(32)))).toBe('identity_element');
  });
});

describe('sodium raw path robustness', () => {
  it("'auto' takes the raw WASM path on this libsodium (self-test passed)", async () => {
    expect((await loadSodiumPrimitives()).path).toBe('raw');
    expect(await loadSodiumRistretto255()).toBe(await loadSodiumRistretto255({ mode: 'raw' }));
  });

  it('survives WASM memory growth caused by other libsodium users (stale HEAPU8 views)', async () => {
    const sodium = (await import('libsodium-wrappers-sumo')).default;
    const lib = (sodium as unknown as { libsodium: { HEAPU8: Uint8Array } }).libsodium;
    const g = await loadSodiumRistretto255({ mode: 'raw' });
    const msg = new TextEncoder().encode('+15551234567');
    const dst = new TextEncoder().encode('growth');
    const before = lib.HEAPU8.buffer;
    const beforeSize = before.byteLength;
    sodium.crypto_hash_sha512(new Uint8Array(beforeSize + (1 << 20))); // forces memory.grow
    expect(lib.HEAPU8.buffer.byteLength).toBeGreaterThan(beforeSize);
    expect(g.hashToGroup(msg, dst)).toEqual(noble.hashToGroup(msg, dst));
    expect(g.multiply(12345n, noble.generator)).toEqual(noble.multiplyBase(12345n));
    // A message longer than the scratch area makes the backend grow its own buffer.
    const long = new Uint8Array(5000).fill(7);
    expect(g.hashToGroup(long, dst)).toEqual(noble.hashToGroup(long, dst));
  });
});

describe('loadGroup', () => {
  it("'auto' picks sodium for ristretto255 and caches the instance", async () => {
    const g = await loadGroup('ristretto255');
    expect(g.backend).toBe('sodium');
    expect(await loadGroup('ristretto255', 'auto')).toBe(g);
    expect(await loadGroup('ristretto255', 'sodium')).toBe(g);
  });

  it("'noble' is the reference instance", async () => {
    expect(await loadGroup('ristretto255', 'noble')).toBe(nobleRistretto255);
    expect(await loadGroup('P256', 'noble')).toBe(nobleP256);
  });

  it("P-256 is noble only: 'auto' gives noble, 'sodium' is backend_unavailable", async () => {
    expect(await loadGroup('P256')).toBe(nobleP256);
    const err = await loadGroup('P256', 'sodium').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ContactPsiError);
    expect((err as ContactPsiError).code).toBe('backend_unavailable');
  });

  it('unknown names are rejected with a code', async () => {
    await expect(loadGroup('P384' as never)).rejects.toMatchObject({ code: 'unknown_group' });
    await expect(loadGroup('ristretto255', 'openssl' as never)).rejects.toMatchObject({ code: 'unknown_backend' });
  });
});
