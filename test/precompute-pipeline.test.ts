/**
 * The precompute pass keeps two batches in flight (batch n + 1 evaluates while batch n is
 * sealed and written). Against a plain sequential pass written out here, over random
 * directories, batch sizes and both stores: the same tags, every seal the bytes sealLabel
 * gives for its nonce, evaluations in identifier order with at most two pending; and a pass
 * that fails at any batch leaves only whole tag records, which the next pass completes
 * without evaluating them again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identifierBytes } from '../src/contacts/identifier.js';
import { ContactPsiError } from '../src/errors.js';
import { generateDirectory } from '../src/directory/generate.js';
import { lookupKeyOf } from '../src/directory/lookup.js';
import { MemoryStore } from '../src/directory/memory-store.js';
import { precomputeTags, type TagEvaluator } from '../src/directory/precompute.js';
import { SqliteStore } from '../src/directory/sqlite-store.js';
import type { DirectoryStore, DirectoryUser, TagRecord } from '../src/directory/types.js';
import { compareCodePoints } from '../src/directory/users.js';
import { loadGroup } from '../src/group/index.js';
import { createSuite, Modes, type OprfSuite } from '../src/oprf/index.js';
import { sealLabelsWith, type LabelToSeal } from '../src/directory/seal.js';
import { sealLabel } from '../src/protocol/discovery/labels.js';
import { seededRng } from './helpers/rng.js';

const tmp = mkdtempSync(join(tmpdir(), 'contact-psi-pipeline-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let files = 0;

const EPOCH = 1;
let suite: OprfSuite;
let secretKey: Uint8Array;
beforeAll(async () => {
  suite = createSuite('ristretto255-SHA512', Modes.VOPRF, await loadGroup('ristretto255', 'sodium'));
  secretKey = suite.deriveKeyPair(new Uint8Array(32).fill(5), new TextEncoder().encode('pipeline test')).secretKey;
});

type StoreKind = 'memory' | 'sqlite' | 'sqlite-bulk';
const openStore = (kind: StoreKind): DirectoryStore =>
  kind === 'memory'
    ? new MemoryStore()
    : SqliteStore.open(join(tmp, `p-${files++}.db`), kind === 'sqlite-bulk' ? { bulkFillThreshold: 1 } : {});

/** Discoverable (identifier, user) pairs in the order the pass reads them. */
const discoverablePairs = (users: readonly DirectoryUser[]) =>
  users
    .filter((u) => u.discoverable)
    .flatMap((u) => u.identifiers.map((identifier) => ({ identifier, user: u })))
    .sort((a, b) => compareCodePoints(a.identifier, b.identifier));

/** The pass as it was before pipelining: read, evaluate, seal, write, one batch at a time. */
async function sequentialPass(store: DirectoryStore, batchSize: number): Promise<number> {
  let after: string | undefined;
  let computed = 0;
  for (;;) {
    const batch = await store.missingTags(EPOCH, after, batchSize);
    if (batch.length === 0) return computed;
    const tags = suite.evaluate(secretKey, batch.map((e) => identifierBytes(e.identifier)));
    const records: TagRecord[] = batch.map((e, i) => ({
      identifier: e.identifier,
      userId: e.userId,
      tag: tags[i],
      lookupKey: lookupKeyOf(tags[i]),
      sealed: sealLabel(tags[i], e),
      labelVersion: e.labelVersion,
    }));
    await store.putTags(EPOCH, records);
    computed += batch.length;
    after = batch[batch.length - 1].identifier;
  }
}

/**
 * An async evaluator (as the pool's) that records its calls and how many were pending at
 * once; with `sealing`, it also has evaluateAndSeal (as poolEvaluator), which the pass prefers.
 */
