/**
 * The pipelined first sync (issue 13 §1; spec/client.md "Pipelined first sync"): with the
 * group work offloaded, the client cuts a book of 4 chunks or more into a short first chunk,
 * full chunks and a short last chunk (chunk-plan.ts), and draws each chunk's blinds only when its blinding is
 * handed out, a couple of chunks ahead. None of that may change what the sync computes: the
 * server sees exactly the blinded elements the inline session sends (the same rng draws in
 * the same order), and the outputs and matches are the inline ones, whatever order the
 * offloaded work completes in.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DiscoveryClientSession, type DiscoveryResult } from '../src/protocol/discovery/client.js';
import { DiscoveryServerSession } from '../src/protocol/discovery/server.js';
import { offloadChunks, pipelinedChunks, PIPELINE_MIN_CHUNKS, uniformChunks } from '../src/protocol/discovery/chunk-plan.js';
import type { OprfOffload } from '../src/protocol/offload.js';
import { blindAdditive, finalizeAdditive } from '../src/oprf/additive.js';
import { runSessionPairAsync } from '../src/protocol/session-pair.js';
import { decodeMessage } from '../src/protocol/codec.js';
import { DEFAULT_DISCOVERY_LIMITS, discoverySchemas } from '../src/protocol/discovery/messages.js';
import { memoryBackend, type TestUser } from './helpers/discovery.js';
import { seededRng } from './helpers/rng.js';

const universe = Array.from({ length: 90 }, (_, i) => `tel:+4179${3000000 + i}`);
const users: TestUser[] = universe.filter((_, i) => i % 3 === 0).map((id, i) => ({ userId: `u${i}`, identifiers: [id], label: `l${i}` }));
const dir = memoryBackend(users);
const schemas = discoverySchemas(DEFAULT_DISCOVERY_LIMITS);

/** The suite's own methods, settling in a shuffled order; counts the blindings in flight. */
function shuffledOffload(delays: readonly number[]) {
  let call = 0;
  let blinding = 0;
  const stats = { maxBlinding: 0 };
  const later = <T>(value: () => T): Promise<T> =>
    new Promise((resolve, reject) =>
      setTimeout(() => {
        try {
          resolve(value());
        } catch (err) {
          reject(err);
        }
      }, delays[call++ % delays.length]),
    );
  const offload: OprfOffload = {
    blindWith: (suite, inputs, blinds) => {
      stats.maxBlinding = Math.max(stats.maxBlinding, ++blinding);
      return later(() => suite.blindWith(inputs, blinds)).finally(() => blinding--);
    },
    finalize: (suite, state, evaluated, verify) => later(() => suite.finalize(state, evaluated, verify)),
    // The client blinds additively by default (spec/client.md): the same mode as inline.
    blindAdditive: (suite, inputs, blinds) => {
      stats.maxBlinding = Math.max(stats.maxBlinding, ++blinding);
      return later(() => blindAdditive(suite, inputs, blinds)).finally(() => blinding--);
    },
    finalizeAdditive: (suite, state, evaluated, verify) => later(() => finalizeAdditive(suite, state, evaluated, verify)),
    blindEvaluateVerifiable: (suite, key, blinded, rng) => Promise.resolve(suite.blindEvaluateVerifiable(key, blinded, rng)),
  };
  return { offload, stats };
}

/** One sync of `contacts`; what the server was sent as dir.evaluate (each chunk's blinded bytes), and the result. */
async function sync(contacts: string[], chunk: number, seed: number, deterministic: boolean, offload?: OprfOffload) {
  const client = new DiscoveryClientSession({
    suite: dir.suite,
    identifiers: contacts,
    rng: seededRng(seed),
    blindSecret: deterministic ? new Uint8Array(32).fill(5) : undefined,
    offload,
    chunkItems: chunk,
  });
  const server = new DiscoveryServerSession({ backend: dir.backend, rng: seededRng(2), now: 0 });
  const chunks: Uint8Array[] = [];
  const out = await runSessionPairAsync<DiscoveryResult, unknown>(client, server, 0, {
    toServer: (bytes) => {
      const m = decodeMessage<{ t: string; blinded?: Uint8Array }>(bytes, schemas, 1 << 30);
      if (m.t === 'dir.evaluate') chunks.push(m.blinded!.slice());
      return bytes;
    },
  });
  expect(out.clientError).toBeUndefined();
  return { chunks, result: out.clientResult! };
}

