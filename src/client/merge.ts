/**
 * The SDK's result: directory matches (per identifier, from the transport) folded onto
 * address-book entries, then manual links applied. A manual link replaces every directory
 * match of its contact: the user's own choice wins over the directory.
 */
import { contactsByIdentifier, type AddressBook, type ContactEntry } from '../contacts/index.js';
import type { ContactKeyFn } from './contact-key.js';
import type { ManualLink } from './links.js';

/** What the SDK reads from a transport's match (SyncOutcome.matches). */
export interface DirectoryMatch {
  name: string;
  identifier: string;
  userId: string;
  label: string;
}

export interface DiscoveredContact {
  contactKey: string;
  name: string;
  userId: string;
  source: 'directory' | 'manual';
  /** Identifiers of the entry the directory matched to this user (empty for a manual link). */
  identifiers: string[];
  /** The directory's label (e.g. a public key); absent for a manual link. */
  label?: string;
}

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * One row per (contact, userId) found by the directory, except for contacts with a manual
 * link, which get exactly one row, `source: 'manual'`. Links whose contact is not in `book`
 * are not shown (they stay stored: the contact may come back). Sorted by name, key, userId.
 */
export function mergeResults(book: AddressBook, matches: readonly DirectoryMatch[], links: readonly ManualLink[], keyOf: ContactKeyFn): DiscoveredContact[] {
  const linkOf = new Map(links.map((l) => [l.contactKey, l]));
  const rows = new Map<string, DiscoveredContact>();
  const keys = new Map<ContactEntry, string>();
  const keyFor = (c: ContactEntry): string => {
    let k = keys.get(c);
    if (k === undefined) keys.set(c, (k = keyOf(c)));
    return k;
  };

  const byIdentifier = contactsByIdentifier(book);
  for (const m of matches) {
    // The transport names the entry by name; entries sharing the identifier but not the name are someone else.
    for (const contact of byIdentifier.get(m.identifier) ?? []) {
      if (contact.name !== m.name) continue;
      const contactKey = keyFor(contact);
      if (linkOf.has(contactKey)) continue;
      const id = `${contactKey}\n${m.userId}`;
      const row = rows.get(id);
      if (row === undefined) rows.set(id, { contactKey, name: contact.name, userId: m.userId, source: 'directory', identifiers: [m.identifier], label: m.label });
      else if (!row.identifiers.includes(m.identifier)) row.identifiers.push(m.identifier);
    }
  }
  for (const contact of book.contacts) {
    const contactKey = keyFor(contact);
    const link = linkOf.get(contactKey);
    if (link !== undefined) rows.set(`${contactKey}\n`, { contactKey, name: contact.name, userId: link.userId, source: 'manual', identifiers: [] });
  }
  const out = [...rows.values()];
  for (const r of out) r.identifiers.sort(byCodePoint);
  return out.sort((a, b) => byCodePoint(a.name, b.name) || byCodePoint(a.contactKey, b.contactKey) || byCodePoint(a.userId, b.userId));
}
