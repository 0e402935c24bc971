/**
 * The imported address book. Every identifier stays attached to the entry it came from,
 * so a match found by the protocol (an identifier) maps back to the people it belongs to.
 */
import type { IdentifierKind } from './identifier.js';

export interface ContactIdentifier {
  readonly kind: IdentifierKind;
  /** The value as it appeared in the import, e.g. `079 123 45 67`. */
  readonly raw: string;
  /** The canonical identifier, e.g. `tel:+41791234567` (see identifier.ts). */
  readonly identifier: string;
  /**
   * Set on an alternative form of another identifier of the same entry (phone-variants.ts:
   * an Argentine number written without its mobile 9, say): the identifier it stands for.
   */
  readonly variantOf?: string;
}

export interface ContactEntry {
  /** Position of the entry in the import (0-based): the nth vCard or the nth CSV data row. */
  readonly index: number;
  /** Display name, trimmed; empty when the entry has none. */
  readonly name: string;
  /** Distinct identifiers of the entry, in import order; may be empty. */
  readonly identifiers: readonly ContactIdentifier[];
}

/**
 * A value that could not be normalized (kind `tel` / `mailto`), or an entry that is itself
 * malformed (kind `entry`: an unterminated vCard, a CSV row with an open quote). Reported,
 * never silently dropped, so the user can be shown what was skipped.
 */
export interface InvalidEntry {
  /** `index` of the ContactEntry the value belongs to. */
  readonly contactIndex: number;
  readonly name: string;
  /** The offending value; cut to 256 characters plus "…" when longer. */
  readonly raw: string;
  readonly kind: IdentifierKind | 'entry';
  readonly code: string;
  readonly reason: string;
  /** 1-based line of the input where the value (or entry) starts. */
  readonly line?: number;
}

export interface AddressBook {
  readonly contacts: readonly ContactEntry[];
  readonly invalid: readonly InvalidEntry[];
}

/** All identifiers of the book, each once, in order of first appearance. */
export function uniqueIdentifiers(book: AddressBook): string[] {
  const seen = new Set<string>();
  for (const contact of book.contacts) {
    for (const id of contact.identifiers) seen.add(id.identifier);
  }
  return [...seen];
}

/** For each identifier, the entries that hold it (several people can share a number). */
export function contactsByIdentifier(book: AddressBook): Map<string, ContactEntry[]> {
  const map = new Map<string, ContactEntry[]>();
  for (const contact of book.contacts) {
    for (const id of contact.identifiers) {
      const list = map.get(id.identifier);
      if (list === undefined) map.set(id.identifier, [contact]);
      else if (list[list.length - 1] !== contact) list.push(contact);
    }
  }
  return map;
}
