/**
 * A directory file read record by record, in bounded memory (CSV: chunks of CHUNK_BYTES),
 * from any position a previous run committed (import-stage.ts keeps it), so an import of
 * 10 million users holds one batch at a time and resumes after a kill where it stopped.
 * JSON is parsed whole (JSON.parse has no streaming form; a JSON file of millions of users
 * is better converted to CSV) and resumed by skipping the rows already staged.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { ContactPsiError } from '../errors.js';
import { parseCsvChunk } from './import-csv-stream.js';
import { csvRecord, DIRECTORY_CSV_HEADER } from './import-csv.js';
import { jsonRecord, jsonRows } from './import-json.js';
import type { SourceRecord } from './import-rows.js';

/** Bytes read at a time: the text held is at most this plus one unfinished record. */
export const CHUNK_BYTES = 1 << 20;

/** Where the next record starts. */
export interface SourcePosition {
  /** Byte offset in the file (meaningful only when `exact`). */
  readonly offset: number;
  /** Records read so far, the header included (the next record is row `row + 1`). */
  readonly row: number;
  /** The line the next record starts on (CSV). */
  readonly line: number;
  /**
   * True when `offset` is the byte offset of the next record. False after text that was not
   * valid UTF-8 (a replaced sequence has no known byte length) and for JSON: a resume then
   * reads from the start and skips `row` records.
   */
  readonly exact: boolean;
}

export const START: SourcePosition = { offset: 0, row: 0, line: 1, exact: true };

export type { SourceRecord };

export interface DirectorySource {
  readonly format: 'csv' | 'json';
  /** Data rows in the whole file when known before reading them (JSON), else undefined. */
  readonly rows?: number;
  /** Up to `limit` records (fewer only at the end of the file) and the position after them. */
  next(limit: number): Promise<{ records: SourceRecord[]; position: SourcePosition }>;
  close(): void;
}

/** SHA-256 of the file's bytes and its size: what a stage is keyed by (a changed file is imported afresh). */
export function fileIdentity(path: string): { digest: string; size: number } {
  const fd = openSync(path, 'r');
  try {
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    let size = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      size += n;
    }
    return { digest: hash.digest('hex'), size };
  } finally {
    closeSync(fd);
  }
}

/** 'json' when the first non-blank character (after a BOM) is `[` or `{`, else 'csv' (import-file.ts detectDirectoryFormat). */
export function detectFileFormat(path: string): 'csv' | 'json' {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(4096);
    let text = '';
    for (let at = 0; ; ) {
      const n = readSync(fd, buf, 0, buf.length, at);
      if (n === 0) return 'csv';
      at += n;
      text = (text + buf.subarray(0, n).toString('latin1')).replace(/^\xEF\xBB\xBF/, '').trimStart();
      if (text !== '') return text[0] === '[' || text[0] === '{' ? 'json' : 'csv';
    }
  } finally {
    closeSync(fd);
  }
}

export function openDirectorySource(path: string, format: 'csv' | 'json', from: SourcePosition): Promise<DirectorySource> {
  return format === 'json' ? JsonSource.open(path, from) : CsvSource.open(path, from);
}

const headerError = () => new ContactPsiError('invalid_header', `a directory CSV starts with the header ${DIRECTORY_CSV_HEADER.join(',')}`);

class CsvSource implements DirectorySource {
  readonly format = 'csv' as const;
  readonly #fd: number;
  readonly #buf = Buffer.allocUnsafe(CHUNK_BYTES);
  #decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  #text = '';
  #eof = false;
  /** File offset of the next byte to read. */
  #readAt: number;
  #position: SourcePosition;
  /** Records still to skip (an inexact resume). */
  #skip = 0;

  private constructor(fd: number, from: SourcePosition) {
    this.#fd = fd;
    this.#readAt = from.exact ? from.offset : 0;
    this.#position = from.exact ? from : START;
    if (!from.exact) this.#skip = from.row;
  }

