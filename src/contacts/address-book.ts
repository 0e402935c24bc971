/** One entry point for both import formats. */
import { ContactPsiError } from '../errors.js';
import { parseContactsCsv } from './csv.js';
import type { ImportOptions } from './limits.js';
import type { AddressBook } from './model.js';
import { parseVcard } from './vcard.js';

export type AddressBookFormat = 'vcard' | 'csv';

export interface AddressBookOptions extends ImportOptions {
  /** Sniffed from the content when absent (see sniffFormat). */
  format?: AddressBookFormat;
}

/** How far into the input sniffing looks for a BEGIN:VCARD line. */
export const SNIFF_LENGTH = 4096;

/**
 * `vcard` when a line in the first 4 KiB starts with BEGIN:VCARD (case-insensitive,
 * after an optional byte-order mark and blanks), otherwise `csv`.
 */
export function sniffFormat(text: string): AddressBookFormat {
  return /(^|[\r\n])[\ufeff\s]*BEGIN:VCARD/i.test(text.slice(0, SNIFF_LENGTH)) ? 'vcard' : 'csv';
}

/**
 * The format a file name says (`.vcf`, `.vcard` -> vcard; `.csv` -> csv; any case), or
 * undefined when it says none. A name is the user's word and is taken before the content:
 * an empty `book.vcf` is an empty vCard file, not a CSV file without a header.
 */
export function formatOfFileName(fileName: string): AddressBookFormat | undefined {
  const ext = /\.([A-Za-z]+)$/.exec(fileName)?.[1]?.toLowerCase();
  if (ext === 'vcf' || ext === 'vcard') return 'vcard';
  if (ext === 'csv') return 'csv';
  return undefined;
}

/** Only blanks and byte-order marks: nothing to read in any format. */
const BLANK = /^[\ufeff\s]*$/;

/**
 * Parses a vCard or CSV address book. Throws `empty_address_book` for a text with nothing
 * but blanks (whatever the format), `invalid_option` for an unknown format, and what the
 * format's parser throws (`csv_no_header`, `too_large`).
 */
export function parseAddressBook(text: string, options: AddressBookOptions = {}): AddressBook {
  const { format, ...rest } = options;
  if (format !== undefined && format !== 'vcard' && format !== 'csv') {
    throw new ContactPsiError('invalid_option', `unknown address book format ${JSON.stringify(String(format))}`);
  }
  if (typeof text === 'string' && BLANK.test(text)) throw new ContactPsiError('empty_address_book', 'the address book is empty');
  const chosen = format ?? (typeof text === 'string' ? sniffFormat(text) : 'csv');
  return chosen === 'vcard' ? parseVcard(text, rest) : parseContactsCsv(text, rest);
}
