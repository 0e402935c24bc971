// A strict DOM-only consumer of `contact-psi/browser` (lib: ES2022 + DOM, no Node types,
// skipLibCheck off), type-checked by test/package-consumer.test.ts against the packed tarball.
import {
  IndexedDbSyncCache,
  MemorySyncCache,
  loadGroup,
  parseAddressBook,
  setGroupLogger,
  syncAddressBook,
  type BrowserSyncOutcome,
  type SyncCache,
} from 'contact-psi/browser';

export async function findRegistered(file: File, server: string, persistent: boolean): Promise<string[]> {
  setGroupLogger({ warn: (message: string) => console.warn(message) });
  const group = await loadGroup('ristretto255');
  const cache: SyncCache = persistent ? await IndexedDbSyncCache.open({ name: 'my-app' }) : new MemorySyncCache();
  const book = parseAddressBook(await file.text(), { format: file.name.endsWith('.csv') ? 'csv' : 'vcard' });
  const outcome: BrowserSyncOutcome = await syncAddressBook({ server, book, cache });
  const names = outcome.matches.map((m) => `${m.name} (${new TextDecoder().decode(m.label)})`);
  document.title = `${names.length} registered (${group.backend})`;
  return names;
}
