/** worker_threads pool for batch group work (Node only; see pool.ts). */
export { WorkerPool, DEFAULT_INLINE_THRESHOLD, DEFAULT_MAX_SLICE, type WorkerPoolOptions } from './pool.js';
export { prepareServerSetParallel } from './server-set.js';
export { poolEvaluator, type TagEvaluator } from './evaluator.js';
export { poolOffload } from './offload.js';
export { resolveWorkerUrl } from './worker-url.js';
