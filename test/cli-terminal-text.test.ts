/**
 * escapeControlChars (src/cli/terminal-text.ts): what a server or a contacts file chose is
 * printed by `sync` as text, so no control character, bidi override or lone surrogate may
 * reach the terminal, and ordinary text (any script, accents, emoji) must print unchanged.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeControlChars, hasControlChars, jsonForTerminal } from '../src/cli/terminal-text.js';

/** Every code point the terminal must never receive raw (independent of the module's regex). */
const isUnsafe = (cp: number): boolean =>
  cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f) || cp === 0x061c || cp === 0x200e || cp === 0x200f || cp === 0x2028 || cp === 0x2029 ||
  (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || (cp >= 0xd800 && cp <= 0xdfff);

/** Code points of a string, lone surrogates included (for..of yields them as one unit each). */
const codePoints = (s: string): number[] => [...s].map((c) => c.codePointAt(0)!);

const unsafeChar = fc.oneof(
  fc.integer({ min: 0, max: 0x1f }),
  fc.integer({ min: 0x7f, max: 0x9f }),
  fc.constantFrom(0x061c, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069),
  fc.integer({ min: 0xd800, max: 0xdfff }),
).map((cp) => String.fromCharCode(cp));

/** Any UTF-16 string: full code points, lone surrogates, and many controls. */
const anyText = fc.array(fc.oneof(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), unsafeChar, fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)) })), { maxLength: 8 }).map((xs) => xs.join(''));

const printableText = fc.string({ unit: 'grapheme' }).filter((s) => !codePoints(s).some(isUnsafe));

describe('escapeControlChars', () => {
  it('generators reach both cases (controls and lone surrogates, and clean text)', () => {
    const samples = fc.sample(anyText, 500);
    expect(samples.filter((s) => codePoints(s).some(isUnsafe)).length).toBeGreaterThan(200);
    expect(samples.filter((s) => /[\ud800-\udfff]/u.test(s)).length).toBeGreaterThan(20);
    expect(fc.sample(printableText, 200).filter((s) => s.length > 0 && codePoints(s).some((c) => c > 0x7f)).length).toBeGreaterThan(50);
  });

  it('output never holds a control, bidi or lone-surrogate code point', () => {
    fc.assert(
      fc.property(anyText, (s) => {
        const out = escapeControlChars(s);
        expect(codePoints(out).filter(isUnsafe)).toEqual([]);
        expect(hasControlChars(out)).toBe(false);
        expect(hasControlChars(s)).toBe(codePoints(s).some(isUnsafe));
      }),
      { numRuns: 2000 },
    );
  });

  it('printable text is unchanged', () => {
    fc.assert(fc.property(printableText, (s) => {
      expect(escapeControlChars(s)).toBe(s);
    }), { numRuns: 1000 });
    for (const s of ['Zoë Müller', 'Zoe\u0308 Mu\u0308ller', '李小龍', 'Ἀθηνᾶ', 'مريم', '👩‍👩‍👧 family', 'back\\slash u{1b}']) expect(escapeControlChars(s)).toBe(s);
  });

  it('each escaped character is shown as \\u{hex}, so the original is recoverable', () => {
    fc.assert(
      fc.property(anyText, (s) => {
        const out = escapeControlChars(s);
        // Undo the escapes: only the escaped code points were changed.
        const back = out.replace(/\\u\{([0-9a-f]+)\}/g, (m, hex: string) => {
          const cp = parseInt(hex, 16);
          return isUnsafe(cp) ? String.fromCharCode(cp) : m;
        });
        expect(back).toBe(s);
      }),
      { numRuns: 1000 },
    );
  });

  it('forged result lines and escape sequences are neutralised', () => {
    const forged = 'bob\n(no name)\ttel:+41791234567\tmallory\tpk\x1b[2K\r\u202egnp.exe';
    const out = escapeControlChars(forged);
    expect(out).toBe('bob\\u{a}(no name)\\u{9}tel:+41791234567\\u{9}mallory\\u{9}pk\\u{1b}[2K\\u{d}\\u{202e}gnp.exe');
    expect(out.split('\n')).toHaveLength(1);
    expect(escapeControlChars('\x9b31m\x7f\u2066')).toBe('\\u{9b}31m\\u{7f}\\u{2066}');
  });

  it('jsonForTerminal: the same JSON value, with no control, bidi or lone-surrogate code point in the text', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ userId: anyText, label: anyText })), (rows) => {
        const out = jsonForTerminal(rows);
        expect(JSON.parse(out)).toEqual(rows);
        expect(hasControlChars(out)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});
