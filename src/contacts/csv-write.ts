/**
 * Contacts CSV writer (RFC 4180: CRLF, fields quoted when needed, quotes doubled), for
 * tests, the demo and exports. `simple` writes one column per value; `google` mimics a
 * Google Contacts export, with several values in one cell joined by ` ::: `. Values that
 * themselves contain `;` or ` ::: ` do not survive a round trip (the importer splits there).
 */
import type { CsvDelimiter } from './csv-records.js';
import type { ContactDraft } from './draft.js';

export interface CsvWriteOptions {
  style?: 'simple' | 'google';
  delimiter?: CsvDelimiter;
}

export function toContactsCsv(contacts: readonly ContactDraft[], options: CsvWriteOptions = {}): string {
  const delimiter = options.delimiter ?? ',';
  const rows = options.style === 'google' ? googleRows(contacts) : simpleRows(contacts);
  return rows.map((row) => row.map((f) => quoteField(f, delimiter)).join(delimiter)).join('\r\n') + '\r\n';
}

function simpleRows(contacts: readonly ContactDraft[]): string[][] {
  const phones = Math.max(1, ...contacts.map((c) => c.phones?.length ?? 0));
  const emails = Math.max(1, ...contacts.map((c) => c.emails?.length ?? 0));
  const header = ['Name', ...numbered('Phone', phones), ...numbered('Email', emails)];
  const rows = contacts.map((c) => [c.name, ...padded(c.phones ?? [], phones), ...padded(c.emails ?? [], emails)]);
  return [header, ...rows];
}

function googleRows(contacts: readonly ContactDraft[]): string[][] {
  const header = ['Name', 'Given Name', 'Family Name', 'Group Membership', 'E-mail 1 - Type', 'E-mail 1 - Value', 'Phone 1 - Type', 'Phone 1 - Value'];
  const rows = contacts.map((c) => {
    const emails = c.emails ?? [];
    const phones = c.phones ?? [];
    return [
      c.name,
      '',
      '',
      '* myContacts',
      emails.length > 0 ? '* Other' : '',
      emails.join(' ::: '),
      phones.length > 0 ? 'Mobile' : '',
      phones.join(' ::: '),
    ];
  });
  return [header, ...rows];
}

function numbered(label: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${label} ${i + 1}`);
}

function padded(values: readonly string[], length: number): string[] {
  return Array.from({ length }, (_, i) => values[i] ?? '');
}

/** Quotes a field holding the delimiter, a quote, a line break, or edge blanks (kept by quoting). */
export function quoteField(field: string, delimiter: CsvDelimiter): string {
  const needs = field.includes(delimiter) || /["\r\n]/.test(field) || field !== field.trim();
  return needs ? `"${field.replace(/"/g, '""')}"` : field;
}
