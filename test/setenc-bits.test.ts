import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { READ_PADDING, readBits, readBitsWide, writeBits, writeBitsWide, zeroBits } from '../src/setenc/bits.js';
import { mulHi32, scale48 } from '../src/setenc/tags.js';

describe('setenc bits', () => {
  it('readBits returns what writeBits wrote, without touching neighbours', () => {
    const field = fc.integer({ min: 1, max: 32 }).chain((width) =>
      fc.record({ width: fc.constant(width), value: fc.integer({ min: 0, max: 2 ** width - 1 }) }),
    );
    fc.assert(
      fc.property(fc.array(field, { minLength: 1, maxLength: 40 }), (fields) => {
        const total = fields.reduce((s, f) => s + f.width, 0);
        const buf = new Uint8Array(Math.ceil(total / 8) + READ_PADDING);
        let pos = 0;
        for (const f of fields) {
          writeBits(buf, pos, f.value, f.width);
          pos += f.width;
        }
        pos = 0;
        for (const f of fields) {
          expect(readBits(buf, pos, f.width)).toBe(f.value);
          pos += f.width;
        }
        expect(zeroBits(buf, total, buf.length * 8)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('wide fields up to 52 bits round-trip exactly', () => {
    fc.assert(
      fc.property(fc.integer({ min: 33, max: 52 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.nat(64), (width, frac, offset) => {
        const value = Math.min(2 ** width - 1, Math.floor(frac * 2 ** width));
        const buf = new Uint8Array(32);
        writeBitsWide(buf, offset, value, width);
        expect(readBitsWide(buf, offset, width)).toBe(value);
      }),
    );
  });

  it('scale48 and mulHi32 are exact multiply-shift reductions', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffff_ffff }), fc.nat({ max: 0xffff }), fc.integer({ min: 1, max: 2 ** 36 }), (lo, hi, m) => {
        const u = BigInt(lo) + (BigInt(hi) << 32n);
        expect(scale48(lo, hi, m)).toBe(Number((u * BigInt(m)) >> 48n));
        expect(mulHi32(lo, m)).toBe(Number((BigInt(lo) * BigInt(m)) >> 32n));
      }),
    );
  });
});
