/**
 * Directory CSV: the exact header `user_id,phones,emails,label,discoverable`, RFC 4180
 * quoting (the contacts CSV reader), several phones or e-mails in one cell separated by
 * `;`, `discoverable` `true`/`false` (empty: true). A wrong header is refused outright:
 * columns in another order would silently swap phones and labels.
 */
import { ContactPsiError } from '../errors.js';
import { parseCsvRecords } from '../contacts/csv-records.js';
import { RowCollector, splitList } from './import-rows.js';

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
    const row = r + 1;
    if (fields.length === 1 && fields[0].trim() === '') continue; // a blank line is not a row
    if (++dataRows > maxUsers) throw new ContactPsiError('too_large', `more than ${maxUsers} users`);
    const userId = fields[0]?.trim();
    if (unterminated) {
      collector.reject(row, line, userId, 'unterminated_quote', 'a quoted field is not closed before the end of the file');
      continue;
    }
    if (fields.length !== DIRECTORY_CSV_HEADER.length) {
      collector.reject(row, line, userId, 'bad_field_count', `${fields.length} fields, ${DIRECTORY_CSV_HEADER.length} expected`);
      continue;
    }
    const [id, phones, emails, label, discoverableText] = fields;
    const flag = discoverableText.trim();
    if (flag !== '' && flag !== 'true' && flag !== 'false') {
      collector.reject(row, line, userId, 'bad_discoverable', `discoverable must be true or false, not ${JSON.stringify(flag.slice(0, 16))}`);
      continue;
    }
    collector.add({
      row,
      line,
      userId: id,
      phones: splitList(phones),
      emails: splitList(emails),
      label: label === '' ? undefined : label,
      discoverable: flag === '' ? undefined : flag === 'true',
    });
  }
}
