/**
 * Phone normalization: every messy way of writing a valid number gives the same E.164,
 * and nothing, however malformed, makes normalizePhone throw.
 */
import fc from 'fast-check';
import { isValidPhoneNumber, parsePhoneNumberWithError } from 'libphonenumber-js/max';
import { describe, expect, it } from 'vitest';
import { formatNationally, generatePhoneNumber, GeneratedRegions, seededRng } from '../src/contacts/generate.js';
import { normalizePhone, type CountryCode } from '../src/contacts/phone.js';

const E164 = /^\+[1-9][0-9]{1,14}$/;
const regionArb = fc.constantFrom(...GeneratedRegions);
const numberArb = fc
  .record({ seed: fc.integer(), region: regionArb })
  .map(({ seed, region }) => ({ region, e164: generatePhoneNumber(seededRng(seed), region) }));
const INTERNATIONAL = new Set(['e164', 'international', 'international-dashed', 'international-dotted', 'international-trunk', 'idd-00', 'tel-uri']);

describe('generated numbers', () => {
  it('are valid numbers of the requested region', () => {
    fc.assert(
      fc.property(numberArb, ({ region, e164 }) => {
        expect(e164).toMatch(E164);
        expect(isValidPhoneNumber(e164)).toBe(true);
        expect(parsePhoneNumberWithError(e164).country).toBe(region);
      }),
    );
  });

  it('are deterministic in the seed', () => {
    for (const region of GeneratedRegions) {
      const a = Array.from({ length: 5 }, ((rng) => () => generatePhoneNumber(rng, region))(seededRng(7)));
      const b = Array.from({ length: 5 }, ((rng) => () => generatePhoneNumber(rng, region))(seededRng(7)));
      expect(a).toEqual(b);
      expect(new Set(a).size).toBeGreaterThan(1);
    }
  });
});

