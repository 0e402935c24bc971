import fc from 'fast-check';
import { sha512 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { buildEncoding, parseEncoding, type EncodingParams, type SetEncoding } from '../src/setenc/index.js';
import { errorCode, hex, packedTags, prng, SAMPLE_PARAMS, splitTags } from './setenc-helpers.js';

const tag64 = fc.uint8Array({ minLength: 64, maxLength: 64 });
/** Sets with repeats: distinct tags, then some of them again. */
const tagSets = fc
  .array(tag64, { maxLength: 120 })
  .chain((tags) => fc.tuple(fc.constant(tags), tags.length === 0 ? fc.constant([]) : fc.array(fc.constantFrom(...tags), { maxLength: 30 })))
  .map(([tags, again]) => [...tags, ...again]);

/** What an encoding counts as distinct: the truncated tag for raw, the 16-byte key otherwise. */
function distinctCount(params: EncodingParams, tags: readonly Uint8Array[]): number {
  const width = params.kind === 'raw' ? params.tagBytes : 16;
  return new Set(tags.map((t) => hex(t.subarray(0, width)))).size;
}

function label(params: EncodingParams): string {
  return JSON.stringify(params);
}

function expectSameAnswers(a: SetEncoding, b: SetEncoding, queries: readonly Uint8Array[]): void {
  for (const q of queries) expect(b.contains(q)).toBe(a.contains(q));
}

describe.each(SAMPLE_PARAMS.map((p) => [label(p), p] as const))('setenc %s', (_name, params) => {
  it('has no false negatives and counts distinct tags (fast-check sets, with repeats)', () => {
    fc.assert(
      fc.property(tagSets, (tags) => {
        const enc = buildEncoding(params, tags);
        expect(enc.kind).toBe(params.kind);
        expect(enc.count).toBe(distinctCount(params, tags));
        for (const t of tags) expect(enc.contains(t)).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('has no false negatives for sets of up to a few thousand tags', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 3000 }), (seed, n) => {
        const input = packedTags(seed, n);
        const enc = buildEncoding(params, input);
        expect(enc.count).toBe(n); // pseudo-random 64-byte tags do not collide
        for (const t of splitTags(input)) expect(enc.contains(t)).toBe(true);
      }),
      { numRuns: 8 },
    );
  });

  it('empty set: contains nothing', () => {
    const enc = buildEncoding(params, []);
    expect(enc.count).toBe(0);
    for (const q of splitTags(packedTags(1, 200))) expect(enc.contains(q)).toBe(false);
    expect(parseEncoding(enc.serialize()).contains(sha512(new Uint8Array(1)))).toBe(false);
  });

  it('parse(serialize(e)) answers identically and re-serializes to the same bytes', () => {
    fc.assert(
      fc.property(tagSets, fc.nat(), (tags, seed) => {
        const enc = buildEncoding(params, tags);
        const bytes = enc.serialize();
        expect(bytes.length).toBe(enc.byteLength);
        const back = parseEncoding(bytes);
        expect(back.kind).toBe(enc.kind);
        expect(back.count).toBe(enc.count);
        expect(back.params).toEqual(enc.params);
        expect(back.byteLength).toBe(enc.byteLength);
        expect(back.serialize()).toEqual(bytes);
        expectSameAnswers(enc, back, [...tags, ...splitTags(packedTags(seed, 300))]);
      }),
      { numRuns: 25 },
    );
  });

  it('is a function of the set: input order and duplicates do not change the bytes; rebuilding from its params reproduces them', () => {
    fc.assert(
      fc.property(tagSets, fc.nat(), (tags, seed) => {
        const enc = buildEncoding(params, tags);
        const rnd = prng(seed)(tags.length * 4);
        const shuffled = [...tags];
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = (rnd[4 * i] | (rnd[4 * i + 1] << 8) | (rnd[4 * i + 2] << 16)) % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
        }
        expect(buildEncoding(params, [...shuffled, ...tags.slice(0, 3)]).serialize()).toEqual(enc.serialize());
        expect(buildEncoding(enc.params, tags).serialize()).toEqual(enc.serialize());
      }),
      { numRuns: 20 },
    );
  });

  it('accepts packed tags and arrays alike', () => {
    const input = packedTags(7, 500, 32);
    expect(buildEncoding(params, input).serialize()).toEqual(buildEncoding(params, splitTags(input)).serialize());
  });

  it('rejects tags that are not bytes or too short with bad_tag', () => {
    const enc = buildEncoding(params, splitTags(packedTags(3, 10)));
    expect(errorCode(() => enc.contains(new Uint8Array(15)))).toBe('bad_tag');
    expect(errorCode(() => enc.contains([1, 2, 3] as never))).toBe('bad_tag');
    expect(errorCode(() => buildEncoding(params, [new Uint8Array(64), new Uint8Array(7)]))).toBe('bad_tag');
    expect(errorCode(() => buildEncoding(params, { packed: new Uint8Array(100), tagLength: 32 }))).toBe('bad_tag');
    expect(errorCode(() => buildEncoding(params, { packed: new Uint8Array(64), tagLength: 8 }))).toBe('bad_tag');
  });
});

describe('setenc raw', () => {
  it('is exact for random non-members at 16-byte truncation', () => {
    fc.assert(
      fc.property(fc.array(tag64, { maxLength: 200 }), fc.array(tag64, { maxLength: 200 }), (members, others) => {
        const enc = buildEncoding({ kind: 'raw', tagBytes: 16 }, members);
        const set = new Set(members.map(hex));
        for (const t of members) expect(enc.contains(t)).toBe(true);
        for (const t of others) expect(enc.contains(t)).toBe(set.has(hex(t)));
      }),
      { numRuns: 100 },
    );
  });

  it('stores tags sorted and collapses tags equal after truncation', () => {
    const a = new Uint8Array(64).fill(9);
    const b = new Uint8Array(64).fill(9);
    b[63] = 1; // differs only past the kept 8 bytes
    const c = new Uint8Array(64).fill(3);
    const enc = buildEncoding({ kind: 'raw', tagBytes: 8 }, [a, b, c]);
    expect(enc.count).toBe(2);
    const body = enc.serialize().subarray(11);
    expect(Array.from(body)).toEqual([...new Array(8).fill(3), ...new Array(8).fill(9)]);
  });

  it('looks up P-256 sized (32-byte) and ristretto sized (64-byte) outputs of sha512-derived tags', () => {
    const tags = Array.from({ length: 100 }, (_, i) => sha512(new TextEncoder().encode(`user-${i}`)));
    const enc = buildEncoding({ kind: 'raw', tagBytes: 32 }, tags);
    for (const t of tags) expect(enc.contains(t.subarray(0, 32))).toBe(true);
    expect(enc.contains(sha512(new TextEncoder().encode('user-100')))).toBe(false);
    expect(errorCode(() => buildEncoding({ kind: 'raw', tagBytes: 64 }, { packed: new Uint8Array(64), tagLength: 32 }))).toBe('bad_tag');
  });
});
