import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadGroup } from '../src/group/index.js';
import { ProtocolError } from '../src/protocol/errors.js';
import { applyDelta, commitmentsEqual, commitPrefixes, TagSetAccumulator, verifyDelta } from '../src/protocol/discovery/commitment.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const pack = (keys: Iterable<string>) => {
  const list = [...keys].sort();
  const out = new Uint8Array(list.length * 8);
  list.forEach((k, i) => out.set(Buffer.from(k, 'hex'), i * 8));
  return out;
};
const prefix = fc.uint8Array({ minLength: 8, maxLength: 8 }).map(hex);
const prefixSet = (max: number) => fc.uniqueArray(prefix, { maxLength: max });

/** A base set and a net delta against it: removals drawn from the set, additions from outside. */
const setAndDelta = prefixSet(24).chain((base) =>
  fc.record({
    base: fc.constant(base),
    removed: fc.subarray(base),
    added: prefixSet(12).map((a) => a.filter((k) => !base.includes(k))),
  }),
);

describe('tag-set commitment (ECMH on ristretto255)', () => {
  it('generators reach empty sets, removals of everything and large deltas', () => {
    const samples = fc.sample(setAndDelta, { numRuns: 300, seed: 1 });
    expect(samples.some((s) => s.base.length === 0)).toBe(true);
    expect(samples.some((s) => s.base.length > 0 && s.removed.length === s.base.length)).toBe(true);
    expect(samples.some((s) => s.added.length >= 6 && s.removed.length >= 6)).toBe(true);
  });

  it('the commitment of (set after a delta) equals the commitment of that set from scratch', () => {
    fc.assert(
      fc.property(setAndDelta, ({ base, removed, added }) => {
        const after = new Set(base);
        for (const k of removed) after.delete(k);
        for (const k of added) after.add(k);
        const incremental = applyDelta(commitPrefixes(pack(base)), pack(added), pack(removed));
        const scratch = commitPrefixes(pack(after));
        expect(incremental.count).toBe(after.size);
        expect(hex(incremental.digest)).toBe(hex(scratch.digest));
        expect(verifyDelta(commitPrefixes(pack(base)), pack(added), pack(removed), scratch).count).toBe(after.size);
      }),
      { numRuns: 60 },
    );
  });

  it('does not depend on the order of the prefixes', () => {
    fc.assert(
      fc.property(prefixSet(16), fc.integer(), (set, seed) => {
        const shuffled = [...set].sort((a, b) => (hash(a + seed) < hash(b + seed) ? -1 : 1));
        const packedShuffled = new Uint8Array(set.length * 8);
        shuffled.forEach((k, i) => packedShuffled.set(Buffer.from(k, 'hex'), i * 8));
        expect(hex(commitPrefixes(packedShuffled).digest)).toBe(hex(commitPrefixes(pack(set)).digest));
      }),
      { numRuns: 30 },
    );
  });

  it('any change of one prefix (one bit) changes the commitment, and a lying delta is split_view', () => {
    fc.assert(
      fc.property(prefixSet(12).filter((s) => s.length > 0), fc.nat(), fc.integer({ min: 0, max: 63 }), (set, which, bit) => {
        const i = which % set.length;
        const changed = Buffer.from(set[i], 'hex');
        changed[bit >> 3] ^= 1 << (bit & 7);
        if (set.includes(changed.toString('hex'))) return; // flipped onto another member: the same set
        const other = set.map((k, j) => (j === i ? changed.toString('hex') : k));
        const honest = commitPrefixes(pack(set));
        expect(commitmentsEqual(honest, commitPrefixes(pack(other)))).toBe(false);
        // The attack of issue 10 §1: the delta swaps a real prefix for a planted one.
        const lie = () => verifyDelta(honest, pack([changed.toString('hex')]), pack([set[i]]), honest);
        expect(lie).toThrow(ProtocolError);
        expect(code(lie)).toBe('split_view');
      }),
      { numRuns: 60 },
    );
  });

  it('counts are part of it: removing more than the set holds is split_view; a wrong count is refused', () => {
    const one = pack(['0011223344556677']);
    expect(code(() => applyDelta(commitPrefixes(new Uint8Array(0)), new Uint8Array(0), one))).toBe('split_view');
    const c = commitPrefixes(one);
    expect(code(() => verifyDelta(c, new Uint8Array(0), new Uint8Array(0), { ...c, count: 2 }))).toBe('split_view');
  });

  it('refuses packed prefixes of a wrong length and a non-canonical commitment', () => {
    expect(code(() => commitPrefixes(new Uint8Array(7)))).toBe('bad_field');
    expect(code(() => TagSetAccumulator.from({ count: 0, digest: new Uint8Array(31) }))).toBe('bad_field');
    expect(code(() => TagSetAccumulator.from({ count: 0, digest: new Uint8Array(32).fill(0xff) }))).toBe('bad_field');
    expect(code(() => TagSetAccumulator.from({ count: -1, digest: new Uint8Array(32) }))).toBe('bad_field');
  });

  it('the empty set is the identity (32 zero bytes), and a multiset counts a repeated prefix twice', () => {
    expect(commitPrefixes(new Uint8Array(0))).toEqual({ count: 0, digest: new Uint8Array(32) });
    const p = pack(['0102030405060708']);
    const twice = commitPrefixes(new Uint8Array([...p, ...p]));
    expect(twice.count).toBe(2);
    expect(hex(twice.digest)).not.toBe(hex(commitPrefixes(p).digest));
    expect(hex(applyDelta(twice, new Uint8Array(0), p).digest)).toBe(hex(commitPrefixes(p).digest));
  });

  it('a group backend (noble, sodium) gives the same bytes as the default, across chunk boundaries', async () => {
    const set = pack(fc.sample(prefix, { numRuns: 4100, seed: 7 }));
    const expected = hex(commitPrefixes(set).digest);
    // sodium over more than one 4,096-prefix chunk; noble (slow: a full multiplication by 1 per point) on a part.
    const sodium = await loadGroup('ristretto255', 'sodium');
    expect(hex(commitPrefixes(set, { group: sodium }).digest)).toBe(expected);
    expect(hex(applyDelta(commitPrefixes(set, { group: sodium }), new Uint8Array(0), set.subarray(0, 80), { group: sodium }).digest)).toBe(hex(commitPrefixes(set.subarray(80)).digest));
    const noble = await loadGroup('ristretto255', 'noble');
    expect(hex(commitPrefixes(set.subarray(0, 160), { group: noble }).digest)).toBe(hex(commitPrefixes(set.subarray(0, 160)).digest));
    // A backend whose sum is refused (the identity) falls back to adding point by point.
    const refusing = { id: noble.id, hashToGroupBatch: noble.hashToGroupBatch, multiScalarMultiply: () => { throw new Error('identity'); } };
    expect(hex(commitPrefixes(set.subarray(0, 160), { group: refusing }).digest)).toBe(hex(commitPrefixes(set.subarray(0, 160)).digest));
    const p256 = await loadGroup('P256', 'noble');
    expect(code(() => commitPrefixes(set, { group: p256 }))).toBe('unsupported');
  });
});

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return (err as ProtocolError).code;
  }
  return undefined;
}
