// examples/import-users.ts — add users to a SQLite directory (what `contact-psi directory import` does).
import { Directory, SqliteStore, loadGroup, createSuite, Modes } from 'contact-psi';

const db = process.env.DIRECTORY_DB ?? 'directory.db';
const suite = createSuite('ristretto255-SHA512', Modes.VOPRF, await loadGroup('ristretto255'));
const directory = await Directory.open({ store: SqliteStore.open(db), suite });
await directory.importUsers([
  { userId: 'u1', identifiers: ['tel:+41791234567', 'mailto:ada@example.org'], label: new TextEncoder().encode('public key of u1') },
]);
await directory.precompute(); // the server would do it at start; here the import pays for it
await directory.close();