function recordingEvaluator(sealing = false): { evaluate: TagEvaluator; inputs: string[]; maxPending: () => number } {
  const inputs: string[] = [];
  let pending = 0;
  let maxPending = 0;
  const decoder = new TextDecoder();
  const later = async <T>(batch: readonly Uint8Array[], fn: () => T): Promise<T> => {
    inputs.push(...batch.map((b) => decoder.decode(b)));
    pending++;
    maxPending = Math.max(maxPending, pending);
    try {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return fn();
    } finally {
      pending--;
    }
  };
  const plain = (key: Uint8Array, batch: readonly Uint8Array[]) => later(batch, () => suite.evaluate(key, batch));
  const evaluate: TagEvaluator = sealing
    ? Object.assign(plain, {
        evaluateAndSeal: (key: Uint8Array, batch: readonly Uint8Array[], labels: readonly LabelToSeal[], nonces: Uint8Array) =>
          later(batch, () => {
            const tags = suite.evaluate(key, batch);
            return { tags, seals: sealLabelsWith(tags.map((tag, i) => ({ tag, ...labels[i] })), nonces) };
          }),
      })
    : plain;
  return { evaluate, inputs, maxPending: () => maxPending };
}

/** Every stored pair's tag is F_k(identifier) and its seal is sealLabel's bytes for the nonce it carries. */
async function expectWholeRecords(store: DirectoryStore, users: readonly DirectoryUser[]): Promise<number> {
  const pairs = discoverablePairs(users);
  const tags = suite.evaluate(secretKey, pairs.map((p) => identifierBytes(p.identifier)));
  const matches = await store.lookupSealed(EPOCH, tags.map(lookupKeyOf));
  let stored = 0;
  matches.forEach((m, i) => {
    if (m === null) return;
    stored++;
    expect(m.userId).toBe(pairs[i].user.userId);
    expect(m.tag).toEqual(tags[i]);
    expect(m.sealed).toBeDefined();
    const nonce = m.sealed!.subarray(0, 24);
    expect(m.sealed).toEqual(sealLabel(tags[i], { userId: pairs[i].user.userId, label: pairs[i].user.label }));
  });
  return stored;
}

const directoryArb = fc.record({
  size: fc.integer({ min: 0, max: 40 }),
  seed: fc.nat(),
  batchSize: fc.integer({ min: 1, max: 12 }),
  store: fc.constantFrom<StoreKind>('memory', 'sqlite', 'sqlite-bulk'),
  evaluator: fc.constantFrom('main thread', 'async', 'async with sealing'),
});

