/** Opens the SQLite directory the server and the import command share. */
import { Directory, SqliteStore } from '../directory/index.js';
import { loadGroup, type BackendName } from '../group/index.js';
import { createSuite, Modes } from '../oprf/index.js';

export async function openDirectory(db: string, backend: BackendName = 'auto'): Promise<Directory> {
  const group = await loadGroup('ristretto255', backend);
  // Directory discovery is always verifiable: clients check a DLEQ proof per chunk.
  const suite = createSuite('ristretto255-SHA512', Modes.VOPRF, group);
  return Directory.open({ store: SqliteStore.open(db), suite });
}
