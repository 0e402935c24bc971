/**
 * The stderr line for a directory row `directory import` rejected. The user id and the
 * reason quote the file, which may come from anyone: escaped, so a crafted row cannot move
 * the cursor, rewrite earlier lines or forge an "imported" line (terminal-text.ts).
 */
import type { DirectoryImportError } from '../directory/import-file.js';
import { escapeControlChars } from './terminal-text.js';

export function rejectedRowLine(file: string, e: DirectoryImportError): string {
  return escapeControlChars(`${file}: row ${e.row}${e.userId ? ` (${e.userId})` : ''}: [${e.code}] ${e.reason}`);
}

/** The stderr line `--log-batches` prints per committed batch: counts only, nothing from the file. */
export function batchLine(p: { batches: number; rows: number; tagsComputed: number }): string {
  return `import: batch ${p.batches} committed (${p.rows} records read, ${p.tagsComputed} tags computed by this run)`;
}
