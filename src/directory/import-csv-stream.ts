/**
 * RFC 4180 records from a text that arrives in pieces (a file read in chunks), with exactly
 * the records parseCsvRecords (contacts/csv-records.ts) gives for the whole text: the same
 * fields, line numbers and `unterminated` flags, whatever the cut points
 * (test/directory-import-stream.test.ts checks it for random texts and cuts). A record is
 * handed out only once the text holds its end: a line break (a lone CR only when the next
 * character is known), or the end of the input once `final` is set. That is what lets the
 * import read a 10-million-user file in bounded memory and resume at a record boundary.
 */
import type { CsvDelimiter, CsvRecord } from '../contacts/csv-records.js';

export interface CsvChunkResult {
  /** The complete records at the start of `text`, in order. */
  readonly records: CsvRecord[];
  /** UTF-16 units of `text` they span (the rest starts the next record: keep it for the next chunk). */
  readonly consumed: number;
  /** The line the next record starts on. */
  readonly nextLine: number;
}

/**
 * Complete records of `text`, whose first record starts on line `line`. With `final` the
 * text ends the input: every remaining character belongs to a record, as in parseCsvRecords.
 * At most `limit` records are returned (`consumed` ends after the last of them).
 */
export function parseCsvChunk(text: string, delimiter: CsvDelimiter, line: number, final: boolean, limit = Infinity): CsvChunkResult {
  const records: CsvRecord[] = [];
  const n = text.length;
  let i = 0;
  while (i < n && records.length < limit) {
    const start = line;
    let at = i;
    let lines = 0;
    const fields: string[] = [];
    let unterminated = false;
    // Set when the record reaches the end of the text before its own end is known.
    let cut = false;
    for (;;) {
      let value = '';
      let k = at;
      while (text[k] === ' ' || (text[k] === '\t' && delimiter !== '\t')) k++;
      if (text[k] === '"') at = k;
      if (text[at] === '"') {
        at++;
        for (;;) {
          const q = text.indexOf('"', at);
          if (q < 0) {
            value += text.slice(at);
            lines += lineBreaks(text, at, n);
            at = n;
            unterminated = true;
            cut = true;
            break;
          }
          value += text.slice(at, q);
          lines += lineBreaks(text, at, q);
          if (q + 1 === n) cut = true; // `""` may continue in the next chunk
          if (text[q + 1] === '"') {
            value += '"';
            at = q + 2;
          } else {
            at = q + 1;
            break;
          }
        }
      }
      let j = at;
      while (j < n) {
        const ch = text[j];
        if (ch === delimiter || ch === '\n' || ch === '\r') break;
        j++;
      }
      value += text.slice(at, j);
      at = j;
      fields.push(value);
      if (at < n && text[at] === delimiter) {
        at++;
        if (at < n) continue;
        cut = true;
        fields.push('');
      }
      break;
    }
    if (at >= n) cut = true; // no line break seen: more fields or text may follow
    if (text[at] === '\r') {
      if (at + 1 === n) cut = true; // CR at the cut: a CRLF's LF may follow
      at++;
    }
    if (text[at] === '\n') at++;
    if (cut && !final) break;
    line = start + lines + 1;
    records.push({ fields, line: start, unterminated });
    i = at;
  }
  return { records, consumed: i, nextLine: line };
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
