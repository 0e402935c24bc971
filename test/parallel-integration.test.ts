/**
 * The pool plugged into the server paths: session-PSI setup (prepareServerSetParallel)
 * and directory precompute (DirectoryOpenOptions.evaluator) give the same bytes as the
 * single-thread code. Workers are dist/src/parallel/worker.js (`npm ci` builds it).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDirectory } from '../src/directory/generate.js';
import { MemoryStore } from '../src/directory/memory-store.js';
import { Directory } from '../src/directory/registry.js';
import { loadGroup } from '../src/group/select.js';
import { createSuite, Modes, type OprfSuite } from '../src/oprf/index.js';
import { poolEvaluator } from '../src/parallel/evaluator.js';
import { WorkerPool } from '../src/parallel/pool.js';
import { prepareServerSetParallel } from '../src/parallel/server-set.js';
import { prepareServerSet } from '../src/protocol/server-set.js';
import { seededRng } from './helpers/rng.js';
import { assertDistFresh } from './helpers/worker-build.js';

let pool: WorkerPool;
let suite: OprfSuite;
beforeAll(async () => {
  assertDistFresh();
  pool = new WorkerPool({ size: 2, backend: 'sodium', inlineThreshold: 16, maxSliceSize: 64 });
  suite = createSuite('ristretto255-SHA512', Modes.VOPRF, await loadGroup('ristretto255', 'sodium'));
});
afterAll(() => pool?.close());

describe('prepareServerSetParallel', () => {
  it('equals prepareServerSet: same distinct items, same key from the same rng, same elements, and the outputs F(k, y)', async () => {
    const itemsArb = fc.array(fc.uint8Array({ maxLength: 12 }), { maxLength: 120 });
    await fc.assert(
      fc.asyncProperty(itemsArb, fc.nat(), async (items, seed) => {
        const withDuplicates = [...items, ...items.slice(0, 5)];
        const single = prepareServerSet(suite, withDuplicates, seededRng(seed));
        const pooled = await prepareServerSetParallel(pool, suite, withDuplicates, seededRng(seed));
        expect(pooled.keys).toEqual(single.keys);
        expect(pooled.items).toEqual(single.items);
        expect(pooled.elements).toEqual(single.elements);
        // The intersection tags, hashed on the workers: F(k, y) of every distinct item.
        expect(pooled.outputs).toEqual(suite.evaluate(single.keys.secretKey, single.items));
        const given = await prepareServerSetParallel(pool, suite, items, seededRng(seed + 1), single.keys);
        expect(given.elements).toEqual(prepareServerSet(suite, items, seededRng(seed + 1), single.keys).elements);
      }),
      { numRuns: 15 },
    );
  });
});

describe('Directory precompute with a pool evaluator', () => {
  const users = generateDirectory(300, seededRng(3));

  async function snapshotWith(options: { evaluator?: ReturnType<typeof poolEvaluator>; batchSize?: number }) {
    const directory = await Directory.open({ store: new MemoryStore(), suite, rng: seededRng(11), ...options });
    await directory.importUsers(users);
    const result = await directory.precompute();
    const snapshot = await directory.snapshot('raw');
    await directory.close();
    return { result, snapshot };
  }

  it('stores the same tags and builds the same snapshot as suite.evaluate', async () => {
    const reference = await snapshotWith({ batchSize: 100 });
    const pooled = await snapshotWith({ batchSize: 100, evaluator: poolEvaluator(pool, suite) });
    expect(pooled.result).toEqual(reference.result);
    expect(pooled.result.computed).toBeGreaterThan(300);
    expect(pooled.snapshot.digest).toBe(reference.snapshot.digest);
    expect(pooled.snapshot.bytes).toEqual(reference.snapshot.bytes);
  });

  it('an evaluator that returns the wrong number of tags fails the pass', async () => {
    const directory = await Directory.open({ store: new MemoryStore(), suite, evaluator: async () => [] });
    await directory.importUsers(users.slice(0, 5));
    await expect(directory.precompute()).rejects.toMatchObject({ code: 'evaluator_failed' });
    await directory.close();
  });
});