describe('normalizePhone', () => {
  it('maps every formatting variant back to the same E.164', () => {
    fc.assert(
      fc.property(numberArb, ({ region, e164 }) => {
        const variants = formatNationally(e164);
        expect(variants.length).toBeGreaterThanOrEqual(12);
        for (const v of variants) {
          expect(v.region).toBe(region);
          expect(normalizePhone(v.text, v.region), `${v.style}: ${v.text}`).toEqual({ ok: true, e164 });
        }
      }),
    );
  });

  it('takes the default region in any letter case (`ch` is CH)', () => {
    const caseArb = fc.constantFrom((r: string) => r.toLowerCase(), (r: string) => r[0]!.toLowerCase() + r.slice(1));
    fc.assert(
      fc.property(numberArb, caseArb, ({ region, e164 }, recase) => {
        const national = formatNationally(e164).find((v) => v.style === 'national')!;
        expect(normalizePhone(national.text, recase(region))).toEqual({ ok: true, e164 });
      }),
    );
    expect(normalizePhone('079 123 45 67', 'zz').ok).toBe(false);
  });

  it('reads international variants with any default region, or none', () => {
    fc.assert(
      fc.property(numberArb, fc.option(regionArb, { nil: undefined }), ({ e164 }, home) => {
        for (const v of formatNationally(e164).filter((x) => INTERNATIONAL.has(x.style))) {
          expect(normalizePhone(v.text, home), `${v.style}: ${v.text} in ${home}`).toEqual({ ok: true, e164 });
        }
      }),
    );
  });

  it('ignores arbitrary separators, blanks and parentheses between digit groups', () => {
    const sep = fc.constantFrom('', ' ', '-', '.', '  ', ' - ', '\u00a0', '/');
    fc.assert(
      fc.property(numberArb, fc.array(sep, { minLength: 16, maxLength: 16 }), fc.boolean(), ({ region, e164 }, seps, parens) => {
        // The first group of the national format is the trunk prefix plus area or mobile code.
        const [head, ...rest] = formatNationally(e164).find((v) => v.style === 'national')!.text.split(/[^0-9]+/).filter((g) => g !== '');
        const body = [...rest.join('')].map((d, i) => (i > 0 ? seps[i]! : '') + d).join('');
        const text = parens ? `(${head}) ${body}` : `${head}${seps[0]}${body}`;
        expect(normalizePhone(text, region), text).toEqual({ ok: true, e164 });
      }),
    );
  });

  it.each<[string, CountryCode | undefined, string]>([
    ['079 123 45 67', 'CH', '+41791234567'],
    ['(079) 123-45.67', 'CH', '+41791234567'],
    ['+41 79 123 45 67', undefined, '+41791234567'],
    ['+41 (0)79 123 45 67', 'DE', '+41791234567'],
    ['0041 79 123 45 67', undefined, '+41791234567'],
    ['0041 79 123 45 67', 'US', '+41791234567'],
    ['011 41 79 123 45 67', 'US', '+41791234567'],
    ['tel:+41-79-123-45-67', undefined, '+41791234567'],
    ['TEL:+41791234567;ext=12', undefined, '+41791234567'],
    ['tel:079-123-45-67;phone-context=+41', undefined, '+41791234567'],
    ['tel:079-123-45-67;phone-context=example.com', 'CH', '+41791234567'],
    ['+41 79 123 45 67 ext. 5', undefined, '+41791234567'],
    ['  +41791234567\t', undefined, '+41791234567'],
    ['０７９ １２３ ４５ ６７', 'CH', '+41791234567'],
    ['0171/1234567', 'DE', '+491711234567'],
    ['(201) 555-0123', 'US', '+12015550123'],
    ['1 201 555 0123', 'US', '+12015550123'],
    ['07400 123456', 'GB', '+447400123456'],
    ['06 12 34 56 78', 'FR', '+33612345678'],
  ])('%j (region %s) -> %s', (raw, region, e164) => {
    expect(normalizePhone(raw, region)).toEqual({ ok: true, e164 });
  });

  it.each<[string, CountryCode | undefined, string]>([
    ['079 123 45 67', undefined, 'no_region'],
    ['011 41 79 123 45 67', undefined, 'no_region'],
    ['+41 79', undefined, 'too_short'],
    ['00 41 79', 'US', 'too_short'],
    ['+41 79 123 45 67 89 01 23', undefined, 'too_long'],
    ['1'.repeat(300), 'CH', 'too_long'],
    ['+999 123 456 789', undefined, 'invalid_phone'],
    ['+41 12 345 67 89', undefined, 'invalid_phone'],
    ['hello', 'CH', 'invalid_phone'],
    ['1-800-FLOWERS', 'US', 'invalid_phone'],
    ['call +41 79 123 45 67', undefined, 'invalid_phone'],
    ['tel:%zz', undefined, 'invalid_phone'],
    ['sip:alice@example.org', 'CH', 'invalid_phone'],
    ['', 'CH', 'empty'],
    [' - ( ) ', 'CH', 'empty'],
    ['079 123 45 67', 'XX' as CountryCode, 'invalid_region'],
  ])('%j (region %s) fails with %s', (raw, region, code) => {
    const r = normalizePhone(raw, region);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe(code);
      expect(r.reason.length).toBeGreaterThan(0);
    }
  });

  it('never throws, and what it accepts is valid, canonical and idempotent', () => {
    const phoneish = fc.string({ unit: fc.constantFrom(...'0123456789+-() ./tel:;=xext#*'.split('')), maxLength: 40 });
    const anyText = fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 30 }), phoneish);
    fc.assert(
      fc.property(anyText, fc.option(regionArb, { nil: undefined }), (raw, region) => {
        const r = normalizePhone(raw, region);
        if (r.ok) {
          expect(r.e164).toMatch(E164);
          expect(isValidPhoneNumber(r.e164)).toBe(true);
          expect(normalizePhone(r.e164)).toEqual(r);
        } else {
          expect(['empty', 'invalid_phone', 'no_region', 'too_short', 'too_long']).toContain(r.code);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('does not throw on values that are not strings', () => {
    expect(normalizePhone(undefined as unknown as string).ok).toBe(false);
    expect(normalizePhone(41791234567 as unknown as string).ok).toBe(false);
  });
});
