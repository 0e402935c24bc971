/**
 * Mexico, Argentina and Brazil (issue 10 §5): every way people still write a mobile line
 * reaches the canonical form the directory stores, each line is one identifier (so one
 * quota unit) however many of its forms an entry holds, and only the genuinely ambiguous
 * form (an Argentine mobile written as a landline) adds one alternative identifier.
 */
import fc from 'fast-check';
import { isValidPhoneNumber, parsePhoneNumberWithError } from 'libphonenumber-js/max';
import { describe, expect, it } from 'vitest';
import { parseContactsCsv } from '../src/contacts/csv.js';
import { generatePhoneNumber, GeneratedRegions, seededRng } from '../src/contacts/generate.js';
import { uniqueIdentifiers } from '../src/contacts/model.js';
import { normalizePhone, type CountryCode } from '../src/contacts/phone.js';
import { phoneVariants, repairLegacyMobile } from '../src/contacts/phone-variants.js';

const isMobile = (e164: string) => {
  const number = parsePhoneNumberWithError(e164);
  const type = number.getType();
  return number.isValid() && (type === 'MOBILE' || type === 'FIXED_LINE_OR_MOBILE');
};

type Written = { text: string; region?: CountryCode; form: string };
type Line = { canonical: string; forms: Written[]; ambiguous: Written[] };

/** Mexico: 10-digit national numbers; `1` (mobile), `044`/`045` and `01` were dialing prefixes. */
const mexico = fc
  .record({ area: fc.constantFrom('55', '33', '81'), subscriber: fc.integer({ min: 10_000_000, max: 99_999_999 }) })
  .map(({ area, subscriber }) => `${area}${subscriber}`)
  .filter((nsn) => isMobile(`+52${nsn}`))
  .map((nsn): Line => ({
    canonical: `+52${nsn}`,
    forms: [
      { text: `+52 ${nsn}`, form: 'e164' },
      { text: `+52 1 ${nsn.slice(0, 2)} ${nsn.slice(2, 6)} ${nsn.slice(6)}`, form: '+52 1' },
      { text: `+521${nsn}`, form: '+521 compact' },
      { text: `00 52 1 ${nsn}`, form: '00 52 1' },
      { text: `044 ${nsn}`, region: 'MX', form: '044' },
      { text: `045 ${nsn}`, region: 'MX', form: '045' },
      { text: `01 ${nsn}`, region: 'MX', form: '01' },
      { text: `1 ${nsn}`, region: 'MX', form: 'national 1' },
      { text: nsn, region: 'MX', form: 'national' },
    ],
    ambiguous: [],
  }));

/** Argentina: +54 9 <area> <subscriber> internationally; 0<area> 15 <subscriber> nationally. */
const argentina = fc
  .record({
    area: fc.constantFrom('11', '351', '341', '261'),
    subscriber: fc.integer({ min: 0, max: 99_999_999 }),
  })
  .map(({ area, subscriber }) => ({ area, sub: String(subscriber).padStart(10 - area.length, '0').slice(-(10 - area.length)) }))
  .filter(({ area, sub }) => /^[2-9]/.test(sub) && isMobile(`+549${area}${sub}`))
  .map(({ area, sub }): Line => ({
    canonical: `+549${area}${sub}`,
    forms: [
      { text: `+54 9 ${area} ${sub}`, form: 'e164' },
      { text: `+54 ${area} 15 ${sub}`, form: '+54 area 15' },
      { text: `+54 9 ${area} 15 ${sub}`, form: '+54 9 area 15' },
      { text: `0${area} 15 ${sub}`, region: 'AR', form: 'national 0 area 15' },
      { text: `${area} 15 ${sub}`, region: 'AR', form: 'national area 15' },
    ],
    ambiguous: [{ text: `+54 ${area} ${sub}`, form: 'landline form' }],
  }));

/** Brazil: mobiles gained a ninth digit (2012-2016); old 8-digit mobiles began with 8 or 9 here. */
const brazil = fc
  .record({ area: fc.constantFrom('11', '21', '31', '61', '71', '85'), subscriber: fc.integer({ min: 80_000_000, max: 99_999_999 }) })
  .map(({ area, subscriber }) => ({ area, sub8: String(subscriber) }))
  .filter(({ area, sub8 }) => isMobile(`+55${area}9${sub8}`) && !isValidPhoneNumber(`+55${area}${sub8}`))
  .map(({ area, sub8 }): Line => ({
    canonical: `+55${area}9${sub8}`,
    forms: [
      { text: `+55 ${area} 9${sub8}`, form: 'e164' },
      { text: `+55 ${area} ${sub8.slice(0, 4)}-${sub8.slice(4)}`, form: '8 digits' },
      { text: `(${area}) ${sub8.slice(0, 4)}-${sub8.slice(4)}`, region: 'BR', form: 'national 8 digits' },
      { text: `(${area}) 9${sub8.slice(0, 4)}-${sub8.slice(4)}`, region: 'BR', form: 'national 9 digits' },
      { text: `0055 ${area} ${sub8}`, form: '0055 8 digits' },
    ],
    ambiguous: [],
  }));

