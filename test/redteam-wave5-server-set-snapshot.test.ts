/**
 * Red team, wave 5 (open finding): prepareServerSetParallel now deduplicates the caller's
 * items in pieces across event-loop turns, so it reads the `items` array after it has
 * returned its promise. Before, distinctItems ran synchronously at the call: a caller that
 * then changed its array (a set reloaded in place, the next session's items pushed) did
 * not change the prepared set. The prepared set must be the items as they were at the call.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadGroup } from '../src/group/select.js';
import { createSuite, Modes } from '../src/oprf/index.js';
import { WorkerPool } from '../src/parallel/pool.js';
import { prepareServerSetParallel } from '../src/parallel/server-set.js';
import { prepareServerSet } from '../src/protocol/server-set.js';
import { seededRng } from './helpers/rng.js';
import { assertDistFresh } from './helpers/worker-build.js';

beforeAll(assertDistFresh);
let pool: WorkerPool;
beforeAll(() => {
  pool = new WorkerPool({ size: 2 });
});
afterAll(async () => pool?.close());

it('the set prepared is the items at the call, whatever the caller does to its array afterwards', async () => {
  const suite = createSuite('ristretto255-SHA512', Modes.OPRF, await loadGroup('ristretto255', 'sodium'));
  const items = Array.from({ length: 3000 }, (_, i) => new TextEncoder().encode(`tel:+4179${1000000 + i}`));
  const at = items.map((x) => x);
  const pending = prepareServerSetParallel(pool, suite, items, seededRng(1), undefined, { first: 1000, size: 1000 });
  // The caller reuses its array right away (the promise is pending).
  items[2500] = new TextEncoder().encode('tel:+41000000000');
  items.push(new TextEncoder().encode('tel:+41000000001'));
  const got = await pending;
  const want = prepareServerSet(suite, at, seededRng(1));
  expect(got.items.length).toBe(want.items.length);
  expect(Buffer.from(got.elements).equals(Buffer.from(want.elements))).toBe(true);
});
