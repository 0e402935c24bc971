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

export function parseAddressBook(text: string, options: AddressBookOptions = {}): AddressBook {
  const { format, ...rest } = options;
  if (format !== undefined && format !== 'vcard' && format !== 'csv') {
    throw new ContactPsiError('invalid_option', `unknown address book format ${JSON.stringify(String(format))}`);
  }
  const chosen = format ?? (typeof text === 'string' ? sniffFormat(text) : 'csv');
  return chosen === 'vcard' ? parseVcard(text, rest) : parseContactsCsv(text, rest);
}
