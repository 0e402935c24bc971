/**
 * A server checks a chunk on its own thread (validatePacked keeps the decoded coordinates)
 * and, with a worker pool, evaluates it on the workers: the pool hands each slice's
 * coordinates along (Group.takeDecoded, the task's `xy`) and the worker's group starts from
 * them (Group.rememberDecoded) instead of decoding again. Properties: the task with the
 * coordinates gives byte for byte the evaluations and composite of the task without them
 * (runTask, as a worker runs it), and the coordinates are used (the group's cache is empty
 * afterwards); the pool's result equals the suite's with the same proof scalar.
 */
import { ristretto255_hasher } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadGroup } from '../src/group/index.js';
import type { Group } from '../src/group/types.js';
import { createSuite, Modes, type OprfSuite } from '../src/oprf/index.js';
import { runTask } from '../src/parallel/ops.js';
import type { Task } from '../src/parallel/wire.js';
import { seededRng } from './helpers/rng.js';

const hex = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('hex') : String(b));
let group: Group;
let suite: OprfSuite;

beforeAll(async () => {
  group = await loadGroup('ristretto255', 'sodium');
  suite = createSuite('ristretto255-SHA512', Modes.VOPRF, group);
}, 120_000);

const packedArb = fc.array(fc.uint8Array({ minLength: 64, maxLength: 64 }), { minLength: 3, maxLength: 20 }).map((us) => {
  const out = new Uint8Array(us.length * 32);
  us.forEach((u, i) => out.set(ristretto255_hasher.deriveToCurve!(u).toBytes(), i * 32));
  return out;
});

describe('worker tasks with the coordinates the main thread decoded', () => {
  it('blindEvaluate with xy equals blindEvaluate without, composite included; the coordinates are consumed', async () => {
    await fc.assert(
      fc.asyncProperty(packedArb, fc.boolean(), async (packed, verifiable) => {
        const keys = suite.generateKeyPair(seededRng(packed[0]));
        expect(group.validatePacked(packed)).toBe(packed.length / 32);
        const xy = group.takeDecoded!(packed);
        expect(xy?.length).toBe(packed.length * 2);
        const task = (withXy: boolean): Task => ({
          op: 'blindEvaluate',
          suite: { id: suite.id, mode: suite.mode },
          key: keys.secretKey.slice(),
          packed: packed.slice(),
          offset: 5,
          composite: verifiable ? { publicKey: keys.publicKey } : undefined,
          xy: withXy ? xy!.slice() : undefined,
        });
        const plain = await runTask(task(false), 'sodium');
        const fromXy = await runTask(task(true), 'sodium');
        expect(hex(fromXy.bytes)).toBe(hex(plain.bytes));
        expect(hex(fromXy.m)).toBe(hex(plain.m));
        expect(group.takeDecoded!(packed)).toBeUndefined(); // taken by the evaluation
      }),
      { numRuns: 12 },
    );
  });

  it('the worker evaluates from the coordinates it is given (those of another batch give that batch\'s products)', async () => {
    const [a, b] = fc.sample(packedArb.filter((p) => p.length === 5 * 32), { numRuns: 2, seed: 9 });
    const keys = suite.generateKeyPair(seededRng(1));
    group.validatePacked(b);
    const xyOfB = group.takeDecoded!(b)!;
    const result = await runTask(
      { op: 'blindEvaluate', suite: { id: suite.id, mode: suite.mode }, key: keys.secretKey.slice(), packed: a.slice(), offset: 0, xy: xyOfB },
      'sodium',
    );
    expect(hex(result.bytes)).toBe(hex(suite.blindEvaluate(keys.secretKey, b)));
  });

  it('rememberDecoded ignores coordinates of the wrong length', () => {
    const packed = fc.sample(packedArb, { numRuns: 1, seed: 5 })[0];
    group.rememberDecoded!(packed, new Uint8Array(packed.length));
    expect(group.takeDecoded!(packed)).toBeUndefined();
  });
});
