/**
 * RFC 4180 records: fields separated by a delimiter, records by CRLF (LF and CR also
 * accepted); a field in double quotes may hold the delimiter, line breaks and doubled
 * quotes. Parsing is lenient where RFC 4180 is silent: a quote inside an unquoted field is
 * a plain character, blanks before an opening quote are dropped, text after a closing
 * quote is kept, and a quote left open at the end of the input ends the record, which is
 * flagged `unterminated`.
 */

export type CsvDelimiter = ',' | ';' | '\t';

export interface CsvRecord {
  readonly fields: string[];
  /** 1-based line where the record starts. */
  readonly line: number;
  readonly unterminated: boolean;
}

/**
 * The delimiter of the first non-blank line: whichever of `,` `;` TAB occurs most often
 * outside quotes (ties: comma). European spreadsheet exports use `;`.
 */
export function detectDelimiter(text: string): CsvDelimiter {
  const counts = { ',': 0, ';': 0, '\t': 0 };
  let inQuotes = false;
  let sawContent = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"') inQuotes = !inQuotes;
    else if (!inQuotes && (ch === '\n' || ch === '\r')) {
      if (sawContent) break;
    } else if (!inQuotes && (ch === ',' || ch === ';' || ch === '\t')) counts[ch]++;
    if (ch.trim() !== '') sawContent = true;
  }
  if (counts[';'] > counts[','] && counts[';'] >= counts['\t']) return ';';
  if (counts['\t'] > counts[','] && counts['\t'] > counts[';']) return '\t';
  return ',';
}

export function parseCsvRecords(text: string, delimiter: CsvDelimiter): CsvRecord[] {
  const records: CsvRecord[] = [];
  const n = text.length;
  let i = 0;
  let line = 1;
  while (i < n) {
    const start = line;
    const fields: string[] = [];
    let unterminated = false;
    for (;;) {
      let value = '';
      // `a, "b, c"`: blanks before an opening quote are common in hand-written files.
      let k = i;
      while (text[k] === ' ' || (text[k] === '\t' && delimiter !== '\t')) k++;
      if (text[k] === '"') i = k;
      if (text[i] === '"') {
        // Quoted field: copy runs between quotes; "" is one quote.
        i++;
        for (;;) {
          const q = text.indexOf('"', i);
          if (q < 0) {
            value += text.slice(i);
            line += lineBreaks(text, i, n);
            i = n;
            unterminated = true;
            break;
          }
          value += text.slice(i, q);
          line += lineBreaks(text, i, q);
          if (text[q + 1] === '"') {
            value += '"';
            i = q + 2;
          } else {
            i = q + 1;
            break;
          }
        }
      }
      // Unquoted field, or whatever follows a closing quote up to the delimiter.
      let j = i;
      while (j < n) {
        const ch = text[j];
        if (ch === delimiter || ch === '\n' || ch === '\r') break;
        j++;
      }
      value += text.slice(i, j);
      i = j;
      fields.push(value);
      if (i < n && text[i] === delimiter) {
        i++;
        if (i < n) continue;
        fields.push(''); // a trailing delimiter at the very end means one more empty field
      }
      break;
    }
    if (text[i] === '\r') i++;
    if (text[i] === '\n') i++;
    line++;
    records.push({ fields, line: start, unterminated });
  }
  return records;
}

function lineBreaks(text: string, from: number, to: number): number {
  let count = 0;
  for (let k = from; k < to; k++) {
    const c = text.charCodeAt(k);
    if (c === 0x0a) count++;
    else if (c === 0x0d && text.charCodeAt(k + 1) !== 0x0a) count++;
  }
  return count;
}
