/**
 * Directory CSV: the exact header `user_id,phones,emails,label,discoverable`, RFC 4180
 * quoting (the contacts CSV reader), several phones or e-mails in one cell separated by
 * `;`, `discoverable` `true`/`false` (empty: true). A wrong header is refused outright:
 * columns in another order would silently swap phones and labels.
 */
import { ContactPsiError } from '../errors.js';
import { parseCsvRecords } from '../contacts/csv-records.js';
import { RowCollector, splitList, type SourceRecord } from './import-rows.js';

export const DIRECTORY_CSV_HEADER = ['user_id', 'phones', 'emails', 'label', 'discoverable'] as const;

export function collectCsv(text: string, collector: RowCollector, maxUsers: number): void {
  const records = parseCsvRecords(text.startsWith('\uFEFF') ? text.slice(1) : text, ',');
  const header = records[0];
  if (header === undefined || header.fields.length !== DIRECTORY_CSV_HEADER.length || header.fields.some((f, i) => f !== DIRECTORY_CSV_HEADER[i])) {
    throw new ContactPsiError('invalid_header', `a directory CSV starts with the header ${DIRECTORY_CSV_HEADER.join(',')}`);
  }
  let dataRows = 0;
  for (let r = 1; r < records.length; r++) {
    const { fields, line, unterminated } = records[r];
    const record = csvRecord(fields, r + 1, line, unterminated);
    if (record.kind === 'blank') continue; // a blank line is not a row
    if (++dataRows > maxUsers) throw new ContactPsiError('too_large', `more than ${maxUsers} users`);
    if (record.kind === 'reject') collector.reject(record.row, record.line, record.userId, record.code, record.reason);
    else collector.add(record.raw);
  }
}

/** One record of a directory CSV (header excluded) as the row checks take it: the one reading of the columns both import paths use. */
export function csvRecord(fields: string[], row: number, line: number, unterminated: boolean): SourceRecord {
  if (fields.length === 1 && fields[0].trim() === '') return { kind: 'blank', row };
  const userId = fields[0]?.trim();
  if (unterminated) return { kind: 'reject', row, line, userId, code: 'unterminated_quote', reason: 'a quoted field is not closed before the end of the file' };
  if (fields.length !== DIRECTORY_CSV_HEADER.length) {
    return { kind: 'reject', row, line, userId, code: 'bad_field_count', reason: `${fields.length} fields, ${DIRECTORY_CSV_HEADER.length} expected` };
  }
  const [id, phones, emails, label, discoverableText] = fields;
  const flag = discoverableText.trim();
  if (flag !== '' && flag !== 'true' && flag !== 'false') {
    return { kind: 'reject', row, line, userId, code: 'bad_discoverable', reason: `discoverable must be true or false, not ${JSON.stringify(flag.slice(0, 16))}` };
  }
  return {
    kind: 'row',
    raw: { row, line, userId: id, phones: splitList(phones), emails: splitList(emails), label: label === '' ? undefined : label, discoverable: flag === '' ? undefined : flag === 'true' },
  };
}
