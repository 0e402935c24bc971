/**
 * vCard import (RFC 2426 vCard 3.0, RFC 6350 vCard 4.0, and the common vCard 2.1 forms
 * phones still export). Only FN, N, ORG, TEL, EMAIL and VERSION are read; every other
 * property is skipped. Malformed input never throws: values that do not normalize and
 * cards without END:VCARD are reported in `invalid`. Only the limits throw (`too_large`).
 */
import { AddressBookBuilder, type EntryProblem, type RawValue } from './book-builder.js';
import { resolveImport, type ImportOptions } from './limits.js';
import type { AddressBook } from './model.js';
import { parseContentLine, unfoldLines, type ContentLine } from './vcard-lines.js';
import { decodeQuotedPrintable, splitUnescaped, unescapeText } from './vcard-text.js';

interface CardState {
  readonly line: number;
  version: string;
  readonly names: Map<'FN' | 'N' | 'ORG', ContentLine>;
  readonly values: { prop: ContentLine; line: number }[];
}

export function parseVcard(text: string, options: ImportOptions = {}): AddressBook {
  const resolved = resolveImport(text, options);
  const builder = new AddressBookBuilder(resolved);
  let card: CardState | undefined;
  for (const { text: lineText, line } of unfoldLines(stripBom(text))) {
    const prop = parseContentLine(lineText);
    if (prop === undefined) continue; // blank, or a 2.1 base64 continuation line
    if (prop.name === 'BEGIN' && isVcard(prop.value)) {
      if (card !== undefined) finishCard(builder, card, true);
      builder.checkRoomForEntry();
      card = { line, version: '3.0', names: new Map(), values: [] };
    } else if (prop.name === 'END' && isVcard(prop.value)) {
      if (card !== undefined) finishCard(builder, card, false);
      card = undefined;
    } else if (card !== undefined) {
      collect(card, prop, line);
    }
  }
  if (card !== undefined) finishCard(builder, card, true);
  return builder.build();
}

function collect(card: CardState, prop: ContentLine, line: number): void {
  switch (prop.name) {
    case 'VERSION':
      card.version = prop.value.trim();
      break;
    case 'FN':
    case 'N':
    case 'ORG':
      // The first non-empty one wins; a second FN is an alternative-language form.
      if (!card.names.has(prop.name) && prop.value.trim() !== '') card.names.set(prop.name, prop);
      break;
    case 'TEL':
    case 'EMAIL':
      card.values.push({ prop, line });
      break;
    default:
      break;
  }
}

function finishCard(builder: AddressBookBuilder, card: CardState, unterminated: boolean): void {
  const problems: EntryProblem[] = unterminated
    ? [{ code: 'vcard_unterminated', reason: 'BEGIN:VCARD without END:VCARD', raw: 'BEGIN:VCARD', line: card.line }]
    : [];
  const values: RawValue[] = card.values.map(({ prop, line }) => ({
    kind: prop.name === 'TEL' ? 'tel' : 'mailto',
    raw: isUri(prop) ? decoded(prop).trim() : textValue(prop, card.version).trim(),
    line,
  }));
  builder.addEntry(cardName(card), values, problems);
}

/** FN, else N assembled as "prefix given additional family suffix", else ORG's first part. */
function cardName(card: CardState): string {
  const fn = card.names.get('FN');
  if (fn !== undefined) return textValue(fn, card.version);
  const n = card.names.get('N');
  if (n !== undefined) {
    const parts = structured(n, card.version);
    const order = [3, 1, 2, 0, 4].map((i) => parts[i] ?? '');
    const name = order.filter((p) => p.trim() !== '').join(' ');
    if (name.trim() !== '') return name;
  }
  const org = card.names.get('ORG');
  if (org !== undefined) return structured(org, card.version)[0] ?? '';
  return '';
}

function structured(prop: ContentLine, version: string): string[] {
  return splitUnescaped(decoded(prop), ';').map((component) =>
    splitUnescaped(component, ',')
      .map((part) => unescapeFor(part, version).trim())
      .filter((part) => part !== '')
      .join(' '),
  );
}

function textValue(prop: ContentLine, version: string): string {
  return unescapeFor(decoded(prop), version);
}

/** vCard 2.1 has no backslash escapes except `\;`; 3.0 and 4.0 have the full set. */
function unescapeFor(value: string, version: string): string {
  return version === '2.1' ? value.replace(/\\;/g, ';') : unescapeText(value);
}

function decoded(prop: ContentLine): string {
  const encoding = prop.params.get('ENCODING') ?? [];
  if (!encoding.some((e) => e.toUpperCase() === 'QUOTED-PRINTABLE')) return prop.value;
  return decodeQuotedPrintable(prop.value, prop.params.get('CHARSET')?.[0]);
}

/** vCard 4.0 `TEL;VALUE=uri:tel:+1-...`: a URI value, so no text unescaping. */
function isUri(prop: ContentLine): boolean {
  return (prop.params.get('VALUE') ?? []).some((v) => v.toLowerCase() === 'uri');
}

function isVcard(value: string): boolean {
  return value.trim().toUpperCase() === 'VCARD';
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
