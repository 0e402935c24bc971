/**
 * The Node client shows labels with labelDisplayNative (buffer.isUtf8 and Buffer's base64)
 * instead of label-text.ts labelDisplay (an exception per binary label): the two must give
 * the same string for any bytes: valid UTF-8 of any plane, a leading BOM, overlong forms,
 * encoded surrogates, code points above U+10FFFF, truncated sequences, random bytes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { labelDisplayNative } from '../src/client/label-display-native.js';
import { labelDisplay } from '../src/protocol/discovery/label-text.js';

const utf8 = (s: string) => new TextEncoder().encode(s);
const bytes = fc.oneof(
  fc.uint8Array({ maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }).map(utf8),
  fc.string({ unit: 'grapheme', maxLength: 30 }).map((s) => utf8(`\uFEFF${s}`)),
  // Near-UTF-8: a valid string with one byte replaced by a lead, continuation or invalid byte.
  fc.tuple(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).map(utf8), fc.nat(), fc.constantFrom(0x80, 0xbf, 0xc0, 0xc1, 0xe0, 0xed, 0xf4, 0xf5, 0xff)).map(([b, i, v]) => {
    const out = b.slice();
    out[i % out.length] = v;
    return out;
  }),
  fc.constantFrom(
    new Uint8Array([0xc0, 0x80]), // overlong NUL
    new Uint8Array([0xed, 0xa0, 0x80]), // an encoded surrogate
    new Uint8Array([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
    new Uint8Array([0xe2, 0x82]), // truncated
    new Uint8Array([0xef, 0xbb, 0xbf]), // the BOM alone
  ),
);

describe('labelDisplayNative = labelDisplay', () => {
  it('the generator reaches text, binary and near-text labels', () => {
    const sample = fc.sample(bytes, { numRuns: 1000, seed: 5 });
    expect(sample.filter((b) => labelDisplay(b).startsWith('base64:')).length).toBeGreaterThan(100);
    expect(sample.filter((b) => b.length > 0 && !labelDisplay(b).startsWith('base64:')).length).toBeGreaterThan(100);
    expect(sample.some((b) => b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf)).toBe(true);
  });

  it('gives the same string for any bytes (views into larger buffers too)', () => {
    fc.assert(
      fc.property(bytes, fc.nat({ max: 7 }), (b, pad) => {
        const backing = new Uint8Array(b.length + 2 * pad).fill(0xff);
        backing.set(b, pad);
        const view = backing.subarray(pad, pad + b.length);
        expect(labelDisplayNative(view)).toBe(labelDisplay(b));
      }),
      { numRuns: 2000 },
    );
  });
});
