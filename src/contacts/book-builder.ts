/**
 * Shared by the vCard and CSV importers: turns an entry's raw values into identifiers,
 * reports what does not normalize, and enforces the entry and value limits.
 */
import { ContactPsiError } from '../errors.js';
import { normalizeEmail } from './email.js';
import { toIdentifier, type IdentifierKind } from './identifier.js';
import type { ResolvedImportOptions } from './limits.js';
import type { AddressBook, ContactEntry, ContactIdentifier, InvalidEntry } from './model.js';
import { normalizePhone } from './phone.js';
import { phoneVariants } from './phone-variants.js';

export interface RawValue {
  readonly kind: IdentifierKind;
  readonly raw: string;
  readonly line?: number;
}

export interface EntryProblem {
  readonly code: string;
  readonly reason: string;
  readonly raw: string;
  readonly line?: number;
}

/** Raw values echoed in InvalidEntry are cut, so a megabyte of garbage is not kept twice. */
export const MAX_REPORTED_RAW = 256;

export class AddressBookBuilder {
  private readonly contacts: ContactEntry[] = [];
  private readonly invalid: InvalidEntry[] = [];
  private values = 0;

  constructor(private readonly options: ResolvedImportOptions) {}

  /** Throws `too_large` as soon as one more entry would pass `maxContacts`. */
  checkRoomForEntry(): void {
    if (this.contacts.length >= this.options.maxContacts) {
      throw new ContactPsiError('too_large', `more than maxContacts ${this.options.maxContacts} entries`);
    }
  }

  addEntry(name: string, values: readonly RawValue[], problems: readonly EntryProblem[] = []): ContactEntry {
    this.checkRoomForEntry();
    const index = this.contacts.length;
    const trimmedName = name.trim();
    for (const problem of problems) {
      this.invalid.push(withLine({ contactIndex: index, name: trimmedName, raw: cut(problem.raw), kind: 'entry', code: problem.code, reason: problem.reason }, problem.line));
    }
    const identifiers: ContactIdentifier[] = [];
    const seen = new Set<string>();
    for (const value of values) {
      // Blank cells and empty TEL: lines are layout, not data.
      if (value.raw.trim() === '') continue;
      if (++this.values > this.options.maxValues) {
        throw new ContactPsiError('too_large', `more than maxValues ${this.options.maxValues} phone and e-mail values`);
      }
      const result = normalizeValue(value, this.options);
      if (!result.ok) {
        this.invalid.push(withLine({ contactIndex: index, name: trimmedName, raw: cut(value.raw), kind: value.kind, code: result.code, reason: result.reason }, value.line));
        continue;
      }
      const identifier = toIdentifier(value.kind, result.value);
      if (seen.has(identifier)) continue;
      seen.add(identifier);
      identifiers.push({ kind: value.kind, raw: value.raw, identifier });
      // The alternative forms of an ambiguous number are checked too; one written in
      // several forms in the same entry is still one identifier (the Set above).
      if (value.kind === 'tel') {
        for (const variant of phoneVariants(result.value)) {
          const alternative = toIdentifier('tel', variant);
          if (seen.has(alternative)) continue;
          seen.add(alternative);
          identifiers.push({ kind: 'tel', raw: value.raw, identifier: alternative, variantOf: identifier });
        }
      }
    }
    const entry: ContactEntry = { index, name: trimmedName, identifiers };
    this.contacts.push(entry);
    return entry;
  }

  build(): AddressBook {
    return { contacts: this.contacts, invalid: this.invalid };
  }
}

function normalizeValue(
  value: RawValue,
  options: ResolvedImportOptions,
): { ok: true; value: string } | { ok: false; code: string; reason: string } {
  if (value.kind === 'tel') {
    const r = normalizePhone(value.raw, options.defaultRegion);
    return r.ok ? { ok: true, value: r.e164 } : r;
  }
  const r = normalizeEmail(value.raw);
  return r.ok ? { ok: true, value: r.email } : r;
}

function withLine(entry: InvalidEntry, line: number | undefined): InvalidEntry {
  return line === undefined ? entry : { ...entry, line };
}

function cut(raw: string): string {
  if (raw.length <= MAX_REPORTED_RAW) return raw;
  // Do not end on the first half of a surrogate pair.
  const end = /[\ud800-\udbff]/.test(raw[MAX_REPORTED_RAW - 1]!) ? MAX_REPORTED_RAW - 1 : MAX_REPORTED_RAW;
  return `${raw.slice(0, end)}…`;
}
