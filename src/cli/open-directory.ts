/** Opens the directory the server and the import command share, named by a store URL (SQLite path or postgres://). */
import { Directory, keyStorageFor, openStore, type DirectoryStore, type KeyStorage } from '../directory/index.js';
import { loadGroup, type BackendName } from '../group/index.js';
import type { OprfSuite } from '../oprf/suite.js';
import { createSuite, Modes } from '../oprf/index.js';
import { poolEvaluator, WorkerPool } from '../parallel/index.js';

export interface OpenedDirectory {
  directory: Directory;
  /** The worker pool precompute uses; close it after the directory. */
  pool: WorkerPool | undefined;
  /** Closes the directory and the pool. */
  close(): Promise<void>;
}

export interface StoreOpenOptions {
  /** The key-encryption key file of a PostgreSQL directory (default: CONTACT_PSI_KEK). */
  kekFile?: string;
}

/** The suite every directory uses: ristretto255 VOPRF (clients check a DLEQ proof per chunk). */
export async function directorySuite(backend: BackendName = 'auto'): Promise<OprfSuite> {
  const group = await loadGroup('ristretto255', backend);
  return createSuite('ristretto255-SHA512', Modes.VOPRF, group);
}

/** A worker pool for precompute and evaluations, or none (with a note) if worker threads cannot start. */
export function startWorkerPool(backend: BackendName = 'auto'): WorkerPool | undefined {
  try {
    return new WorkerPool({ backend });
  } catch (err) {
    console.error(`precompute runs on one thread: ${(err as Error).message}`);
    return undefined;
  }
}

/** The store of a URL and where its keys are (the key vault for PostgreSQL, the key file beside SQLite). */
export async function openStoreAndKeys(db: string, options: StoreOpenOptions = {}): Promise<{ store: DirectoryStore; keyStorage: KeyStorage | undefined }> {
  const store = await openStore(db);
  try {
    return { store, keyStorage: keyStorageFor(store, { file: options.kekFile }) };
  } catch (err) {
    await store.close();
    throw err;
  }
}

/**
 * The directory with a worker pool for precompute (tags are evaluated on every core); the
 * pool falls back to none if worker threads cannot start (e.g. the build is missing).
 */
export async function openDirectory(db: string, backend: BackendName = 'auto', usePool = true, options: StoreOpenOptions = {}): Promise<OpenedDirectory> {
  const suite = await directorySuite(backend);
  const { store, keyStorage } = await openStoreAndKeys(db, options);
  const pool = usePool ? startWorkerPool(backend) : undefined;
  let directory: Directory;
  try {
    directory = await Directory.open({ store, suite, keyStorage, evaluator: pool ? poolEvaluator(pool, suite) : undefined });
  } catch (err) {
    await store.close();
    await pool?.close();
    throw err;
  }
  return {
    directory,
    pool,
    async close() {
      await directory.close();
      await pool?.close();
    },
  };
}
