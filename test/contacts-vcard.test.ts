/** vCard import: real-world 2.1 / 3.0 / 4.0 shapes, round trips through the writer, and fuzzing. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ContactPsiError } from '../src/errors.js';
import { generateContacts, seededRng } from '../src/contacts/generate.js';
import type { AddressBook } from '../src/contacts/model.js';
import { parseVcard } from '../src/contacts/vcard.js';
import { toVcard, VCARD_LINE_OCTETS } from '../src/contacts/vcard-write.js';

const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n');
const ids = (book: AddressBook) => book.contacts.map((c) => c.identifiers.map((i) => i.identifier));

const APPLE_30 = `BEGIN:VCARD
VERSION:3.0
PRODID:-//Apple Inc.//iPhone OS 17.0//EN
N:Müller;Jürg;;;
FN:Jürg Müller
ORG:Acme\\, Inc.;
item1.TEL;type=pref:+41 79 123 45 67
TEL;type=CELL;type=VOICE:079 765 43 21
item2.EMAIL;type=INTERNET;type=pref:Juerg.Mueller@Example.CH
item2.X-ABLabel:_$!<Other>!$_
NOTE:Line one\\nline two\\, with a comma and a long note that is folded over
  several lines
END:VCARD
BEGIN:VCARD
VERSION:3.0
N:Doe\\;Smith;John;Q.;Dr.;Jr.
TEL;TYPE=HOME:(044) 123 45 67
PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQk
 KCgwPDAoLDgsJCQ0RDQ4PEBAQEAoMEhMSEBMPEBAQ/9k=
END:VCARD
BEGIN:VCARD
VERSION:3.0
ORG:Pizza Express;Delivery
TEL:+44 20 7946 0958
END:VCARD
`;

const RFC_40 = `BEGIN:VCARD
VERSION:4.0
FN:Renée "Ré" O'Connor\\, PhD\\; MD \\\\ Paris
TEL;VALUE=uri;TYPE="voice,cell";PREF=1:tel:+33-6-12-34-56-78
TEL;VALUE=uri;TYPE=work:tel:+41-44-668-18-00;ext=102
TEL;VALUE=uri:tel:044-668-18-00;phone-context=+41
EMAIL;TYPE=work:renee@Example.FR
EMAIL;PID=1.1:mailto:Renee@example.fr
X-SOCIALPROFILE;TYPE=twitter:https://x.com/renee
END:VCARD
`;

const ANDROID_21 = `BEGIN:VCARD
VERSION:2.1
N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=4D=C3=BC=6C=6C=65=72;=4A=C3=BC=72=67;;;
FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=4A=C3=BC=72=67=20=4D=C3=BC=6C=6C=65=72=20=E2=80=93=20=
=42=C3=BC=72=6F
TEL;CELL;PREF:+41791234567
TEL;HOME:044 123 45 67
EMAIL;INTERNET:jm@example.ch
PHOTO;ENCODING=BASE64;JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD
/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQk

END:VCARD
BEGIN:VCARD
VERSION:2.1
FN;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:Fran=E7ois
TEL;WORK;VOICE:+33 1 23 45 67 89
END:VCARD
`;

describe('parseVcard samples', () => {
  it('reads a vCard 3.0 export (groups, parameters, folding, N and ORG fallbacks)', () => {
    const book = parseVcard(crlf(APPLE_30), { defaultRegion: 'CH' });
    expect(book.invalid).toEqual([]);
    expect(book.contacts.map((c) => [c.index, c.name])).toEqual([
      [0, 'Jürg Müller'],
      [1, 'Dr. John Q. Doe;Smith Jr.'],
      [2, 'Pizza Express'],
    ]);
    expect(ids(book)).toEqual([
      ['tel:+41791234567', 'tel:+41797654321', 'mailto:juerg.mueller@example.ch'],
      ['tel:+41441234567'],
      ['tel:+442079460958'],
    ]);
    expect(book.contacts[0]!.identifiers[1]).toEqual({ kind: 'tel', raw: '079 765 43 21', identifier: 'tel:+41797654321' });
  });

  it('reads a vCard 4.0 card (tel: URIs, quoted parameters, escapes, dedupe)', () => {
    const book = parseVcard(RFC_40);
    expect(book.invalid).toEqual([]);
    expect(book.contacts[0]!.name).toBe('Renée "Ré" O\'Connor, PhD; MD \\ Paris');
    expect(ids(book)).toEqual([['tel:+33612345678', 'tel:+41446681800', 'mailto:renee@example.fr']]);
    expect(book.contacts[0]!.identifiers[0]!.raw).toBe('tel:+33-6-12-34-56-78');
  });

  it('reads vCard 2.1 (bare TYPE parameters, quoted-printable with soft breaks, charsets, base64 lines)', () => {
    const book = parseVcard(crlf(ANDROID_21), { defaultRegion: 'CH' });
    expect(book.invalid).toEqual([]);
    expect(book.contacts.map((c) => c.name)).toEqual(['Jürg Müller – Büro', 'François']);
    expect(ids(book)).toEqual([['tel:+41791234567', 'tel:+41441234567', 'mailto:jm@example.ch'], ['tel:+33123456789']]);
  });

  it('gives the same result for CRLF, LF and CR line ends and tab folding', () => {
    const lf = parseVcard(APPLE_30, { defaultRegion: 'CH' });
    expect(parseVcard(crlf(APPLE_30), { defaultRegion: 'CH' })).toEqual(lf);
    expect(parseVcard(APPLE_30.replace(/\n/g, '\r'), { defaultRegion: 'CH' })).toEqual(lf);
    expect(parseVcard(APPLE_30.replace(/\n {2}several/, '\n\t several'), { defaultRegion: 'CH' })).toEqual(lf);
    expect(parseVcard(`\ufeff${APPLE_30}`, { defaultRegion: 'CH' })).toEqual(lf);
  });

  it('reports values that do not normalize and unterminated cards, with lines, and keeps going', () => {
    const text = [
      'BEGIN:VCARD', //         1
      'VERSION:3.0', //         2
      'FN:Broken', //           3
      'TEL:12', //              4
      'TEL:not a number', //    5
      'EMAIL:nope', //          6
      'TEL;TYPE=CELL:', //      7  (empty: skipped, not an error)
      'TEL:079 123 45 67', //   8
      'END:VCARD', //           9
      'BEGIN:VCARD', //         10
      'FN:Truncated', //        11
      'TEL:+41 44 123 45 67', //12
    ].join('\n');
    const withoutRegion = parseVcard(text);
    expect(withoutRegion.contacts.map((c) => [c.name, c.identifiers.length])).toEqual([['Broken', 0], ['Truncated', 1]]);
    expect(withoutRegion.invalid.map((e) => [e.contactIndex, e.kind, e.code, e.line, e.raw])).toEqual([
      [0, 'tel', 'no_region', 4, '12'],
      [0, 'tel', 'invalid_phone', 5, 'not a number'],
      [0, 'mailto', 'invalid_email', 6, 'nope'],
      [0, 'tel', 'no_region', 8, '079 123 45 67'],
      [1, 'entry', 'vcard_unterminated', 10, 'BEGIN:VCARD'],
    ]);
    const withRegion = parseVcard(text, { defaultRegion: 'CH' });
    expect(withRegion.invalid.map((e) => e.code)).toEqual(['too_short', 'invalid_phone', 'invalid_email', 'vcard_unterminated']);
    expect(ids(withRegion)).toEqual([['tel:+41791234567'], ['tel:+41441234567']]);
  });

  it('closes a card at a second BEGIN and ignores properties outside cards', () => {
    const book = parseVcard('TEL:+41791234567\nBEGIN:VCARD\nFN:A\nBEGIN:VCARD\nFN:B\nTEL:+41791234567\nEND:VCARD\nEND:VCARD\n');
    expect(book.contacts.map((c) => c.name)).toEqual(['A', 'B']);
    expect(book.invalid.map((e) => [e.contactIndex, e.code])).toEqual([[0, 'vcard_unterminated']]);
  });

  it('does not let a trailing quoted-printable = swallow END:VCARD', () => {
    const book = parseVcard('BEGIN:VCARD\nVERSION:2.1\nFN;ENCODING=QUOTED-PRINTABLE:Ann=\nEND:VCARD\nBEGIN:VCARD\nFN:Bo\nEND:VCARD\n');
    expect(book.contacts.map((c) => c.name)).toEqual(['Ann', 'Bo']);
    expect(book.invalid).toEqual([]);
  });

  it('returns an empty book for text without cards', () => {
    expect(parseVcard('')).toEqual({ contacts: [], invalid: [] });
    expect(parseVcard('hello\nworld')).toEqual({ contacts: [], invalid: [] });
  });
});

describe('toVcard -> parseVcard round trip', () => {
  const name = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 120 }),
    fc.string({ unit: fc.constantFrom(',', ';', '\\', '\n', '\r\n', ':', '"', '=', 'a', 'é', '😀', '中', ' ', '\t', 'N', 'n'), maxLength: 200 }),
  );

  it('recovers names and identifiers (3.0 and 4.0)', () => {
    fc.assert(
      fc.property(fc.integer(), fc.array(name, { maxLength: 8 }), fc.constantFrom('3.0' as const, '4.0' as const), (seed, names, version) => {
        const drafts = generateContacts(seededRng(seed), names.length, { homeRegion: 'DE' }).map((c, i) => ({ ...c, name: names[i]! }));
        const text = toVcard(drafts, { version });
        for (const line of text.split('\r\n')) expect(new TextEncoder().encode(line).length).toBeLessThanOrEqual(VCARD_LINE_OCTETS);
        const book = parseVcard(text, { defaultRegion: 'DE' });
        expect(book.invalid).toEqual([]);
        expect(book.contacts.map((c) => c.name)).toEqual(names.map((n) => n.replace(/\r\n?/g, '\n').trim()));
        expect(ids(book)).toEqual(drafts.map((d) => d.identifiers));
        book.contacts.forEach((c, i) => {
          // 4.0 writes an E.164 number as a tel: URI, which is then the raw value.
          const raws = [...drafts[i]!.phones, ...drafts[i]!.emails].flatMap((r) => [r.trim(), `tel:${r}`]);
          for (const id of c.identifiers) expect(raws).toContain(id.raw);
        });
      }),
      { numRuns: 60 },
    );
  });

  it('folds long lines without splitting UTF-8 sequences', () => {
    const long = 'Ärzte- und Zahnärztezentrum 😀 '.repeat(20).trim();
    const text = toVcard([{ name: long, phones: ['+41 79 123 45 67'] }]);
    const lines = text.split('\r\n');
    expect(lines.length).toBeGreaterThan(10);
    for (const line of lines) expect(new TextEncoder().encode(line).length).toBeLessThanOrEqual(75);
    expect(parseVcard(text).contacts[0]!.name).toBe(long);
  });
});

describe('parseVcard robustness and limits', () => {
  const vocabulary = fc.constantFrom(
    'BEGIN:VCARD', 'END:VCARD', 'VERSION:2.1', 'VERSION:4.0', 'FN:x', 'FN;ENCODING=QUOTED-PRINTABLE:=C3=', 'N:a;b;c;d;e;f',
    'TEL:+41791234567', 'TEL;VALUE=uri:tel:', 'EMAIL:a@b.c', 'EMAIL:', 'item1.TEL;TYPE="a:b";X=:079', ' folded', '\tfolded', ':', ';;;:',
    'TEL;ENCODING=QUOTED-PRINTABLE:=', '=', '"', 'BEGIN:vcard', 'FN:\\', 'ORG:;;', '',
  );
  const lines = fc.array(fc.oneof(vocabulary, fc.string({ unit: 'binary', maxLength: 20 })), { maxLength: 40 });
  const eol = fc.constantFrom('\r\n', '\n', '\r');

  it('never throws on arbitrary text, and its entries and reports are consistent', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.tuple(lines, eol).map(([l, e]) => l.join(e))), (text) => {
        const book = parseVcard(text, { defaultRegion: 'CH' });
        book.contacts.forEach((c, i) => expect(c.index).toBe(i));
        for (const e of book.invalid) expect(e.contactIndex).toBeLessThan(book.contacts.length);
      }),
      { numRuns: 500 },
    );
  });

  it('throws too_large past maxInputLength, maxContacts and maxValues', () => {
    const text = toVcard(generateContacts(seededRng(1), 20));
    const code = (f: () => unknown) => {
      try {
        f();
        return 'ok';
      } catch (err) {
        return err instanceof ContactPsiError ? err.code : 'foreign';
      }
    };
    expect(code(() => parseVcard(text, { maxInputLength: text.length }))).toBe('ok');
    expect(code(() => parseVcard(text, { maxInputLength: text.length - 1 }))).toBe('too_large');
    expect(code(() => parseVcard(text, { maxContacts: 20 }))).toBe('ok');
    expect(code(() => parseVcard(text, { maxContacts: 19 }))).toBe('too_large');
    expect(code(() => parseVcard(text, { maxValues: 1 }))).toBe('too_large');
    expect(code(() => parseVcard(text, { defaultRegion: 'XX' as 'CH' }))).toBe('invalid_region');
    expect(code(() => parseVcard(text, { maxContacts: -1 }))).toBe('invalid_option');
    expect(code(() => parseVcard(42 as unknown as string))).toBe('invalid_input');
  });
});
