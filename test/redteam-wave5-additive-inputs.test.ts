/**
 * Red team, wave 5 (fixed in 2c041a3): additive blinding checks its inputs as RFC 9497 §1.2 and
 * the multiplicative path do. suite.blindWith and suite.evaluate refuse an input longer than
 * 2^16 - 1 bytes (`input_too_long`) and a non-bytes input (`bad_input`); blindAdditive (and
 * pool.blindAdditive below its inline threshold) blinded it, and finalizeAdditive then
 * hashed I2OSP(len mod 2^16, 2): an output no RFC 9497 server computes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGroup, type BackendName } from '../src/group/select.js';
import { blindAdditive } from '../src/oprf/additive.js';
import { createSuite, Modes } from '../src/oprf/index.js';
import { WorkerPool } from '../src/parallel/pool.js';
import { seededRng } from './helpers/rng.js';
import { assertDistFresh } from './helpers/worker-build.js';

beforeAll(assertDistFresh);
let pool: WorkerPool;
beforeAll(() => {
  pool = new WorkerPool({ size: 1, inlineThreshold: 64 });
});
afterAll(async () => pool?.close());

describe.each(['sodium', 'noble'] as BackendName[])('additive blinding inputs on %s', (backend) => {
  it('an input over 65,535 bytes is input_too_long and a non-bytes input bad_input, as for blindWith', async () => {
    const suite = createSuite('ristretto255-SHA512', Modes.VOPRF, await loadGroup('ristretto255', backend));
    const rng = seededRng(3);
    const blind = [suite.group.scalar.random(rng)];
    for (const [input, code] of [
      [new Uint8Array(65536), 'input_too_long'],
      [new Uint8Array(65536 + 5), 'input_too_long'],
      ['tel:+41791234567' as unknown as Uint8Array, 'bad_input'],
    ] as const) {
      expect(() => suite.blindWith([input], blind)).toThrow(expect.objectContaining({ code }));
      expect(() => blindAdditive(suite, [input], blind)).toThrow(expect.objectContaining({ code }));
      // The pool checks inputs only above its inline threshold; below it, blindAdditive's own check must hold.
      await expect(pool.blindAdditive('ristretto255-SHA512', Modes.VOPRF, [input], blind)).rejects.toMatchObject({ code });
    }
  });
});
