/** Address books for the sync scenarios: a share of registered numbers among absent ones. */
import type { AddressBook, ContactEntry } from '../src/contacts/index.js';
import { absentIdentifier, registeredIdentifier } from './directory-fixture.js';

export function syntheticBook(contacts: number, directoryUsers: number, registeredShare: number, salt = 0): { book: AddressBook; registered: number } {
  const registered = Math.min(directoryUsers, Math.round(contacts * registeredShare));
  const step = Math.max(1, Math.floor(directoryUsers / Math.max(1, registered)));
  const entries: ContactEntry[] = [];
  for (let i = 0; i < contacts; i++) {
    const identifier = i < registered ? registeredIdentifier((i * step + salt) % directoryUsers) : absentIdentifier(i + salt * contacts);
    entries.push({ index: i, name: `Contact ${i}`, identifiers: [{ kind: 'tel', raw: identifier.slice(4), identifier }] });
  }
  return { book: { contacts: entries, invalid: [] }, registered };
}
