/**
 * labelText: a label's bytes as text exactly when they are valid UTF-8 (RFC 3629), and the
 * text encodes back to the same bytes; undefined otherwise (labelDisplay then shows base64).
 * The oracle is independent of TextDecoder: Node's Buffer decodes invalid sequences to
 * U+FFFD, so bytes are valid UTF-8 exactly when decoding and re-encoding gives them back.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { labelDisplay, labelText } from '../src/protocol/discovery/label-text.js';

const utf8 = new TextEncoder();
const isValidUtf8 = (b: Uint8Array): boolean => Buffer.from(Buffer.from(b).toString('utf8'), 'utf8').equals(Buffer.from(b));
const bytes = (...b: number[]) => Uint8Array.from(b);

/** Valid UTF-8 (any code point, BOM included), some of it with one byte changed or cut short. */
const labels = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.string({ unit: 'grapheme', maxLength: 24 }).map((s) => utf8.encode(s)),
  fc.string({ unit: 'binary', maxLength: 24 }).map((s) => utf8.encode(`\ufeff${s}`)),
  fc
    .tuple(fc.string({ unit: 'binary', minLength: 1, maxLength: 24 }), fc.nat(), fc.integer({ min: 0x80, max: 0xff }))
    .map(([s, at, b]) => {
      const out = utf8.encode(s);
      out[at % out.length] = b;
      return out;
    }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 24 }).map((s) => utf8.encode(s).slice(0, -1)),
);

describe('labelText', () => {
  it('the generator reaches valid multi-byte text and invalid bytes alike', () => {
    const sample = fc.sample(labels, { numRuns: 2000, seed: 1 });
    expect(sample.filter((b) => isValidUtf8(b) && b.some((x) => x >= 0x80)).length).toBeGreaterThan(200);
    expect(sample.filter((b) => !isValidUtf8(b)).length).toBeGreaterThan(200);
  });

  it('valid UTF-8 round-trips to the same bytes; anything else is undefined', () => {
    fc.assert(
      fc.property(labels, (label) => {
        const text = labelText(label);
        expect(text !== undefined).toBe(isValidUtf8(label));
        if (text !== undefined) expect(utf8.encode(text)).toEqual(label);
        expect(labelDisplay(label)).toBe(text ?? `base64:${Buffer.from(label).toString('base64')}`);
      }),
      { numRuns: 3000 },
    );
  });

  it('names the edge cases: accents and emoji are text; overlong, surrogate, above U+10FFFF and cut sequences are not', () => {
    expect(labelText(utf8.encode('Zoë Müller'))).toBe('Zoë Müller');
    expect(labelText(utf8.encode('🔑 pk'))).toBe('🔑 pk');
    expect(labelText(bytes())).toBe('');
    expect(labelText(bytes(0xef, 0xbb, 0xbf, 0x41))).toBe('\ufeffA'); // a leading BOM is kept: same bytes back
    expect(labelText(bytes(0xc0, 0x80))).toBeUndefined(); // overlong NUL
    expect(labelText(bytes(0xed, 0xa0, 0x80))).toBeUndefined(); // UTF-16 surrogate D800
    expect(labelText(bytes(0xf4, 0x90, 0x80, 0x80))).toBeUndefined(); // U+110000
    expect(labelText(bytes(0xc3))).toBeUndefined(); // cut short
    expect(labelDisplay(bytes(0xff, 0x00))).toBe('base64:/wA=');
    // Control characters are valid UTF-8: text (escaping them is the printer's job).
    expect(labelText(utf8.encode('a\nb\x1b['))).toBe('a\nb\x1b[');
  });
});