describe('pipelined precompute pass', () => {
  it('stores the tags and seals of the sequential pass, evaluating in order with at most two batches pending', async () => {
    await fc.assert(
      fc.asyncProperty(directoryArb, async ({ size, seed, batchSize, store: kind, evaluator }) => {
        const pooled = evaluator !== 'main thread';
        const users = generateDirectory(size, seededRng(seed));
        const pipelined = openStore(kind);
        const sequential = openStore(kind === 'memory' ? 'memory' : 'sqlite');
        try {
          await pipelined.upsertUsers(users);
          await sequential.upsertUsers(users);
          const recorder = recordingEvaluator(evaluator === 'async with sealing');
          const pass = await precomputeTags({ store: pipelined, suite, secretKey, epoch: EPOCH, batchSize, evaluator: pooled ? recorder.evaluate : undefined });
          const pairs = discoverablePairs(users);
          expect(pass).toMatchObject({ computed: pairs.length, pruned: 0, resealed: 0, complete: true });
          expect(await sequentialPass(sequential, batchSize)).toBe(pairs.length);
          expect((await pipelined.readTagSet(EPOCH)).packed).toEqual((await sequential.readTagSet(EPOCH)).packed);
          expect(await expectWholeRecords(pipelined, users)).toBe(pairs.length);
          expect(await pipelined.readTagSet(EPOCH)).toMatchObject({ missing: 0, stale: 0, unsealed: 0 });
          if (pooled) {
            expect(recorder.inputs).toEqual(pairs.map((p) => p.identifier));
            expect(recorder.maxPending()).toBeLessThanOrEqual(2);
          }
        } finally {
          await pipelined.close();
          await sequential.close();
        }
      }),
      { numRuns: 40 },
    );
  });

  it('after a pass fails at any batch, holds only whole records; the next pass adds exactly the rest', async () => {
    const failureArb = fc.record({ failAt: fc.integer({ min: 0, max: 6 }), where: fc.constantFrom('evaluate', 'putTags') });
    await fc.assert(
      fc.asyncProperty(directoryArb, failureArb, async ({ size, seed, batchSize, store: kind }, { failAt, where }) => {
        const users = generateDirectory(size, seededRng(seed));
        const inner = openStore(kind);
        try {
          await inner.upsertUsers(users);
          let calls = 0;
          const crash = () => new ContactPsiError('test_crash', 'simulated failure');
          const failing = failAfter(inner, where === 'putTags' ? failAt : Infinity, crash);
          const evaluator: TagEvaluator = async (key, inputs) => {
            if (where === 'evaluate' && calls++ === failAt) throw crash();
            return suite.evaluate(key, inputs);
          };
          const total = discoverablePairs(users).length;
          const first = precomputeTags({ store: failing, suite, secretKey, epoch: EPOCH, batchSize, evaluator });
          const batches = Math.ceil(total / batchSize);
          if (failAt < batches) await expect(first).rejects.toThrow(/simulated failure/);
          else await first;
          // Whole records only: a prefix of the batches, each tag sealed and findable.
          const stored = await expectWholeRecords(inner, users);
          expect(stored).toBe(failAt < batches ? Math.min(total, failAt * batchSize) : total);
          const resumed = recordingEvaluator(true);
          const second = await precomputeTags({ store: inner, suite, secretKey, epoch: EPOCH, batchSize, evaluator: resumed.evaluate });
          expect(second.computed).toBe(total - stored);
          expect(resumed.inputs).toHaveLength(total - stored);
          expect(second.complete).toBe(true);
          expect(await expectWholeRecords(inner, users)).toBe(total);
        } finally {
          await inner.close();
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('completeness counts (SQLite skips its scans when the tags are complete at the version read)', () => {
  const changeArb = fc.record({
    user: fc.nat(),
    kind: fc.constantFrom('opt_out', 'label', 'remove', 'add', 'none'),
  });
  it('equal the memory store’s after a pass and after each random change', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 25 }), fc.nat(), fc.array(changeArb, { maxLength: 4 }), async (size, seed, changes) => {
        const users = generateDirectory(size, seededRng(seed));
        const extra = generateDirectory(size + 5, seededRng(seed + 1)).slice(size).map((u) => ({ ...u, userId: `extra-${u.userId}` }));
        const stores = [openStore('memory'), openStore('sqlite')];
        const counts = async () =>
          Promise.all(stores.map(async (st) => {
            const { count, missing, stale, unsealed } = await st.readTagSet(EPOCH, 16);
            return { count, missing, stale, unsealed };
          }));
        const pass = () => Promise.all(stores.map((store) => precomputeTags({ store, suite, secretKey, epoch: EPOCH, batchSize: 5 })));
        try {
          for (const st of stores) await st.upsertUsers(users);
          await pass();
          const [memory, sqlite] = await counts();
          expect(sqlite).toEqual(memory);
          expect(sqlite).toMatchObject({ missing: 0, stale: 0, unsealed: 0 });
          for (const { user, kind } of changes) {
            const u = users[user % users.length];
            for (const st of stores) {
              if (kind === 'opt_out') await st.upsertUsers([{ ...u, discoverable: !u.discoverable }]);
              if (kind === 'label') await st.upsertUsers([{ ...u, label: Uint8Array.of(user & 0xff) }]);
              if (kind === 'remove') await st.removeUser(u.userId);
              if (kind === 'add') await st.upsertUsers(extra.slice(0, 1 + (user % 5)));
            }
            const [m, q] = await counts();
            expect(q).toEqual(m);
          }
          await pass();
          const [m, q] = await counts();
          expect(q).toEqual(m);
          expect(q).toMatchObject({ missing: 0, stale: 0, unsealed: 0 });
        } finally {
          for (const st of stores) await st.close();
        }
      }),
      { numRuns: 25 },
    );
  });
});

/** The store, with its putTags call number `failAt` (0-based) throwing before it writes. */
function failAfter(store: DirectoryStore, failAt: number, error: () => Error): DirectoryStore {
  let calls = 0;
  return new Proxy(store, {
    get(target, key) {
      const value = Reflect.get(target, key, target) as unknown;
      if (typeof value !== 'function') return value;
      if (key === 'putTags') {
        return async (...args: unknown[]) => {
          if (calls++ === failAt) throw error();
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}
