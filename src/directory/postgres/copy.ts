/**
 * COPY in PostgreSQL's text format (https://www.postgresql.org/docs/current/sql-copy.html,
 * "Text Format"): the bulk path for imports and tag fills, one round trip for any number of
 * rows instead of one statement per row or megabyte-sized parameter arrays.
 */
import { once } from 'node:events';
import type { PoolClient } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';

export type CopyValue = string | number | boolean | Uint8Array | null;

/** Rows are flushed to the socket in pieces of about this many characters. */
const FLUSH_CHARS = 1 << 20;

/** Text-format escaping: backslash, and the characters that delimit columns and rows. */
function escapeText(value: string): string {
  return value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

function field(value: CopyValue): string {
  if (value === null) return '\\N';
  if (value instanceof Uint8Array) {
    // bytea hex input is "\x0a1b...": the backslash itself is escaped in the text format.
    return `\\\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
  }
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (typeof value === 'number') return String(value);
  return escapeText(value);
}

/** COPY `rows` into `table (columns)` on `client` (inside the caller's transaction, if any). */
export async function copyRows(client: PoolClient, table: string, columns: readonly string[], rows: Iterable<readonly CopyValue[]>): Promise<void> {
  const stream = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
  const finished = once(stream, 'finish');
  // An error from the server arrives as an 'error' event; once() rejects on it.
  let chunk = '';
  for (const row of rows) {
    chunk += `${row.map(field).join('\t')}\n`;
    if (chunk.length >= FLUSH_CHARS) {
      if (!stream.write(chunk)) await once(stream, 'drain');
      chunk = '';
    }
  }
  stream.end(chunk);
  await finished;
}

/**
 * Runs `COPY (<select>) TO STDOUT` whose single column is bytea, and hands each value to
 * `onValue` as it streams in, so a 10-million-row read never holds the rows as objects.
 */
export async function copyOutBytea(client: PoolClient, select: string, onValue: (value: Uint8Array) => void): Promise<void> {
  const stream = client.query(copyTo(`COPY (${select}) TO STDOUT`));
  let rest = '';
  const take = (line: string) => {
    // Each line is "\\x<hex>" (the backslash escaped once more by the text format).
    if (!line.startsWith('\\\\x')) throw new Error(`unexpected COPY value ${line.slice(0, 16)}`);
    onValue(new Uint8Array(Buffer.from(line.slice(3), 'hex')));
  };
  stream.setEncoding('latin1');
  for await (const piece of stream as AsyncIterable<string>) {
    const text = rest + piece;
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      take(text.slice(start, nl));
      start = nl + 1;
    }
    rest = text.slice(start);
  }
  if (rest.length > 0) take(rest);
}
