/**
 * parseEncoding on hostile bytes: random strings, random strings behind a valid header,
 * and valid encodings with bits flipped, bytes overwritten, truncated or extended. It
 * either accepts (then the encoding is usable and re-serializes to the same bytes) or
 * throws a SetEncodingError with one of the documented codes; never anything else.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SetEncodingError } from '../src/errors.js';
import { buildEncoding, parseEncoding, type EncodingParams } from '../src/setenc/index.js';
import { fuseLayout } from '../src/setenc/params.js';
import { errorCode, packedTags, PARSE_ERROR_CODES, SAMPLE_PARAMS, splitTags } from './setenc-helpers.js';

const PROBES = splitTags(packedTags(99, 16, 64));

/** Valid encodings of every sample kind at several sizes (gcs with 16-entry blocks has several index entries). */
const BASES: Uint8Array[] = SAMPLE_PARAMS.flatMap((params: EncodingParams) =>
  [0, 1, 2, 37, 150].map((n) => buildEncoding(params, packedTags(n + 1000, n, 64)).serialize()),
);

function check(bytes: Uint8Array): void {
  let enc;
  try {
    enc = parseEncoding(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(SetEncodingError);
    expect(PARSE_ERROR_CODES.has((err as SetEncodingError).code), (err as SetEncodingError).code).toBe(true);
    return;
  }
  expect(enc.serialize()).toEqual(bytes);
  for (const probe of PROBES) expect(typeof enc.contains(probe)).toBe('boolean');
}

const mutation = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.nat(255) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('extend' as const), tail: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
  fc.record({ op: fc.constant('header' as const), at: fc.nat(25), value: fc.nat(255) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(base: Uint8Array, ops: readonly Mutation[]): Uint8Array {
  let b = base.slice();
  for (const m of ops) {
    if (b.length === 0 && m.op !== 'extend') continue;
    switch (m.op) {
      case 'flip':
        b[m.at % b.length] ^= 1 << m.bit;
        break;
      case 'set':
        b[m.at % b.length] = m.value;
        break;
      case 'header':
        if (m.at < b.length) b[m.at] = m.value;
        break;
      case 'truncate':
        b = b.slice(0, m.at % b.length);
        break;
      case 'extend': {
        const out = new Uint8Array(b.length + m.tail.length);
        out.set(b);
        out.set(m.tail, b.length);
        b = out;
        break;
      }
    }
  }
  return b;
}

describe('setenc parse fuzz', () => {
  it('valid encodings parse and round-trip', () => {
    for (const b of BASES) check(b);
    for (const b of BASES) expect(parseEncoding(b).serialize()).toEqual(b);
  });

  it('random byte strings (4,000)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => check(b)), { numRuns: 4000 });
  });

  it('random bodies behind a valid magic, version and kind (4,000)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.nat(300), fc.uint8Array({ maxLength: 400 }), (kind, count, body) => {
        const b = new Uint8Array(10 + body.length);
        b.set([0x43, 0x50, 0x53, 0x45, 1, kind]);
        new DataView(b.buffer).setUint32(6, count, true);
        b.set(body, 10);
        check(b);
      }),
      { numRuns: 4000 },
    );
  });

  it('mutated valid encodings: bit flips, overwrites, truncation, extension (6,000)', () => {
    fc.assert(
      fc.property(fc.nat(BASES.length - 1), fc.array(mutation, { minLength: 1, maxLength: 4 }), (i, ops) => check(mutate(BASES[i], ops))),
      { numRuns: 6000 },
    );
  });

  it('refuses a header claiming a huge count with too_large, before reading further', () => {
    for (let kind = 1; kind <= 4; kind++) {
      const b = new Uint8Array(10);
      b.set([0x43, 0x50, 0x53, 0x45, 1, kind, 0xff, 0xff, 0xff, 0xff]);
      expect(errorCode(() => parseEncoding(b))).toBe('too_large');
      new DataView(b.buffer).setUint32(6, 50_000_001, true);
      expect(errorCode(() => parseEncoding(b))).toBe('too_large');
      new DataView(b.buffer).setUint32(6, 1001, true);
      expect(errorCode(() => parseEncoding(b, { maxCount: 1000 }))).toBe('too_large');
    }
  });

  it('refuses parameters that imply a body over maxBytes with too_large, without allocating it', () => {
    const header = (kind: number, count: number, params: number[]): Uint8Array => {
      const b = new Uint8Array(10 + params.length);
      b.set([0x43, 0x50, 0x53, 0x45, 1, kind]);
      new DataView(b.buffer).setUint32(6, count, true);
      b.set(params, 10);
      return b;
    };
    // raw: 50M x 64 bytes.
    expect(errorCode(() => parseEncoding(header(1, 50_000_000, [64])))).toBe('too_large');
    // gcs: stream of 2^32 - 1 bytes.
    expect(errorCode(() => parseEncoding(header(2, 10, [20, 10, 0xff, 0xff, 0xff, 0xff])))).toBe('too_large');
    // bloom: 4096 bits per entry for 50M entries.
    const bloom = header(3, 50_000_000, [3, 0, 0, 0, 0, 0, 0, 0, 0]);
    new DataView(bloom.buffer).setFloat64(11, 4096, true);
    expect(errorCode(() => parseEncoding(bloom))).toBe('too_large');
    // fuse: 2^32 - 1 segments.
    expect(errorCode(() => parseEncoding(header(4, 10, [8, 16, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])))).toBe('too_large');
    // The input itself over maxBytes.
    expect(errorCode(() => parseEncoding(BASES[4], { maxBytes: 16 }))).toBe('too_large');
  });

  it('names each defect with its code', () => {
    const raw = buildEncoding({ kind: 'raw', tagBytes: 8 }, splitTags(packedTags(1, 5))).serialize();
    const edit = (b: Uint8Array, f: (c: Uint8Array) => void): Uint8Array => {
      const c = b.slice();
      f(c);
      return c;
    };
    expect(errorCode(() => parseEncoding([1, 2, 3] as never))).toBe('bad_input');
    expect(errorCode(() => parseEncoding(new Uint8Array(0)))).toBe('truncated');
    expect(errorCode(() => parseEncoding(raw.subarray(0, 7)))).toBe('truncated');
    expect(errorCode(() => parseEncoding(edit(raw, (c) => (c[0] = 0x44))))).toBe('bad_magic');
    expect(errorCode(() => parseEncoding(edit(raw, (c) => (c[4] = 2))))).toBe('bad_version');
    expect(errorCode(() => parseEncoding(edit(raw, (c) => (c[5] = 9))))).toBe('bad_kind');
    expect(errorCode(() => parseEncoding(edit(raw, (c) => (c[10] = 3))))).toBe('bad_parameters');
    expect(errorCode(() => parseEncoding(raw.subarray(0, raw.length - 1)))).toBe('truncated');
    expect(errorCode(() => parseEncoding(Uint8Array.of(...raw, 0)))).toBe('trailing_bytes');
    // Swap the first two tags: not strictly increasing.
    const swapped = edit(raw, (c) => {
      const first = c.slice(11, 19);
      c.copyWithin(11, 19, 27);
      c.set(first, 19);
    });
    expect(errorCode(() => parseEncoding(swapped))).toBe('not_sorted');
    // Duplicate tag.
    expect(errorCode(() => parseEncoding(edit(raw, (c) => c.copyWithin(19, 11, 19))))).toBe('not_sorted');

    const gcs = buildEncoding({ kind: 'gcs', riceBits: 10, blockSize: 16 }, splitTags(packedTags(2, 100))).serialize();
    expect(errorCode(() => parseEncoding(Uint8Array.of(...gcs, 0)))).toBe('trailing_bytes');
    // The second index entry's bit offset moved by one: block 0 no longer ends where block 1 starts.
    expect(errorCode(() => parseEncoding(edit(gcs, (c) => (c[16 + 16] += 1))))).toBe('corrupt');
    // The first index entry's quotient beyond N.
    expect(errorCode(() => parseEncoding(edit(gcs, (c) => new DataView(c.buffer).setUint32(16 + 4, 100, true))))).toBe('corrupt');
    // Extra stream byte, declared in streamBytes.
    const longer = Uint8Array.of(...gcs, 0);
    new DataView(longer.buffer).setUint32(12, new DataView(gcs.buffer).getUint32(12, true) + 1, true);
    expect(errorCode(() => parseEncoding(longer))).toBe('corrupt');

    const fuse = buildEncoding({ kind: 'fuse', fingerprintBits: 7 }, splitTags(packedTags(3, 10))).serialize();
    // 7-bit cells leave padding bits in the last byte (10 keys: 2-cell segments, 26 cells); they must be zero.
    expect((fuseLayout(10).arrayLength * 7) % 8).not.toBe(0);
    expect(errorCode(() => parseEncoding(edit(fuse, (c) => (c[c.length - 1] |= 0x80))))).toBe('corrupt');
    expect(errorCode(() => parseEncoding(edit(fuse, (c) => (c[10] = 33))))).toBe('bad_parameters');
    expect(errorCode(() => parseEncoding(edit(fuse, (c) => new DataView(c.buffer).setUint32(12, 0, true))))).toBe('bad_parameters');

    expect(errorCode(() => parseEncoding(raw, { maxBytes: -1 }))).toBe('bad_parameters');
    expect(errorCode(() => parseEncoding(raw, { maxCount: 1.5 }))).toBe('bad_parameters');
  });
});
