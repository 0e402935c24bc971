/**
 * Red team, wave 5: the client's additive blinding (src/oprf/additive.ts, pool
 * finalizeAdditive) against a malicious server. Whatever the server sends as the chunk's
 * Z_i and proof (identity, non-canonical encodings, other valid points, duplicated,
 * reordered or omitted elements, a proof under another key, another chunk's proof, one
 * proof over the whole book, a proof made over permuted blinded elements), the client
 * fails with `bad_evaluation` (exactly when the group's own decoder refuses an element) or
 * `proof_invalid`, the same code inline (comb and noble reference) and on the pool, and
 * unblinds nothing (no Z - r PK) before a proof over its own blinded elements verified
 * under the pinned key.
 * Edge blinds (1, L - 1) give the RFC outputs; 0, L and 2^255 - 1 are bad_scalar.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGroup } from '../src/group/select.js';
import type { Group } from '../src/group/types.js';
import { blindAdditive, finalizeAdditive } from '../src/oprf/additive.js';
import { createSuite, Modes, type OprfSuite } from '../src/oprf/index.js';
import { WorkerPool } from '../src/parallel/pool.js';
import { seededRng } from './helpers/rng.js';
import { assertDistFresh } from './helpers/worker-build.js';

beforeAll(assertDistFresh);

const ID = 'ristretto255-SHA512' as const;
const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const le = (v: bigint): Uint8Array => {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
};
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The group with a counter on the unblinding step (the frozen group copied, not changed). */
function spied(group: Group): { group: Group; unblinds: () => number } {
  let calls = 0;
  const sub = group.subtractBaseFromDecoded;
  return {
    group: {
      ...group,
      subtractBaseFromDecoded: sub
        ? (base, scalars, decoded) => {
            calls++;
            return sub(base, scalars, decoded);
          }
        : undefined,
    },
    unblinds: () => calls,
  };
}

type Bad =
  | { kind: 'bytes'; bytes: Uint8Array; label: string }
  | { kind: 'dupe' }
  | { kind: 'rotate' }
  | { kind: 'omit' }
  | { kind: 'otherKey' }
  | { kind: 'otherChunkProof' }
  | { kind: 'otherChunkBoth' }
  | { kind: 'wholeBookProof' }
  | { kind: 'permutedProof' }
  | { kind: 'negate' };

/** 32-byte strings the decoder must refuse, or at least treat as some other element. */
const badBytes: fc.Arbitrary<Bad> = fc.oneof(
  fc.constant({ kind: 'bytes', bytes: new Uint8Array(32), label: 'identity' } as Bad),
  fc.bigInt({ min: 0n, max: 2n ** 255n - 1n - P }).map((t) => ({ kind: 'bytes', bytes: le(P + t), label: 's >= p' }) as Bad),
  fc.bigInt({ min: 0n, max: (P - 1n) / 2n - 1n }).map((t) => ({ kind: 'bytes', bytes: le(2n * t + 1n), label: 'negative s' }) as Bad),
  fc.bigInt({ min: 0n, max: (P - 1n) / 2n - 1n }).map((t) => ({ kind: 'bytes', bytes: le(2n * t), label: 'even s < p' }) as Bad),
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => ({ kind: 'bytes', bytes: b, label: 'random' }) as Bad),
);
const structural: fc.Arbitrary<Bad> = fc.constantFrom<Bad>(
  { kind: 'dupe' },
  { kind: 'rotate' },
  { kind: 'omit' },
  { kind: 'otherKey' },
  { kind: 'otherChunkProof' },
  { kind: 'otherChunkBoth' },
  { kind: 'wholeBookProof' },
  { kind: 'permutedProof' },
  { kind: 'negate' },
);
const badArb = fc.oneof(badBytes, structural);

const POOL = { size: 2, inlineThreshold: 4, maxSliceSize: 3 };
let pool: WorkerPool;
let watched: OprfSuite;
let unblinds: () => number;
let noble: OprfSuite;
beforeAll(async () => {
  const s = spied(await loadGroup('ristretto255', 'sodium'));
  watched = createSuite(ID, Modes.VOPRF, s.group);
  unblinds = s.unblinds;
  noble = createSuite(ID, Modes.VOPRF, await loadGroup('ristretto255', 'noble'));
  pool = new WorkerPool(POOL);
});
afterAll(async () => pool?.close());

