/**
 * The GCS builder (src/setenc/gcs-build.ts) against the construction it replaced
 * (src/setenc/gcs-reference.ts, kept as the oracle): the same bytes for every tag set,
 * riceBits and block size (the spec's format is canonical: the bytes are the contract a
 * client parses and a snapshot digest covers); the same errors for bad tags; and every
 * built encoding parses with all its tags members.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SetEncodingError } from '../src/errors.js';
import { constructGcs } from '../src/setenc/gcs-build.js';
import { buildGcsReference } from '../src/setenc/gcs-reference.js';
import { buildEncoding, parseEncoding, type TagInput } from '../src/setenc/index.js';
import { READ_PADDING } from '../src/setenc/bits.js';
import { hex, prng } from './setenc-helpers.js';

type Shape = 'array' | 'packed' | 'unaligned' | 'odd-length';
/** random: uniform tags; clustered: the q and rem bytes drawn from {0x00, 0xff}, so values collide and gaps get long (unary runs past 8, 24 and 32 bits). */
type Spread = 'random' | 'clustered';

interface Case {
  readonly tags: Uint8Array[];
  readonly input: TagInput;
  readonly shape: Shape;
  readonly spread: Spread;
  readonly riceBits: number;
  readonly blockSize: number;
  readonly duplicates: number;
}

function makeCase(n: number, stream: number, again: number, shape: Shape, spread: Spread, tagLength: number, riceBits: number, blockSize: number): Case {
  const next = prng(stream);
  const distinct = Array.from({ length: n }, () => {
    const t = next(tagLength);
    if (spread === 'clustered') for (let i = 0; i < 15; i++) t[i] = t[i] & 1 ? 0xff : 0;
    return t;
  });
  const tags = [...distinct];
  const pick = next(4 * again);
  for (let i = 0; i < again && n > 0; i++) tags.push(distinct[new DataView(pick.buffer).getUint32(4 * i, true) % n]);
  const width = shape === 'odd-length' ? tagLength + 1 : tagLength;
  const offset = shape === 'unaligned' ? 1 + (stream % 3) : 0;
  const packed = new Uint8Array(offset + tags.length * width).subarray(offset);
  tags.forEach((t, i) => packed.set(t, i * width));
  const input: TagInput = shape === 'array' ? tags : { packed, tagLength: width };
  return { tags, input, shape, spread, riceBits, blockSize, duplicates: n === 0 ? 0 : again };
}

const BLOCK_SIZES = [16, 32, 64, 1024];
/** Counts at and around block boundaries of the small block sizes, and the edges. */
const sizes = fc.oneof(
  fc.constantFrom(0, 1, 2),
  fc.constantFrom(16, 32, 64, 1024).chain((b) => fc.integer({ min: b - 1, max: b + 1 })),
  fc.integer({ min: 3, max: 200 }),
  fc.integer({ min: 200, max: 2500 }),
);
/** riceBits where the 24-bit pieces of the remainder, the u32 split and the limit change. */
const riceBits = fc.oneof(fc.integer({ min: 1, max: 52 }), fc.constantFrom(1, 23, 24, 25, 31, 32, 33, 47, 48, 49, 52));

const cases: fc.Arbitrary<Case> = fc
  .record({
    n: sizes,
    stream: fc.integer({ min: 0, max: 2 ** 30 }),
    again: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5 })),
    shape: fc.constantFrom<Shape>('array', 'array', 'packed', 'unaligned', 'odd-length'),
    spread: fc.constantFrom<Spread>('random', 'random', 'clustered'),
    tagLength: fc.constantFrom(16, 32, 64),
    riceBits,
    blockSize: fc.constantFrom(...BLOCK_SIZES),
  })
  .map((r) => makeCase(r.n, r.stream, r.again, r.shape, r.spread, r.tagLength, r.riceBits, r.blockSize));

const distinctCount = (tags: readonly Uint8Array[]): number => new Set(tags.map((t) => hex(t.subarray(0, 16)))).size;
const params = (c: Case) => ({ kind: 'gcs', riceBits: c.riceBits, blockSize: c.blockSize }) as const;

