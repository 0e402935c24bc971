/**
 * vCard writer (3.0 or 4.0), for tests, the demo and exports: CRLF line ends, text
 * escaping, and folding at 75 octets without splitting a UTF-8 sequence (RFC 6350 §3.2).
 */
import type { ContactDraft } from './draft.js';

export type VcardVersion = '3.0' | '4.0';

export interface VcardWriteOptions {
  /** Default 3.0, which every importer reads. */
  version?: VcardVersion;
}

/** RFC 6350 §3.2: lines SHOULD NOT be longer than 75 octets, excluding the line break. */
export const VCARD_LINE_OCTETS = 75;

const E164 = /^\+[1-9][0-9]{1,14}$/;
const utf8 = new TextEncoder();

export function toVcard(contacts: readonly ContactDraft[], options: VcardWriteOptions = {}): string {
  const version = options.version ?? '3.0';
  const lines: string[] = [];
  for (const contact of contacts) {
    lines.push('BEGIN:VCARD', `VERSION:${version}`, `FN:${escapeText(contact.name)}`);
    // N is required in 3.0; the whole name goes into the family-name component.
    if (version === '3.0') lines.push(`N:${escapeText(contact.name)};;;;`);
    for (const phone of contact.phones ?? []) {
      if (version === '3.0') lines.push(`TEL;TYPE=CELL:${escapeText(phone)}`);
      // A tel: URI needs a global number; anything else is written as text (RFC 6350 §6.4.1).
      else if (E164.test(phone)) lines.push(`TEL;VALUE=uri;TYPE=cell:tel:${phone}`);
      else lines.push(`TEL;VALUE=text;TYPE=cell:${escapeText(phone)}`);
    }
    for (const email of contact.emails ?? []) {
      lines.push(version === '3.0' ? `EMAIL;TYPE=INTERNET:${escapeText(email)}` : `EMAIL:${escapeText(email)}`);
    }
    lines.push('END:VCARD');
  }
  return lines.map(foldLine).join('\r\n') + (lines.length > 0 ? '\r\n' : '');
}

/** RFC 6350 §3.4 text escaping; every kind of line break becomes `\n`. */
export function escapeText(value: string): string {
  return value.replace(/\r\n|[\r\n\\,;]/g, (m) => (m === '\\' || m === ',' || m === ';' ? `\\${m}` : '\\n'));
}

/** Folds a line into pieces of at most 75 octets; continuation lines start with a space. */
export function foldLine(line: string): string {
  if (utf8.encode(line).length <= VCARD_LINE_OCTETS) return line;
  const pieces: string[] = [];
  let current = '';
  let octets = 0;
  let budget = VCARD_LINE_OCTETS;
  for (const ch of line) {
    const size = utf8.encode(ch).length;
    if (octets + size > budget) {
      pieces.push(current);
      current = '';
      octets = 0;
      budget = VCARD_LINE_OCTETS - 1; // the leading space counts
    }
    current += ch;
    octets += size;
  }
  pieces.push(current);
  return pieces.join('\r\n ');
}
