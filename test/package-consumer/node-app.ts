// A strict Node consumer of the packed tarball (test/package-consumer.test.ts copies this
// file into a scratch app where only `contact-psi` and @types/node are installed): it must
// type-check with skipLibCheck off, and run a sync against a real server.
import { readFileSync } from 'node:fs';
import {
  ContactPsiError,
  MemoryStore,
  PsiServer,
  SqliteStore,
  parseAddressBook,
  setGroupLogger,
  startServer,
  syncAddressBook,
  type DirectoryStore,
  type SyncOptions,
  type SyncOutcome,
} from 'contact-psi';

// Server-side names a library user reaches for: they must resolve with their types.
const serverSide: [typeof startServer, typeof PsiServer, typeof SqliteStore, typeof MemoryStore] = [startServer, PsiServer, SqliteStore, MemoryStore];
const store: DirectoryStore | undefined = undefined;
void serverSide;
void store;

const [server, bookPath, cacheDir] = process.argv.slice(2);
if (!server || !bookPath || !cacheDir) throw new Error('usage: node-app <ws-url> <book.vcf> <cache-dir>');
const warnings: string[] = [];
setGroupLogger({ warn: (m: string) => warnings.push(m) });
const options: SyncOptions = {
  server,
  book: parseAddressBook(readFileSync(bookPath, 'utf8'), { defaultRegion: 'CH' }),
  cacheDir,
};
try {
  const outcome: SyncOutcome = await syncAddressBook(options);
  const rows = outcome.matches.map((m) => ({ identifier: m.identifier, userId: m.userId }));
  process.stdout.write(JSON.stringify({ rows, checked: outcome.identifiersChecked, warnings }));
} catch (err) {
  if (err instanceof ContactPsiError) console.error(`sync failed: ${err.code}: ${err.message}`);
  throw err;
}