/** What a malicious server hands the client for chunk B (book = chunk A || chunk B). */
function attack(suite: OprfSuite, bad: Bad, seed: number, nA: number, nB: number, pick: number) {
  const rng = seededRng(seed);
  const { secretKey, publicKey } = suite.generateKeyPair(rng);
  const other = suite.generateKeyPair(rng);
  const book = Array.from({ length: nA + nB }, (_, i) => new TextEncoder().encode(`tel:+4179${seed % 1000}${i}`));
  const blinds = book.map(() => suite.group.scalar.random(rng));
  const whole = blindAdditive(suite, book, blinds);
  const chunkA = whole.blinded.subarray(0, 32 * nA);
  const chunkB = whole.blinded.subarray(32 * nA);
  const state = { inputs: book.slice(nA), blinds: blinds.slice(nA), blinded: chunkB.slice() };
  const honest = suite.blindEvaluateVerifiable(secretKey, chunkB, rng);
  let evaluated: Uint8Array = honest.evaluated.slice();
  let proof: Uint8Array = honest.proof;
  const i = pick % nB;
  switch (bad.kind) {
    case 'bytes':
      evaluated.set(bad.bytes, 32 * i);
      break;
    case 'dupe':
      evaluated.copyWithin(32 * i, 32 * ((i + 1) % nB), 32 * ((i + 1) % nB) + 32);
      break;
    case 'rotate':
      evaluated = new Uint8Array([...evaluated.subarray(32), ...evaluated.subarray(0, 32)]);
      break;
    case 'omit':
      evaluated = evaluated.subarray(0, evaluated.length - 32);
      break;
    case 'otherKey':
      ({ evaluated, proof } = suite.blindEvaluateVerifiable(other.secretKey, chunkB, rng));
      break;
    case 'otherChunkProof':
      proof = suite.blindEvaluateVerifiable(secretKey, chunkA, rng).proof;
      break;
    case 'otherChunkBoth': {
      // Chunk A's answer (its first nB elements, re-proven over exactly those) sent as chunk B's.
      const a = suite.blindEvaluateVerifiable(secretKey, chunkA.subarray(0, 32 * Math.min(nA, nB)), rng);
      evaluated = a.evaluated;
      proof = a.proof;
      break;
    }
    case 'wholeBookProof': {
      const all = suite.blindEvaluateVerifiable(secretKey, whole.blinded, rng);
      evaluated = all.evaluated.slice(32 * nA);
      proof = all.proof;
      break;
    }
    case 'permutedProof': {
      // Z_i = k C_(i+1): a valid proof, but over the permuted blinded elements.
      const permuted = new Uint8Array([...chunkB.subarray(32), ...chunkB.subarray(0, 32)]);
      ({ evaluated, proof } = suite.blindEvaluateVerifiable(secretKey, permuted, rng));
      break;
    }
    case 'negate': {
      // -Z_i for every i (the server knows k: B_i's negation evaluated under k is -Z_i), proof kept.
      const neg = suite.group.scalar.toBytes(L - 1n);
      evaluated = suite.group.multiplyPacked(neg, evaluated);
      break;
    }
  }
  return { state, evaluated, verify: { proof, publicKey } };
}

/** The code the client must give: bad_evaluation when an element is refused by the decoder (or the count is wrong), else proof_invalid. */
function expectedCode(suite: OprfSuite, evaluated: Uint8Array, n: number): string {
  if (evaluated.length !== 32 * n) return 'bad_evaluation';
  try {
    noble.group.validatePacked(evaluated);
  } catch {
    return 'bad_evaluation';
  }
  // A valid encoding that happens to be the honest element cannot be generated here (2^-252).
  void suite;
  return 'proof_invalid';
}

