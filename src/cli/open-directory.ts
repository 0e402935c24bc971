/** Opens the SQLite directory the server and the import command share. */
import { Directory, SqliteStore } from '../directory/index.js';
import { loadGroup, type BackendName } from '../group/index.js';
import { createSuite, Modes } from '../oprf/index.js';
import { poolEvaluator, WorkerPool } from '../parallel/index.js';

export interface OpenedDirectory {
  directory: Directory;
  /** The worker pool precompute uses; close it after the directory. */
  pool: WorkerPool | undefined;
  /** Closes the directory and the pool. */
  close(): Promise<void>;
}

/**
 * The directory with a worker pool for precompute (tags are evaluated on every core); the
 * pool falls back to none if worker threads cannot start (e.g. the build is missing).
 */
export async function openDirectory(db: string, backend: BackendName = 'auto', usePool = true): Promise<OpenedDirectory> {
  const group = await loadGroup('ristretto255', backend);
  // Directory discovery is always verifiable: clients check a DLEQ proof per chunk.
  const suite = createSuite('ristretto255-SHA512', Modes.VOPRF, group);
  let pool: WorkerPool | undefined;
  if (usePool) {
    try {
      pool = new WorkerPool({ backend });
    } catch (err) {
      console.error(`precompute runs on one thread: ${(err as Error).message}`);
    }
  }
  const directory = await Directory.open({ store: SqliteStore.open(db), suite, evaluator: pool ? poolEvaluator(pool, suite) : undefined });
  return {
    directory,
    pool,
    async close() {
      await directory.close();
      await pool?.close();
    },
  };
}