/** Longest unary quotient in the reference encoding's stream: the longest run of zero bits before a one. */
function longestZeroRun(bytes: Uint8Array): number {
  let run = 0;
  let best = 0;
  for (const b of bytes) {
    for (let i = 0; i < 8; i++) {
      if ((b >> i) & 1) run = 0;
      else best = Math.max(best, ++run);
    }
  }
  return best;
}

describe('gcs construction (gcs-build.ts) against the old one (gcs-reference.ts)', () => {
  it('the generator reaches empty, single, block-boundary, duplicate, colliding and wide cases', () => {
    const sample = fc.sample(cases, { numRuns: 500, seed: 20261202 });
    expect(sample.some((c) => c.tags.length === 0)).toBe(true);
    expect(sample.some((c) => c.tags.length === 1)).toBe(true);
    for (const b of [16, 32, 64, 1024]) {
      for (const d of [-1, 0, 1]) expect(sample.some((c) => distinctCount(c.tags) === b + d && c.blockSize <= b)).toBe(true);
    }
    expect(sample.some((c) => c.duplicates > 0 && distinctCount(c.tags) > 1)).toBe(true);
    for (const shape of ['packed', 'unaligned', 'odd-length', 'array'] as Shape[]) expect(sample.some((c) => c.shape === shape)).toBe(true);
    for (const r of [1, 24, 25, 32, 33, 48, 49, 52]) expect(sample.some((c) => c.riceBits === r)).toBe(true);
    // Clustered tags give long unary runs (past one accumulator byte and past 32 bits).
    const clustered = sample.filter((c) => c.spread === 'clustered' && c.tags.length > 100).slice(0, 20);
    const runs = clustered.map((c) => longestZeroRun(buildGcsReference(params(c), c.input)));
    expect(Math.max(...runs)).toBeGreaterThan(40);
  });

  it('gives the same bytes as the old construction, for any tags, repeats, input shape, riceBits and block size', () => {
    fc.assert(
      fc.property(cases, (c) => {
        const ref = buildGcsReference(params(c), c.input);
        const { buf, count } = constructGcs(params(c), c.input);
        expect(count).toBe(distinctCount(c.tags));
        expect(buf.length).toBe(ref.length + READ_PADDING);
        expect(hex(buf.subarray(0, ref.length))).toBe(hex(ref));
        expect(buf.subarray(ref.length).every((b) => b === 0)).toBe(true);
        expect(hex(buildEncoding(params(c), c.input).serialize())).toBe(hex(ref));
      }),
      { numRuns: 300 },
    );
  });

  it('parses back with every tag a member and the same parameters', () => {
    fc.assert(
      fc.property(cases, (c) => {
        const bytes = buildEncoding(params(c), c.input).serialize();
        const parsed = parseEncoding(bytes);
        expect(parsed.count).toBe(distinctCount(c.tags));
        expect(parsed.params).toEqual(params(c));
        for (const t of c.tags) expect(parsed.contains(t)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('refuses what the old construction refuses, with the same code and message', () => {
    const bad: TagInput[] = [
      [new Uint8Array(16), new Uint8Array(15)],
      [new Uint8Array(16), 'not bytes' as unknown as Uint8Array],
      [new Uint8Array(3)],
      { packed: new Uint8Array(33), tagLength: 16 },
      { packed: new Uint8Array(32), tagLength: 15 },
      { packed: [] as unknown as Uint8Array, tagLength: 16 },
    ];
    const outcome = (fn: () => unknown): string => {
      try {
        fn();
        return 'ok';
      } catch (err) {
        expect(err).toBeInstanceOf(SetEncodingError);
        return `${(err as SetEncodingError).code}: ${(err as Error).message}`;
      }
    };
    const p = { kind: 'gcs', riceBits: 20, blockSize: 16 } as const;
    for (const input of bad) {
      const ref = outcome(() => buildGcsReference(p, input));
      expect(ref).not.toBe('ok');
      expect(outcome(() => constructGcs(p, input))).toBe(ref);
    }
    for (const wrong of [{ kind: 'gcs', riceBits: 0, blockSize: 16 }, { kind: 'gcs', riceBits: 20, blockSize: 24 }] as const) {
      expect(outcome(() => constructGcs(wrong, []))).toBe(outcome(() => buildGcsReference(wrong, [])));
    }
  });
});
