/** E-mail normalization: one canonical lowercase form, and non-addresses rejected. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeEmail } from '../src/contacts/email.js';

const localChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789!#$%&\'*+/=?^_`{|}~-'.split(''), 'ä', 'é', 'ß', 'ø', '用');
const labelChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'.split(''), 'ü', 'ñ', 'ж');
const label = fc.string({ unit: labelChar, minLength: 1, maxLength: 10 });
const address = fc
  .record({
    local: fc.array(fc.string({ unit: localChar, minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 3 }),
    domain: fc.array(label, { minLength: 1, maxLength: 3 }),
    tld: fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'.split(''), 'ö'), minLength: 2, maxLength: 6 }),
  })
  .map(({ local, domain, tld }) => `${local.join('.')}@${domain.join('.')}.${tld}`);

const LONGEST = `a@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.${'e'.repeat(60)}`;

/** Uppercases some characters, per a mask; not those (ß -> SS) whose case change is one-way. */
function recase(s: string, mask: readonly boolean[]): string {
  return [...s]
    .map((ch, i) => (mask[i % mask.length] && ch.toUpperCase().toLowerCase() === ch ? ch.toUpperCase() : ch))
    .join('');
}

describe('normalizeEmail', () => {
  it('gives the same address for any case, surrounding blanks and a mailto: prefix', () => {
    fc.assert(
      fc.property(
        address,
        fc.array(fc.boolean(), { minLength: 1, maxLength: 12 }),
        fc.constantFrom('', ' ', '\t', '  \n'),
        fc.constantFrom('', 'mailto:', 'MAILTO:', 'MailTo:'),
        (addr, mask, blank, scheme) => {
          const canonical = normalizeEmail(addr);
          expect(canonical.ok).toBe(true);
          if (!canonical.ok) return;
          expect(canonical.email).toBe(addr.normalize('NFC').toLowerCase());
          // Inside a mailto: URI, `?` and `%` must be percent-encoded (RFC 6068).
          const body = scheme === '' ? recase(addr, mask) : encodeURIComponent(recase(addr, mask)).replace('%40', '@');
          expect(normalizeEmail(`${blank}${scheme}${body}${blank}`)).toEqual(canonical);
        },
      ),
    );
  });

  it.each([
    ['  Alice@Example.COM ', 'alice@example.com'],
    ['mailto:Bob@EXAMPLE.org?subject=Hello%20there', 'bob@example.org'],
    ['mailto:j%2Bdoe@example.org', 'j+doe@example.org'],
    ['ÄÖ@Bücher.DE', 'äö@bücher.de'],
    ['e\u0301@x.ch', '\u00e9@x.ch'], // NFC: decomposed and composed é are one address
    ['x@例え。テスト', 'x@例え.テスト'], // ideographic full stop, as IDNA maps it
    ['first.last+tag@sub.example.co.uk', 'first.last+tag@sub.example.co.uk'],
    [`${'a'.repeat(64)}@example.com`, `${'a'.repeat(64)}@example.com`],
    [LONGEST, LONGEST], // 254 octets
  ])('%s -> %s', (raw, email) => {
    expect(normalizeEmail(raw)).toEqual({ ok: true, email });
  });

  it.each([
    'alice',
    'alice@',
    '@example.com',
    'alice@example',
    'alice@@example.com',
    'a@b@example.com',
    'alice@.example.com',
    'alice@example..com',
    'alice@example.com.',
    'alice@-example.com',
    'alice@example-.com',
    'alice@exa_mple.com',
    '.alice@example.com',
    'alice.@example.com',
    'al..ice@example.com',
    'al ice@example.com',
    'alice@exa mple.com',
    'alice@example.com\u0000',
    'al\u200dice@example.com',
    '"alice"@example.com',
    'alice(comment)@example.com',
    'alice@[192.0.2.1]',
    'alice@192.0.2.1',
    'mailto:a%zz@example.com',
    'mailto:a@x.com,b@y.com',
    `${'a'.repeat(65)}@example.com`,
    `a@${'b'.repeat(64)}.com`,
    `${LONGEST}e`, // 255 octets
    'x'.repeat(2000),
  ])('rejects %s', (raw) => {
    const r = normalizeEmail(raw);
    expect(r).toMatchObject({ ok: false, code: 'invalid_email' });
  });

  it('reports blank input as empty', () => {
    expect(normalizeEmail('   ')).toMatchObject({ ok: false, code: 'empty' });
    expect(normalizeEmail('mailto:')).toMatchObject({ ok: false, code: 'empty' });
  });

  it('never throws; what it accepts is idempotent and within the RFC 5321 limits', () => {
    const emailish = fc.string({ unit: fc.constantFrom(...'aZ0.@-_+ :%\u00e4\u3002'.split(''), 'mailto:', '\u0301'), maxLength: 30 });
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 30 }), emailish, address), (raw) => {
        const r = normalizeEmail(raw);
        if (!r.ok) {
          expect(['empty', 'invalid_email']).toContain(r.code);
          return;
        }
        expect(normalizeEmail(r.email)).toEqual(r);
        expect(r.email).toBe(r.email.toLowerCase());
        const bytes = new TextEncoder().encode(r.email);
        expect(bytes.length).toBeLessThanOrEqual(254);
        expect(new TextEncoder().encode(r.email.split('@')[0]!).length).toBeLessThanOrEqual(64);
      }),
      { numRuns: 1000 },
    );
  });
});
