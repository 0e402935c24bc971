/** Identifiers (the OPRF inputs) and mapping matches back to address-book entries. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ContactPsiError } from '../src/errors.js';
import { generateContacts, generatePhoneNumber, GeneratedRegions, seededRng } from '../src/contacts/generate.js';
import { identifierBytes, isIdentifier, parseIdentifier, toIdentifier } from '../src/contacts/identifier.js';
import { contactsByIdentifier, uniqueIdentifiers, type AddressBook, type ContactEntry } from '../src/contacts/model.js';
import { parseVcard } from '../src/contacts/vcard.js';
import { toVcard } from '../src/contacts/vcard-write.js';

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

function codeOf(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (err) {
    return err instanceof ContactPsiError ? err.code : `foreign: ${String(err)}`;
  }
}

describe('identifiers', () => {
  it('are the scheme, a colon and the normalized value, OPRF\'d as UTF-8', () => {
    expect(toIdentifier('tel', '+41791234567')).toBe('tel:+41791234567');
    expect(toIdentifier('mailto', 'alice@example.org')).toBe('mailto:alice@example.org');
    // Exact bytes (spec/contacts.md): no length prefix, no terminator.
    expect(hex(identifierBytes('tel:+41791234567'))).toBe('74656c3a2b3431373931323334353637');
    expect(hex(identifierBytes('mailto:äö@bücher.de'))).toBe('6d61696c746f3ac3a4c3b64062c3bc636865722e6465');
  });

  it('keep tel: and mailto: apart and round-trip through parseIdentifier', () => {
    fc.assert(
      fc.property(fc.integer(), fc.constantFrom(...GeneratedRegions), (seed, region) => {
        const e164 = generatePhoneNumber(seededRng(seed), region);
        const tel = toIdentifier('tel', e164);
        const mail = toIdentifier('mailto', `${e164.slice(1)}@example.org`);
        expect(tel).not.toBe(mail);
        expect(hex(identifierBytes(tel))).not.toBe(hex(identifierBytes(mail)));
        expect(parseIdentifier(tel)).toEqual({ kind: 'tel', value: e164 });
        expect(parseIdentifier(mail)).toEqual({ kind: 'mailto', value: `${e164.slice(1)}@example.org` });
        expect(identifierBytes(tel)).toEqual(new TextEncoder().encode(tel));
      }),
    );
  });

  it.each([
    'tel:0791234567',
    'tel:+41 79 123 45 67',
    'tel:+0791234567',
    'tel:+1234567890123456',
    'tel:',
    'TEL:+41791234567',
    'mailto:Alice@example.org',
    'mailto: alice@example.org',
    'mailto:alice@example',
    'sms:+41791234567',
    '+41791234567',
    '',
  ])('rejects the non-canonical %j', (s) => {
    expect(codeOf(() => parseIdentifier(s))).toBe('invalid_identifier');
    expect(codeOf(() => identifierBytes(s))).toBe('invalid_identifier');
    expect(isIdentifier(s)).toBe(false);
  });

  it('refuse to build from values that are not normalized', () => {
    expect(codeOf(() => toIdentifier('tel', '079 123 45 67'))).toBe('invalid_identifier');
    expect(codeOf(() => toIdentifier('mailto', 'Alice@Example.org'))).toBe('invalid_identifier');
    expect(codeOf(() => toIdentifier('sms' as 'tel', '+41791234567'))).toBe('invalid_identifier');
  });

  it('parseIdentifier only ever throws invalid_identifier', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string().map((s) => `tel:${s}`), fc.string().map((s) => `mailto:${s}`)), (s) => {
        const code = codeOf(() => parseIdentifier(s));
        expect(['ok', 'invalid_identifier']).toContain(code);
      }),
    );
  });
});

describe('uniqueIdentifiers and contactsByIdentifier', () => {
  const entry = (index: number, name: string, ids: string[]): ContactEntry => ({
    index,
    name,
    identifiers: ids.map((identifier) => ({ kind: identifier.startsWith('tel:') ? 'tel' : 'mailto', raw: identifier, identifier })),
  });

  it('dedupe in order of first appearance and map back to every holder', () => {
    const book: AddressBook = {
      contacts: [
        entry(0, 'Anna', ['tel:+41791234567', 'mailto:anna@example.org']),
        entry(1, 'Office', ['tel:+41441234567', 'tel:+41791234567']),
        entry(2, 'Nobody', []),
        entry(3, 'Anna again', ['mailto:anna@example.org']),
      ],
      invalid: [],
    };
    expect(uniqueIdentifiers(book)).toEqual(['tel:+41791234567', 'mailto:anna@example.org', 'tel:+41441234567']);
    const map = contactsByIdentifier(book);
    expect(map.get('tel:+41791234567')!.map((c) => c.name)).toEqual(['Anna', 'Office']);
    expect(map.get('mailto:anna@example.org')!.map((c) => c.index)).toEqual([0, 3]);
    expect(map.get('tel:+41441234567')).toEqual([book.contacts[1]]);
    expect(map.size).toBe(3);
  });

  it('agree with each other on imported books', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 0, max: 15 }), (seed, count) => {
        const drafts = generateContacts(seededRng(seed), count);
        // Duplicate some entries so that identifiers are shared between contacts.
        const book = parseVcard(toVcard([...drafts, ...drafts.slice(0, 3)]), { defaultRegion: 'CH' });
        const unique = uniqueIdentifiers(book);
        expect(new Set(unique).size).toBe(unique.length);
        const map = contactsByIdentifier(book);
        expect([...map.keys()]).toEqual(unique);
        for (const contact of book.contacts) {
          for (const id of contact.identifiers) expect(map.get(id.identifier)).toContain(contact);
        }
        for (const [id, holders] of map) {
          expect(new Set(holders).size).toBe(holders.length);
          for (const holder of holders) expect(holder.identifiers.some((x) => x.identifier === id)).toBe(true);
        }
      }),
      { numRuns: 30 },
    );
  });
});
