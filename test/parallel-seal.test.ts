/**
 * WorkerPool.evaluateAndSeal (op 'evaluateSeal'): tags, lookup keys and sealed labels made
 * on the workers are the bytes of suite.evaluate followed by sealLabelsWith on this thread,
 * for random batches cut into random slices; refused labels fail as sealLabel fails. A
 * Directory on poolEvaluator stores labels that open to their users.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDirectory } from '../src/directory/generate.js';
import { lookupKeyOf } from '../src/directory/lookup.js';
import { MemoryStore } from '../src/directory/memory-store.js';
import { Directory } from '../src/directory/registry.js';
import { NONCE_BYTES, sealLabelsWith } from '../src/directory/seal.js';
import { identifierBytes } from '../src/contacts/identifier.js';
import { loadGroup } from '../src/group/select.js';
import { createSuite, Modes, type OprfSuite } from '../src/oprf/index.js';
import { poolEvaluator } from '../src/parallel/evaluator.js';
import { WorkerPool } from '../src/parallel/pool.js';
import { openLabel, sealLabel } from '../src/protocol/discovery/labels.js';
import { seededRng } from './helpers/rng.js';
import { assertDistFresh } from './helpers/worker-build.js';

let pool: WorkerPool;
let suite: OprfSuite;
let secretKey: Uint8Array;
beforeAll(async () => {
  assertDistFresh();
  pool = new WorkerPool({ size: 2, backend: 'sodium', inlineThreshold: 4, maxSliceSize: 16 });
  suite = createSuite('ristretto255-SHA512', Modes.VOPRF, await loadGroup('ristretto255', 'sodium'));
  secretKey = suite.deriveKeyPair(new Uint8Array(32).fill(1), new TextEncoder().encode('seal')).secretKey;
});
afterAll(() => pool?.close());

const entryArb = fc.record({
  input: fc.uint8Array({ maxLength: 40 }),
  userId: fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 12 })),
  label: fc.uint8Array({ maxLength: 80 }),
});

describe('WorkerPool.evaluateAndSeal', () => {
  it('gives suite.evaluate and sealLabelsWith bytes, in order, inline and across slices', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(entryArb, { maxLength: 70 }).chain((entries) =>
          fc.tuple(fc.constant(entries), fc.uint8Array({ minLength: NONCE_BYTES * entries.length, maxLength: NONCE_BYTES * entries.length })),
        ),
        async ([entries, nonces]) => {
          const inputs = entries.map((e) => e.input);
          const { tags, seals } = await pool.evaluateAndSeal(suite.id, suite.mode, secretKey, inputs, entries, nonces);
          const expectedTags = suite.evaluate(secretKey, inputs);
          expect(tags).toEqual(expectedTags);
          const expected = sealLabelsWith(expectedTags.map((tag, i) => ({ tag, userId: entries[i].userId, label: entries[i].label })), nonces);
          expect(seals.map((s) => s.sealed)).toEqual(expected.map((s) => s.sealed));
          expect(seals.map((s) => s.lookupKey)).toEqual(expectedTags.map(lookupKeyOf));
          seals.forEach((s, i) => expect(s.sealed).toEqual(sealLabel(tags[i], entries[i])));
        },
      ),
      { numRuns: 30 },
    );
  });

  it('refuses mismatched counts and a user id sealLabel refuses, before any work', async () => {
    const inputs = Array.from({ length: 10 }, (_, i) => Uint8Array.of(i));
    const labels = inputs.map((_, i) => ({ userId: `u${i}`, label: new Uint8Array(0) }));
    const nonces = new Uint8Array(NONCE_BYTES * 10);
    await expect(pool.evaluateAndSeal(suite.id, suite.mode, secretKey, inputs, labels.slice(1), nonces)).rejects.toMatchObject({ code: 'bad_input' });
    await expect(pool.evaluateAndSeal(suite.id, suite.mode, secretKey, inputs, labels, nonces.subarray(1))).rejects.toThrow(RangeError);
    const long = labels.map((l, i) => (i === 7 ? { ...l, userId: 'x'.repeat(0x10000) } : l));
    await expect(pool.evaluateAndSeal(suite.id, suite.mode, secretKey, inputs, long, nonces)).rejects.toMatchObject({ code: 'bad_field' });
  });

  it('through poolEvaluator, a Directory stores seals that open to each user and label', async () => {
    const users = generateDirectory(120, seededRng(31)).filter((u) => u.discoverable);
    const directory = await Directory.open({ store: new MemoryStore(), suite, evaluator: poolEvaluator(pool, suite), batchSize: 50 });
    try {
      await directory.importUsers(users);
      const result = await directory.precompute();
      const pairs = users.flatMap((u) => u.identifiers.map((identifier) => ({ identifier, user: u })));
      expect(result.computed).toBe(pairs.length);
      const tags = suite.evaluate(directory.epochKeyPair().secretKey, pairs.map((p) => identifierBytes(p.identifier)));
      const sealed = await directory.lookupSealed(directory.currentEpoch, tags.map(lookupKeyOf));
      sealed.forEach((s, i) => expect(openLabel(tags[i], s!)).toEqual({ userId: pairs[i].user.userId, label: pairs[i].user.label }));
    } finally {
      await directory.close();
    }
  });
});
