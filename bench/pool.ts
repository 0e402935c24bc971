/**
 * `--pool`: the worker_threads pool of src/parallel (WorkerPool), when it is there. It is
 * imported by a computed specifier and used through the small interface below, so the
 * harness compiles and runs without it (each scenario then says it ran single-threaded).
 */
import type { Rng } from '../src/group/types.js';
import type { KeyPair, Mode, OprfSuite, SuiteId, VerifiableEvaluation } from '../src/oprf/suite.js';
import type { PreparedServerSet } from '../src/protocol/server-set.js';

export interface PoolLike {
  readonly size: number;
  evaluate(suiteId: SuiteId, mode: Mode, secretKey: Uint8Array, inputs: readonly Uint8Array[]): Promise<Uint8Array[]>;
  blindEvaluate(suiteId: SuiteId, mode: Mode, secretKey: Uint8Array, blinded: Uint8Array): Promise<Uint8Array>;
  blindEvaluateVerifiable(suiteId: SuiteId, mode: Mode, secretKey: Uint8Array, blinded: Uint8Array, rng: Rng): Promise<VerifiableEvaluation>;
  close(): Promise<void>;
}

export interface PoolModule {
  WorkerPool: new (options?: { size?: number; backend?: string }) => PoolLike;
  prepareServerSetParallel?: (pool: PoolLike, suite: OprfSuite, items: readonly Uint8Array[], rng: Rng, keys?: KeyPair) => Promise<PreparedServerSet>;
  poolEvaluator?: (pool: PoolLike, suite: OprfSuite) => (secretKey: Uint8Array, inputs: readonly Uint8Array[]) => Promise<Uint8Array[]>;
}

export type PoolOutcome = { ok: true; pool: PoolLike; module: PoolModule; close(): Promise<void> } | { ok: false; reason: string };

export async function loadPoolModule(): Promise<PoolModule | string> {
  const specifier = ['..', 'src', 'parallel', 'index.js'].join('/');
  try {
    const mod = (await import(specifier)) as Partial<PoolModule>;
    if (typeof mod.WorkerPool !== 'function') return 'src/parallel has no WorkerPool export';
    return mod as PoolModule;
  } catch (err) {
    return `src/parallel is not available (${(err as Error).message.split('\n')[0]})`;
  }
}

/** A started pool (size: os.availableParallelism() unless BENCH_POOL_SIZE says otherwise). */
export async function loadPool(): Promise<PoolOutcome> {
  const mod = await loadPoolModule();
  if (typeof mod === 'string') return { ok: false, reason: `${mod}; ran single-threaded` };
  try {
    const size = process.env.BENCH_POOL_SIZE ? Number(process.env.BENCH_POOL_SIZE) : undefined;
    const pool = new mod.WorkerPool(size ? { size } : {});
    return { ok: true, pool, module: mod, close: () => pool.close() };
  } catch (err) {
    return { ok: false, reason: `WorkerPool failed to start (${(err as Error).message}); ran single-threaded` };
  }
}
