/**
 * Stable keys for address-book entries and for the set of identifiers of a book.
 *
 * The default contact key is `ck1:` + the first 128 bits (hex) of SHA-256 over the JSON of
 * [NFC name, sorted distinct identifiers]. It does not use `ContactEntry.index`, which
 * changes whenever the address book is re-imported in another order; it does change when
 * the entry's name or identifiers change (a manual link then no longer applies — an app
 * with its own stable contact ids should pass `contactKey` to the SDK instead).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { uniqueIdentifiers, type AddressBook, type ContactEntry } from '../contacts/index.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

export type ContactKeyFn = (entry: ContactEntry) => string;

export const defaultContactKey: ContactKeyFn = (entry) => {
  const ids = [...new Set(entry.identifiers.map((i) => i.identifier))].sort();
  return `ck1:${hex(sha256(utf8(JSON.stringify([entry.name.normalize('NFC'), ids])))).slice(0, 32)}`;
};

/**
 * SHA-256 (hex) of the book's distinct identifiers, sorted. Equal for two books that would
 * send the same identifiers, whatever their names, order or duplicates: the SDK syncs on
 * a change only when this differs from the last synced value.
 */
export function identifierSetHash(book: AddressBook): string {
  return hex(sha256(utf8(uniqueIdentifiers(book).sort().join('\n'))));
}