const outputsOf = (r: DiscoveryResult) =>
  [...r.outputs.entries].map(([id, e]) => `${id} ${Buffer.from(e.output).toString('hex')} ${e.labelChecked} ${e.match?.userId ?? ''}`).sort();
const matchesOf = (r: DiscoveryResult) => r.matches.map((m) => `${m.identifier} ${m.userId} ${Buffer.from(m.label).toString('hex')}`);
const concatAll = (parts: Uint8Array[]) => Buffer.concat(parts).toString('hex');

describe('chunk plans', () => {
  it('cover [0, total) in chunks of 1..chunk; pipelined: first and last at most a quarter of a chunk', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 1, max: 1100 }), (total, chunk) => {
        const head = Math.max(1, Math.floor(chunk / 4));
        for (const bounds of [uniformChunks(total, chunk), pipelinedChunks(total, chunk)]) {
          expect(bounds[0]).toBe(0);
          expect(bounds.at(-1)).toBe(total);
          const sizes = sizesOf(bounds);
          expect(sizes.filter((s) => s < 1 || s > chunk)).toEqual([]);
        }
        const p = pipelinedChunks(total, chunk);
        if (total > 0) {
          expect(p[1]).toBeLessThanOrEqual(head);
          expect(p.at(-1)! - p.at(-2)!).toBeLessThanOrEqual(head);
        }
        // At most two chunks more than the uniform plan (the split first and last), and only
        // from PIPELINE_MIN_CHUNKS full chunks on, where they cost under 0.1 byte a contact.
        expect(p.length).toBeLessThanOrEqual(uniformChunks(total, chunk).length + 2);
        expect(offloadChunks(total, chunk)).toEqual(total >= PIPELINE_MIN_CHUNKS * chunk ? p : uniformChunks(total, chunk));
      }),
      { numRuns: 500 },
    );
  });
});

describe('pipelined first sync = inline sync', () => {
  it('the same blinded elements reach the server, in pipelined chunks, and the same outputs and matches come out, in any completion order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.subarray(universe, { minLength: 1, maxLength: 90 }),
        fc.integer({ min: 1, max: 24 }),
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 8 }),
        fc.integer(),
        fc.boolean(),
        async (contacts, chunk, delays, seed, deterministic) => {
          const inline = await sync(contacts, chunk, seed, deterministic);
          const { offload, stats } = shuffledOffload(delays);
          const piped = await sync(contacts, chunk, seed, deterministic, offload);
          // The same rng draws (or deterministic blinds), so the very same elements.
          expect(concatAll(piped.chunks)).toBe(concatAll(inline.chunks));
          expect(inline.chunks.map((c) => c.length / 32)).toEqual(sizesOf(uniformChunks(contacts.length, chunk)));
          expect(piped.chunks.map((c) => c.length / 32)).toEqual(sizesOf(offloadChunks(contacts.length, chunk)));
          expect(outputsOf(piped.result)).toEqual(outputsOf(inline.result));
          expect(matchesOf(piped.result)).toEqual(matchesOf(inline.result));
          // Blinds are drawn and handed out a couple of chunks ahead, not all at once.
          expect(stats.maxBlinding).toBeLessThanOrEqual(2);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('the generator reaches books of many chunks with matches and non-matches', () => {
    const sample = fc.sample(fc.tuple(fc.subarray(universe, { minLength: 1, maxLength: 90 }), fc.integer({ min: 1, max: 24 })), { numRuns: 200, seed: 1 });
    expect(sample.some(([c, k]) => pipelinedChunks(c.length, k).length > 6 && c.length >= PIPELINE_MIN_CHUNKS * k)).toBe(true);
    // ... and books too small for the short first and last chunks (cut uniformly).
    expect(sample.some(([c, k]) => c.length > k && c.length < PIPELINE_MIN_CHUNKS * k)).toBe(true);
    expect(sample.some(([c]) => c.some((id) => universe.indexOf(id) % 3 === 0) && c.some((id) => universe.indexOf(id) % 3 !== 0))).toBe(true);
  });
});

const sizesOf = (bounds: number[]) => bounds.slice(1).map((b, i) => b - bounds[i]);