const lines = fc.oneof(mexico, argentina, brazil);

const csvOf = (rows: Written[][]) =>
  ['name,phones', ...rows.map((forms, i) => `contact ${i},${forms.map((f) => f.text).join(';')}`)].join('\n');

describe('legacy mobile forms (MX, AR, BR)', () => {
  it('the generators reach every country with many distinct lines', () => {
    const sample = fc.sample(lines, { numRuns: 300, seed: 7 });
    for (const code of ['+52', '+549', '+55']) {
      const of = sample.filter((line) => line.canonical.startsWith(code));
      expect(of.length).toBeGreaterThan(30);
      expect(new Set(of.map((line) => line.canonical)).size).toBeGreaterThan(20);
    }
  });

  it('every unambiguous written form normalizes to exactly the canonical E.164', () => {
    fc.assert(
      fc.property(lines, (line) => {
        expect(normalizePhone(line.canonical)).toEqual({ ok: true, e164: line.canonical });
        for (const written of line.forms) {
          expect({ form: written.form, result: normalizePhone(written.text, written.region) }).toEqual({
            form: written.form,
            result: { ok: true, e164: line.canonical },
          });
        }
      }),
      { numRuns: 150 },
    );
  });

  it('the ambiguous Argentine landline form is kept and its mobile form is checked as a variant', () => {
    fc.assert(
      fc.property(argentina, (line) => {
        const written = line.ambiguous[0]!;
        const normalized = normalizePhone(written.text);
        if (!normalized.ok) return; // not an assigned landline range: nothing to be ambiguous about
        expect(normalized.e164).not.toBe(line.canonical);
        expect(phoneVariants(normalized.e164)).toEqual([line.canonical]);
      }),
      { numRuns: 100 },
    );
  });

  it('an entry holding one line in all its forms is one identifier (one quota unit), plus at most the ambiguous variant', () => {
    fc.assert(
      fc.property(fc.array(lines, { minLength: 1, maxLength: 6 }), fc.boolean(), (book, withAmbiguous) => {
        // Regions differ per form, so each form is its own entry row parsed with its region;
        // the whole line's forms in one entry are checked with the international forms.
        const rows = book.map((line) => [...line.forms.filter((f) => f.region === undefined), ...(withAmbiguous ? line.ambiguous : [])]);
        const parsed = parseContactsCsv(csvOf(rows));
        expect(parsed.invalid).toEqual([]);
        parsed.contacts.forEach((entry, i) => {
          const line = book[i]!;
          const ids = entry.identifiers.map((id) => id.identifier);
          expect(ids).toContain(`tel:${line.canonical}`);
          const extra = entry.identifiers.filter((id) => id.identifier !== `tel:${line.canonical}`);
          if (!withAmbiguous || line.ambiguous.length === 0) expect(extra).toEqual([]);
          else expect(extra.length).toBeLessThanOrEqual(1);
        });
        expect(uniqueIdentifiers(parsed)).toEqual(expect.arrayContaining(book.map((line) => `tel:${line.canonical}`)));
      }),
      { numRuns: 60 },
    );
  });

  it('national forms parsed with their region map to the canonical identifier', () => {
    fc.assert(
      fc.property(lines, (line) => {
        for (const written of line.forms.filter((f) => f.region !== undefined)) {
          const parsed = parseContactsCsv(`name,phones\nx,${written.text}`, { defaultRegion: written.region });
          expect(parsed.contacts[0]!.identifiers.map((id) => id.identifier)).toEqual([`tel:${line.canonical}`]);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('numbers valid today are never rewritten, and other countries get no variants', () => {
    const region = fc.constantFrom(...GeneratedRegions);
    fc.assert(
      fc.property(fc.integer(), region, (seed, r) => {
        const e164 = generatePhoneNumber(seededRng(seed), r);
        expect(normalizePhone(e164)).toEqual({ ok: true, e164 });
        if (!/^\+5[245]/.test(e164)) expect(phoneVariants(e164)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('a repair is refused when it would not land in an assigned mobile range', () => {
    // +52 1 followed by 10 digits of an unassigned range stays invalid.
    expect(repairLegacyMobile('+5210000000000')).toBeUndefined();
    expect(normalizePhone('+52 1 00 0000 0000').ok).toBe(false);
    // Brazil: 8-digit numbers beginning 2-5 are landlines; no ninth digit is invented.
    expect(repairLegacyMobile('+551123456789')).toBeUndefined();
    // Outside the three countries nothing is repaired.
    expect(repairLegacyMobile('+41791234567')).toBeUndefined();
  });
});
