/**
 * Contacts CSV import: finds the header row, then turns each data row into an entry.
 * Malformed rows are reported, not thrown; only a missing header (`csv_no_header`) and the
 * limits (`too_large`) throw, because then there is nothing sensible to import.
 */
import { ContactPsiError } from '../errors.js';
import { AddressBookBuilder, type EntryProblem, type RawValue } from './book-builder.js';
import { classifyHeader, type ColumnRole } from './csv-header.js';
import { detectDelimiter, parseCsvRecords, type CsvRecord } from './csv-records.js';
import { resolveImport, type ImportOptions } from './limits.js';
import type { AddressBook } from './model.js';

/** Title lines some exports put above the header; past these, the file has no header. */
export const MAX_HEADER_SEARCH_ROWS = 5;

/**
 * Several values in one cell: Google Contacts joins them with ` ::: `, other tools with `;`
 * or a line break inside the quoted cell.
 */
const VALUE_SEPARATOR = /\s*:::\s*|[;\r\n]/;

export function parseContactsCsv(text: string, options: ImportOptions = {}): AddressBook {
  const resolved = resolveImport(text, options);
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const delimiter = detectDelimiter(body);
  const records = parseCsvRecords(body, delimiter);

  let roles: (ColumnRole | undefined)[] | undefined;
  let first = 0;
  let looked = 0;
  for (; first < records.length && looked < MAX_HEADER_SEARCH_ROWS; first++) {
    if (isBlank(records[first]!)) continue;
    looked++;
    roles = classifyHeader(records[first]!.fields);
    if (roles !== undefined) break;
  }
  if (roles === undefined) {
    throw new ContactPsiError('csv_no_header', 'no header row with a phone or e-mail column in the first rows');
  }

  const builder = new AddressBookBuilder(resolved);
  for (let r = first + 1; r < records.length; r++) {
    const record = records[r]!;
    if (isBlank(record)) continue;
    const problems: EntryProblem[] = record.unterminated
      ? [{ code: 'csv_unterminated_quote', reason: 'quoted field not closed before the end of the input', raw: record.fields.join(delimiter), line: record.line }]
      : [];
    builder.addEntry(rowName(record.fields, roles), rowValues(record, roles), problems);
  }
  return builder.build();
}

/** A full-name column, else first + middle + last, else the organization. */
function rowName(fields: readonly string[], roles: readonly (ColumnRole | undefined)[]): string {
  const cells = (role: ColumnRole) =>
    fields.map((f, i) => (roles[i] === role ? f.trim() : '')).filter((f) => f !== '');
  const full = cells('name')[0];
  if (full !== undefined) return full;
  const parts = [...cells('first'), ...cells('middle'), ...cells('last')];
  if (parts.length > 0) return parts.join(' ');
  return cells('org')[0] ?? '';
}

function rowValues(record: CsvRecord, roles: readonly (ColumnRole | undefined)[]): RawValue[] {
  const values: RawValue[] = [];
  record.fields.forEach((cell, i) => {
    const role = roles[i];
    if (role !== 'tel' && role !== 'mailto') return;
    for (const raw of cell.split(VALUE_SEPARATOR)) {
      if (raw.trim() !== '') values.push({ kind: role, raw: raw.trim(), line: record.line });
    }
  });
  return values;
}

function isBlank(record: CsvRecord): boolean {
  return record.fields.every((f) => f.trim() === '');
}