  static async open(path: string, from: SourcePosition): Promise<CsvSource> {
    const source = new CsvSource(openSync(path, 'r'), from);
    try {
      if (source.#position.row === 0) await source.#readHeader();
      while (source.#skip > 0) {
        const { records } = await source.next(Math.min(source.#skip, 65_536));
        if (records.length === 0) break;
      }
    } catch (err) {
      source.close();
      throw err;
    }
    return source;
  }

  async next(limit: number): Promise<{ records: SourceRecord[]; position: SourcePosition }> {
    const out: SourceRecord[] = [];
    while (out.length < limit) {
      const { records, consumed, nextLine } = parseCsvChunk(this.#text, ',', this.#position.line, this.#eof, limit - out.length);
      if (records.length > 0) {
        this.#advance(consumed, records.length, nextLine);
        for (let k = 0; k < records.length; k++) {
          const row = this.#position.row - records.length + k + 1;
          if (this.#skip > 0) {
            this.#skip--;
            continue;
          }
          out.push(csvRecord(records[k].fields, row, records[k].line, records[k].unterminated));
        }
        continue;
      }
      if (this.#eof) break;
      this.#fill();
    }
    return { records: out, position: this.#position };
  }

  close(): void {
    try {
      closeSync(this.#fd);
    } catch {
      // already closed
    }
  }

  async #readHeader(): Promise<void> {
    // The header record: read until it is complete (or the file ends).
    let bomChecked = false;
    for (;;) {
      if (!bomChecked && (this.#text.length > 0 || this.#eof)) {
        bomChecked = true;
        if (this.#text.startsWith('\uFEFF')) {
          // As collectCsv: a BOM is not part of the header (3 bytes in UTF-8).
          this.#text = this.#text.slice(1);
          this.#position = { ...this.#position, offset: this.#position.offset + 3 };
        }
      }
      const { records, consumed, nextLine } = parseCsvChunk(this.#text, ',', 1, this.#eof, 1);
      if (records.length === 1) {
        const { fields } = records[0];
        if (fields.length !== DIRECTORY_CSV_HEADER.length || fields.some((f, i) => f !== DIRECTORY_CSV_HEADER[i])) throw headerError();
        this.#advance(consumed, 1, nextLine);
        return;
      }
      if (this.#eof) throw headerError();
      this.#fill();
    }
  }

  #fill(): void {
    const n = readSync(this.#fd, this.#buf, 0, this.#buf.length, this.#readAt);
    this.#readAt += n;
    if (n === 0) {
      this.#eof = true;
      this.#text += this.#decoder.decode();
    } else {
      this.#text += this.#decoder.decode(this.#buf.subarray(0, n), { stream: true });
    }
  }

  #advance(consumed: number, count: number, nextLine: number): void {
    const taken = this.#text.slice(0, consumed);
    this.#text = this.#text.slice(consumed);
    const p = this.#position;
    // U+FFFD may stand for 1 to 3 bytes of invalid UTF-8: from there on the offset is not trusted.
    const exact = p.exact && !taken.includes('\uFFFD');
    this.#position = { offset: p.offset + Buffer.byteLength(taken, 'utf8'), row: p.row + count, line: nextLine, exact };
  }
}

class JsonSource implements DirectorySource {
  readonly format = 'json' as const;
  #rows: unknown[];
  #at: number;

  private constructor(rows: unknown[], at: number) {
    this.#rows = rows;
    this.#at = at;
  }

  static async open(path: string, from: SourcePosition): Promise<JsonSource> {
    return new JsonSource(jsonRows(readFileSync(path, 'utf8')), from.row);
  }

  /** The number of rows, known up front: maxUsers is checked before any row (as collectJson does). */
  get rows(): number {
    return this.#rows.length;
  }

  async next(limit: number): Promise<{ records: SourceRecord[]; position: SourcePosition }> {
    const end = Math.min(this.#rows.length, this.#at + limit);
    const records: SourceRecord[] = [];
    for (; this.#at < end; this.#at++) records.push(jsonRecord(this.#rows[this.#at], this.#at + 1));
    return { records, position: { offset: 0, row: this.#at, line: 1, exact: false } };
  }

  close(): void {
    this.#rows = [];
  }
}