describe('red team wave 5: additive finalize against a malicious server', () => {
  it('the generators reach every tampering and every non-canonical class', () => {
    const kinds = new Set(fc.sample(badArb, 400).map((b) => (b.kind === 'bytes' ? b.label : b.kind)));
    for (const k of ['identity', 's >= p', 'negative s', 'even s < p', 'random', 'dupe', 'rotate', 'omit', 'otherKey', 'otherChunkProof', 'otherChunkBoth', 'wholeBookProof', 'permutedProof', 'negate']) {
      expect(kinds).toContain(k);
    }
  });

  it('every tampered chunk fails with the decoder-consistent code, inline and on the pool alike, and nothing is unblinded', async () => {
    await fc.assert(
      fc.asyncProperty(
        badArb,
        fc.integer({ min: 0, max: 2 ** 30 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 2, max: 9 }),
        fc.nat(),
        async (bad, seed, nA, nB, pick) => {
          const { state, evaluated, verify } = attack(watched, bad, seed, nA, nB, pick);
          const want = expectedCode(watched, evaluated, nB);
          const before = unblinds();
          let inline: unknown;
          try {
            finalizeAdditive(watched, state, evaluated, verify);
          } catch (err) {
            inline = err;
          }
          expect(unblinds()).toBe(before);
          expect(inline).toMatchObject({ code: want });
          // Messages name indices and codes, never an element, a blind or an input.
          const message = String((inline as Error).message);
          for (const b of state.blinds) expect(message).not.toContain(hex(b).slice(0, 16));
          await expect(pool.finalizeAdditive(ID, Modes.VOPRF, state, evaluated, verify)).rejects.toMatchObject({ code: want });
          // The noble reference path (no comb: browsers without WebAssembly SIMD) gives the same code.
          expect(() => finalizeAdditive(noble, state, evaluated, verify)).toThrow(expect.objectContaining({ code: want }));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('edge blinds: 1 and L - 1 give the RFC outputs; 0, L, 2^255 - 1 and short blinds are bad_scalar (inline and pool)', async () => {
    const rng = seededRng(77);
    const { secretKey, publicKey } = watched.generateKeyPair(rng);
    const xs = Array.from({ length: 6 }, (_, i) => new Uint8Array([i, 1, 2]));
    const edge = [le(1n), le(L - 1n), le(1n), le(L - 1n), le(2n), le(L - 2n)];
    for (const how of ['inline', 'pool'] as const) {
      const state = how === 'inline' ? blindAdditive(watched, xs, edge) : await pool.blindAdditive(ID, Modes.VOPRF, xs, edge);
      expect(hex(state.blinded)).toBe(hex(blindAdditive(noble, xs, edge).blinded));
      const served = watched.blindEvaluateVerifiable(secretKey, state.blinded, rng);
      const outputs =
        how === 'inline'
          ? finalizeAdditive(watched, state, served.evaluated, { proof: served.proof, publicKey })
          : await pool.finalizeAdditive(ID, Modes.VOPRF, state, served.evaluated, { proof: served.proof, publicKey });
      expect(outputs.map(hex)).toEqual(watched.evaluate(secretKey, xs).map(hex));
    }
    for (const bad of [le(0n), le(L), le(2n ** 255n - 1n), new Uint8Array(31)]) {
      const blinds = xs.map(() => le(3n));
      blinds[4] = bad;
      expect(() => blindAdditive(watched, xs, blinds)).toThrow(expect.objectContaining({ code: 'bad_scalar' }));
      await expect(pool.blindAdditive(ID, Modes.VOPRF, xs, blinds)).rejects.toMatchObject({ code: 'bad_scalar' });
    }
  });

  it('a server that changes its public key between chunks: the table cache serves each key its own table', () => {
    const rng = seededRng(91);
    const keys = Array.from({ length: 6 }, () => watched.generateKeyPair(rng));
    const xs = [new Uint8Array([9]), new Uint8Array([8]), new Uint8Array([7])];
    // More keys than the comb caches (4), revisited out of order: outputs stay F(k, x).
    for (const j of [0, 1, 2, 3, 4, 5, 0, 3, 1, 5, 2]) {
      const state = blindAdditive(watched, xs, xs.map(() => watched.group.scalar.random(rng)));
      const served = watched.blindEvaluateVerifiable(keys[j].secretKey, state.blinded, rng);
      const out = finalizeAdditive(watched, state, served.evaluated, { proof: served.proof, publicKey: keys[j].publicKey });
      expect(out.map(hex)).toEqual(watched.evaluate(keys[j].secretKey, xs).map(hex));
      // The answer under key j checked against key j + 1 (a key switch the client did not see): refused.
      const next = keys[(j + 1) % keys.length].publicKey;
      expect(() => finalizeAdditive(watched, state, served.evaluated, { proof: served.proof, publicKey: next })).toThrow(expect.objectContaining({ code: 'proof_invalid' }));
    }
  });

  it('a bad public key (identity, non-canonical, not 32 bytes) is proof_invalid before anything is unblinded', async () => {
    const rng = seededRng(5);
    const { secretKey } = watched.generateKeyPair(rng);
    const xs = Array.from({ length: 5 }, (_, i) => new Uint8Array([i]));
    const state = blindAdditive(watched, xs, xs.map(() => watched.group.scalar.random(rng)));
    const served = watched.blindEvaluateVerifiable(secretKey, state.blinded, rng);
    for (const pk of [new Uint8Array(32), le(P), le(1n), new Uint8Array(31), new Uint8Array(33)]) {
      const before = unblinds();
      expect(() => finalizeAdditive(watched, state, served.evaluated, { proof: served.proof, publicKey: pk })).toThrow(expect.objectContaining({ code: 'proof_invalid' }));
      expect(unblinds()).toBe(before);
      await expect(pool.finalizeAdditive(ID, Modes.VOPRF, state, served.evaluated, { proof: served.proof, publicKey: pk })).rejects.toMatchObject({ code: 'proof_invalid' });
    }
  });
});
