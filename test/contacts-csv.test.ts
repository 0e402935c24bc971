/** CSV import: RFC 4180 records, header detection, real export shapes, round trips, fuzzing. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ContactPsiError } from '../src/errors.js';
import { parseAddressBook, sniffFormat } from '../src/contacts/address-book.js';
import { parseContactsCsv } from '../src/contacts/csv.js';
import { classifyColumn } from '../src/contacts/csv-header.js';
import { detectDelimiter, parseCsvRecords, type CsvDelimiter } from '../src/contacts/csv-records.js';
import { quoteField, toContactsCsv } from '../src/contacts/csv-write.js';
import { generateContacts, seededRng } from '../src/contacts/generate.js';
import type { AddressBook } from '../src/contacts/model.js';
import { toVcard } from '../src/contacts/vcard-write.js';

const ids = (book: AddressBook) => book.contacts.map((c) => c.identifiers.map((i) => i.identifier));

function codeOf(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (err) {
    return err instanceof ContactPsiError ? err.code : `foreign: ${String(err)}`;
  }
}

describe('CSV records (RFC 4180)', () => {
  it('handles quoted fields, doubled quotes, embedded delimiters and line breaks', () => {
    const text = 'a,"b,c","say ""hi""","two\r\nlines"\r\n,,\r\n"x"\n\nlast,row';
    expect(parseCsvRecords(text, ',').map((r) => [r.line, r.fields])).toEqual([
      [1, ['a', 'b,c', 'say "hi"', 'two\r\nlines']],
      [3, ['', '', '']],
      [4, ['x']],
      [5, ['']],
      [6, ['last', 'row']],
    ]);
  });

  it('is lenient where RFC 4180 is silent, and flags an unterminated quote', () => {
    expect(parseCsvRecords('a"b,"c"d, "e, f"', ',')[0]!.fields).toEqual(['a"b', 'cd', 'e, f']);
    expect(parseCsvRecords('a,\r', ',').map((r) => r.fields)).toEqual([['a', '']]);
    const open = parseCsvRecords('a,b\n"c,\nd', ',');
    expect(open.map((r) => [r.fields, r.unterminated])).toEqual([
      [['a', 'b'], false],
      [['c,\nd'], true],
    ]);
  });

  it('detects the delimiter from the header line', () => {
    expect(detectDelimiter('Name,Phone\n')).toBe(',');
    expect(detectDelimiter('\n\nName;Phone;E-Mail\n1,2,3,4,5')).toBe(';');
    expect(detectDelimiter('"Name, full";Phone')).toBe(';');
    expect(detectDelimiter('Name\tPhone\tEmail')).toBe('\t');
    expect(detectDelimiter('Name')).toBe(',');
  });

  it('parses back what quoteField writes', () => {
    const cell = fc.string({ unit: fc.constantFrom('a', ' ', ',', ';', '\t', '"', '\r', '\n', 'é', '😀'), maxLength: 8 });
    fc.assert(
      fc.property(fc.array(fc.array(cell, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 6 }), fc.constantFrom<CsvDelimiter>(',', ';', '\t'), (rows, d) => {
        const text = rows.map((r) => `${r.map((f) => quoteField(f, d)).join(d)}\r\n`).join('');
        expect(parseCsvRecords(text, d).map((r) => r.fields)).toEqual(rows);
      }),
      { numRuns: 300 },
    );
  });
});

describe('header detection', () => {
  it.each([
    ['Name', 'name'], ['Full Name', 'name'], ['display_name', 'name'], ['First Name', 'first'], ['Given Name', 'first'],
    ['Vorname', 'first'], ['Prénom', 'first'], ['Middle Name', 'middle'], ['Last Name', 'last'], ['SURNAME', 'last'],
    ['Family Name', 'last'], ['Company', 'org'], ['Organization 1 - Name', 'org'], ['Organization Name', 'org'],
    ['Phone', 'tel'], ['phone number', 'tel'], ['Phone 1 - Value', 'tel'], ['Mobile Phone', 'tel'], ['Home Phone 2', 'tel'],
    ['Primary Phone', 'tel'], ['TEL', 'tel'], ['Telephone', 'tel'], ['Téléphone', 'tel'], ['Handy', 'tel'], ['mobile', 'tel'],
    ['Cell', 'tel'], ['mobilePhone', 'tel'], ['Email', 'mailto'], ['E-mail', 'mailto'], ['e_mail', 'mailto'], ['E-mail 1 - Value', 'mailto'],
    ['E-mail 2 Address', 'mailto'], ['EmailAddress', 'mailto'], ['Mail', 'mailto'],
    ['Phone 1 - Type', undefined], ['Phone 1 - Label', undefined], ['E-mail 1 - Type', undefined], ['E-mail Display Name', undefined],
    ['Phonetic First Name', undefined], ['Nickname', undefined], ['Business Fax', undefined], ['Notes', undefined], ['Mailing Address', undefined],
    ['Given Name Yomi', undefined], ['', undefined], ['Title', undefined],
  ])('%j -> %s', (header, role) => {
    expect(classifyColumn(header)).toBe(role);
  });

  it('throws csv_no_header when no row has a phone or e-mail column', () => {
    expect(codeOf(() => parseContactsCsv('a,b\n1,2\n'))).toBe('csv_no_header');
    expect(codeOf(() => parseContactsCsv(''))).toBe('csv_no_header');
    expect(codeOf(() => parseContactsCsv('Name,Notes\nAnna,hi'))).toBe('csv_no_header');
  });

  it('skips title lines above the header, a byte-order mark and blank rows', () => {
    const text = '\ufeffMy contacts\nexported 2024-05-01\n\nName,Phone\n\nAnna,079 123 45 67\n,\n';
    const book = parseContactsCsv(text, { defaultRegion: 'CH' });
    expect(book.contacts.map((c) => [c.index, c.name])).toEqual([[0, 'Anna']]);
    expect(ids(book)).toEqual([['tel:+41791234567']]);
  });
});

const GOOGLE = [
  'First Name,Middle Name,Last Name,Phonetic First Name,Nickname,Organization Name,Birthday,Notes,Labels,E-mail 1 - Label,E-mail 1 - Value,E-mail 2 - Label,E-mail 2 - Value,Phone 1 - Label,Phone 1 - Value,Phone 2 - Label,Phone 2 - Value',
  'Jürg,,Müller,,,,,,* myContacts,* Home,juerg@example.ch ::: J.Mueller@Work.example.ch,,,Mobile,+41 79 123 45 67 ::: 079 765 43 21,Work,044 668 18 00',
  'Anna,Maria,"O\'Neil, Jr.",,Annie,,,"Met at the ""conference"",\nsee notes",* myContacts,,,,,Mobile,+1 (201) 555-0123,,',
  ',,,,,Pizza Express,,,* myContacts,,,,,Work,+44 20 7946 0958,,',
  'Broken,,,,,,,,* myContacts,* Home,not-an-address,,,Mobile,12345,,',
].join('\r\n');

const OUTLOOK_SEMICOLON = [
  'First Name;Last Name;E-mail Address;E-mail Type;E-mail Display Name;Mobile Phone;Business Phone;Business Fax',
  'Sven;Meier;sven@example.de;SMTP;Sven Meier (sven@example.de);0171 1234567;030 12345678;030 12345679',
  '"Doe; Jane";;jane@example.de;;;;+49 30 1234567;',
].join('\n');

describe('parseContactsCsv samples', () => {
  it('reads a Google Contacts export (::: separated values, quoted notes)', () => {
    const book = parseContactsCsv(GOOGLE, { defaultRegion: 'CH' });
    expect(book.contacts.map((c) => c.name)).toEqual(['Jürg Müller', "Anna Maria O'Neil, Jr.", 'Pizza Express', 'Broken']);
    expect(ids(book)).toEqual([
      ['mailto:juerg@example.ch', 'mailto:j.mueller@work.example.ch', 'tel:+41791234567', 'tel:+41797654321', 'tel:+41446681800'],
      ['tel:+12015550123'],
      ['tel:+442079460958'],
      [],
    ]);
    expect(book.invalid.map((e) => [e.contactIndex, e.kind, e.code, e.raw, e.line])).toEqual([
      [3, 'mailto', 'invalid_email', 'not-an-address', 6],
      [3, 'tel', 'too_short', '12345', 6],
    ]);
  });

  it('reads a semicolon-separated Outlook export, ignoring type and display-name columns', () => {
    const book = parseContactsCsv(OUTLOOK_SEMICOLON, { defaultRegion: 'DE' });
    expect(book.invalid).toEqual([]);
    expect(book.contacts.map((c) => c.name)).toEqual(['Sven Meier', 'Doe; Jane']);
    expect(ids(book)).toEqual([
      ['mailto:sven@example.de', 'tel:+491711234567', 'tel:+493012345678'],
      ['mailto:jane@example.de', 'tel:+49301234567'],
    ]);
  });

  it('splits cells on ; and line breaks, and reports an unterminated quote', () => {
    const book = parseContactsCsv('name,phone,email\nA,"+41 79 123 45 67; +41 44 668 18 00","a@x.ch\nb@x.ch"\nB,"+41 79 765 43 21', {});
    expect(ids(book)).toEqual([
      ['tel:+41791234567', 'tel:+41446681800', 'mailto:a@x.ch', 'mailto:b@x.ch'],
      ['tel:+41797654321'],
    ]);
    expect(book.invalid.map((e) => [e.contactIndex, e.kind, e.code, e.line])).toEqual([[1, 'entry', 'csv_unterminated_quote', 4]]);
  });
});

describe('toContactsCsv -> parseContactsCsv round trip', () => {
  const name = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 60 }),
    fc.string({ unit: fc.constantFrom(',', ';', '"', '\n', '\r\n', ' ', 'a', 'é', '😀', ':::'), maxLength: 30 }),
  );

  it('recovers names and identifiers (simple and Google style, comma and semicolon)', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.array(name, { maxLength: 10 }),
        fc.constantFrom('simple' as const, 'google' as const),
        fc.constantFrom<CsvDelimiter>(',', ';'),
        (seed, names, style, delimiter) => {
          const drafts = generateContacts(seededRng(seed), names.length, { homeRegion: 'FR' })
            .map((c, i) => ({ ...c, name: names[i]! }))
            .filter((c) => c.identifiers.length > 0); // a row with nothing in it is not an entry
          const book = parseContactsCsv(toContactsCsv(drafts, { style, delimiter }), { defaultRegion: 'FR' });
          expect(book.invalid).toEqual([]);
          expect(book.contacts.map((c) => c.name)).toEqual(drafts.map((d) => d.name.trim()));
          // Identifiers come in column order: the Google layout has e-mail before phone.
          const order = (list: readonly string[]) => (style === 'google' ? [...list].sort() : list);
          expect(ids(book).map(order)).toEqual(drafts.map((d) => order(d.identifiers)));
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('parseContactsCsv robustness', () => {
  it('only ever throws csv_no_header on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        expect(['ok', 'csv_no_header']).toContain(codeOf(() => parseContactsCsv(text)));
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on arbitrary rows under a valid header', () => {
    const junk = fc.string({ unit: fc.constantFrom('a', '1', '+', ',', ';', '"', '\n', '\r', ' ', ':::', '@', '.', '\u0000', '😀'), maxLength: 120 });
    fc.assert(
      fc.property(junk, fc.constantFrom('Name,Phone,Email\n', 'Name;Phone;Email\r\n'), (body, header) => {
        const book = parseContactsCsv(header + body, { defaultRegion: 'GB' });
        book.contacts.forEach((c, i) => expect(c.index).toBe(i));
        for (const e of book.invalid) expect(e.contactIndex).toBeLessThan(book.contacts.length);
      }),
      { numRuns: 300 },
    );
  });

  it('enforces the limits', () => {
    const text = toContactsCsv(generateContacts(seededRng(3), 10).filter((c) => c.identifiers.length > 0));
    const rows = text.trim().split('\r\n').length - 1;
    expect(codeOf(() => parseContactsCsv(text, { maxContacts: rows }))).toBe('ok');
    expect(codeOf(() => parseContactsCsv(text, { maxContacts: rows - 1 }))).toBe('too_large');
    expect(codeOf(() => parseContactsCsv(text, { maxInputLength: 10 }))).toBe('too_large');
    expect(codeOf(() => parseContactsCsv(text, { maxValues: 1 }))).toBe('too_large');
  });
});

describe('parseAddressBook', () => {
  const drafts = generateContacts(seededRng(9), 8);

  it('sniffs vCard and CSV and gives the same book for both', () => {
    const vcard = toVcard(drafts);
    const csv = toContactsCsv(drafts);
    expect(sniffFormat(vcard)).toBe('vcard');
    expect(sniffFormat(`\ufeff\r\n  ${vcard}`)).toBe('vcard');
    expect(sniffFormat(csv)).toBe('csv');
    const a = parseAddressBook(vcard, { defaultRegion: 'CH' });
    const b = parseAddressBook(csv, { defaultRegion: 'CH' });
    expect(ids(a)).toEqual(drafts.map((d) => d.identifiers));
    expect(ids(b)).toEqual(ids(a).filter((x, i) => x.length > 0 || drafts[i]!.name.trim() !== ''));
  });

  it('honours an explicit format and rejects an unknown one', () => {
    expect(codeOf(() => parseAddressBook(toVcard(drafts), { format: 'csv' }))).toBe('csv_no_header');
    expect(parseAddressBook('Name,Phone\n', { format: 'vcard' })).toEqual({ contacts: [], invalid: [] });
    expect(codeOf(() => parseAddressBook('', { format: 'xml' as 'csv' }))).toBe('invalid_option');
  });
});
