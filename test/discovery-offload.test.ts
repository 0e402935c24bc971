/**
 * Deferred group work (an OprfOffload) must not change what a discovery session computes or
 * charges: blinding, evaluation and finalizing may complete in any order, on other threads,
 * and the client still gets exactly the matches, and the quota receipts still verify.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { DiscoveryClientSession, type DiscoveryResult, type KnownOutputs, type QuotaReceipt } from '../src/protocol/discovery/client.js';
import { DiscoveryServerSession } from '../src/protocol/discovery/server.js';
import type { OprfOffload } from '../src/protocol/offload.js';
import { blindAdditive, finalizeAdditive } from '../src/oprf/additive.js';
import { runSessionPair, runSessionPairAsync } from '../src/protocol/session-pair.js';
import { poolOffload, WorkerPool } from '../src/parallel/index.js';
import { decodeMessage, encodeMessage } from '../src/protocol/codec.js';
import { DEFAULT_DISCOVERY_LIMITS, discoverySchemas } from '../src/protocol/discovery/messages.js';
import { MapQuotaStore, memoryBackend, type TestUser } from './helpers/discovery.js';
import { seededRng } from './helpers/rng.js';

/** The suite's own methods, each settling after its own delay: completions come out of order. */
function shuffledOffload(delays: readonly number[]): OprfOffload {
  let call = 0;
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
  return {
    blindWith: (suite, inputs, blinds) => later(() => suite.blindWith(inputs, blinds)),
    finalize: (suite, state, evaluated, verify) => later(() => suite.finalize(state, evaluated, verify)),
    // The client blinds additively by default (spec/client.md): the same mode as inline.
    blindAdditive: (suite, inputs, blinds) => later(() => blindAdditive(suite, inputs, blinds)),
    finalizeAdditive: (suite, state, evaluated, verify) => later(() => finalizeAdditive(suite, state, evaluated, verify)),
    blindEvaluateVerifiable: (suite, key, blinded, rng) => {
      const proofScalarDrawnNow = suite.blindEvaluateVerifiable(key, blinded, rng);
      return later(() => proofScalarDrawnNow);
    },
  };
}

const universe = Array.from({ length: 60 }, (_, i) => `tel:+4179${2000000 + i}`);
const users: TestUser[] = universe.filter((_, i) => i % 3 === 0).map((id, i) => ({ userId: `u${i}`, identifiers: [id], label: `l${i}` }));
const dir = memoryBackend(users);
const tokenKey = new Uint8Array(32).fill(9);
const schemas = discoverySchemas(DEFAULT_DISCOVERY_LIMITS);
const secret = new Uint8Array(32).fill(3);

interface Setup {
  contacts: string[];
  clientOffload?: OprfOffload;
  serverOffload?: OprfOffload;
  chunk: number;
  clientChunk?: number;
  store?: MapQuotaStore;
  receipt?: QuotaReceipt;
  /** OPRF outputs kept from an earlier sync (issue 10 §4: not evaluated again). */
  outputs?: KnownOutputs;
  capacity?: number;
}

function sessions(s: Setup) {
  const client = new DiscoveryClientSession({
    suite: dir.suite,
    identifiers: s.contacts,
    rng: seededRng(1),
    blindSecret: secret,
    quotaReceipt: s.receipt,
    outputs: s.outputs,
    offload: s.clientOffload,
    chunkItems: s.clientChunk,
  });
  const server = new DiscoveryServerSession({
    backend: dir.backend,
    rng: seededRng(2),
    now: 0,
    limits: { maxChunkItems: s.chunk },
    offload: s.serverOffload,
    quota: s.store ? { account: 'alice', config: { store: s.store, tokenKey, sync: { capacity: s.capacity ?? 1000, refillPerMs: 0 } } } : undefined,
  });
  return { client, server };
}

const matchesOf = (r: DiscoveryResult | undefined) => r?.matches.map((m) => `${m.identifier} ${m.userId}`).sort();
const spent = (store: MapQuotaStore, capacity: number) => capacity - (store.buckets.get('sync:alice')?.tokens ?? capacity);

describe('discovery with deferred group work', () => {
  it('gives the same matches and charges as the inline sessions, whatever order the work completes in', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.subarray(universe, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 9 }),
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        fc.boolean(),
        async (contacts, chunk, delays, offloadClient, offloadServer) => {
          const inlineStore = new MapQuotaStore();
          const inline = sessions({ contacts, chunk, store: inlineStore });
          const expected = await runSessionPairAsync<DiscoveryResult, unknown>(inline.client, inline.server);
          expect(expected.clientError).toBeUndefined();

          const store = new MapQuotaStore();
          const offload = shuffledOffload(delays);
          const s = sessions({
            contacts,
            chunk,
            store,
            clientOffload: offloadClient ? offload : undefined,
            serverOffload: offloadServer ? offload : undefined,
            clientChunk: offloadClient ? Math.max(1, chunk - 1) : undefined,
          });
          const out = await runSessionPairAsync<DiscoveryResult, unknown>(s.client, s.server);
          expect(out.clientError).toBeUndefined();
          expect(matchesOf(out.clientResult)).toEqual(matchesOf(expected.clientResult));
          expect(spent(store, 1000)).toBe(spent(inlineStore, 1000));
          // The receipt names the same charged set; with the outputs kept, the next sync evaluates (and is charged) nothing.
          expect(out.clientResult!.quotaReceipt!.set).toEqual(expected.clientResult!.quotaReceipt!.set);
          const again = sessions({ contacts, chunk, store, receipt: out.clientResult!.quotaReceipt, outputs: out.clientResult!.outputs, serverOffload: offload });
          expect((await runSessionPairAsync(again.client, again.server)).clientError).toBeUndefined();
          expect(spent(store, 1000)).toBe(spent(inlineStore, 1000));
        },
      ),
      { numRuns: 25 },
    );
  });

  it('a chunk refused while earlier ones are still evaluating fails only after they are answered, with a receipt for them', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 6 }), fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 6 }), async (chunk, delays) => {
        const capacity = 3 * chunk; // three chunks pass, the fourth is refused
        const store = new MapQuotaStore();
        const contacts = universe.slice(0, 6 * chunk);
        const s = sessions({ contacts, chunk, store, capacity, serverOffload: shuffledOffload(delays) });
        const out = await runSessionPairAsync<DiscoveryResult, unknown>(s.client, s.server);
        expect(out.clientError).toMatchObject({ code: 'rate_limited', remote: true });
        expect(spent(store, capacity)).toBe(capacity);
        // Every charged chunk was answered and its receipt handed over: a retry with a
        // bucket refilled by one chunk's worth charges only the chunks not charged yet.
        const receipt = s.client.quotaReceipt!;
        expect(receipt.set.length / 8).toBe(3 * chunk);
        // ... with the outputs answered kept (issue 10 §4), so they are not evaluated again.
        const outputs = s.client.partialOutputs!;
        expect(outputs.entries.size).toBe(3 * chunk);
        store.buckets.set('sync:alice', { tokens: 3 * chunk, updatedAt: 0 });
        const retry = sessions({ contacts, chunk, store, capacity, receipt, outputs, serverOffload: shuffledOffload(delays) });
        const done = await runSessionPairAsync<DiscoveryResult, unknown>(retry.client, retry.server);
        expect(done.clientError).toBeUndefined();
        expect(store.buckets.get('sync:alice')!.tokens).toBe(0);
      }),
      { numRuns: 10 },
    );
  });

  it('refuses a chunk size that is not a positive integer, and the sync driver refuses deferred work', () => {
    for (const chunkItems of [0, -1, 1.5, Number.NaN]) {
      expect(() => sessions({ contacts: universe.slice(0, 3), chunk: 4, clientChunk: chunkItems })).toThrowError(expect.objectContaining({ code: 'invalid_option' }));
    }
    const s = sessions({ contacts: universe.slice(0, 3), chunk: 4, serverOffload: shuffledOffload([0]) });
    expect(() => runSessionPair(s.client, s.server)).toThrowError(/runSessionPairAsync/);
  });

  it('running receipts come every 4 chunks only once 1,024 items were answered (tiny chunks cannot force a sort each)', async () => {
    const receiptsIn = async (contacts: string[], chunk: number): Promise<number> => {
      let receipts = 0;
      const s = sessions({ contacts, chunk, store: new MapQuotaStore(), capacity: 10_000 });
      const out = await runSessionPairAsync<DiscoveryResult, unknown>(s.client, s.server, 0, {
        toClient: (bytes) => {
          if (decodeMessage<{ t: string }>(bytes, schemas, 1 << 30).t === 'dir.receipt') receipts++;
          return bytes;
        },
      });
      expect(out.clientError).toBeUndefined();
      return receipts;
    };
    // Two per session whatever the chunks: the new chain announced before the first charge and
    // the receipt right after it (spec/sync-failover.md §4), both over the empty set here.
    expect(await receiptsIn(universe.slice(0, 40), 1)).toBe(2); // 40 one-item chunks: 40 items in all
    const many = Array.from({ length: 2100 }, (_, i) => `tel:+4178${3000000 + i}`);
    expect(await receiptsIn(many, 300)).toBe(3); // and after chunk 4 (1,200 items); chunk 7 ends the sync with dir.labels
  });

  describe('on a real worker pool', () => {
    const pool = new WorkerPool({ size: 2, backend: 'sodium', inlineThreshold: 1, maxSliceSize: 4 });
    afterAll(() => pool.close());

    it('matches the inline sessions, offloading both sides', async () => {
      const contacts = universe.slice(5, 55);
      const inline = sessions({ contacts, chunk: 16 });
      const expected = await runSessionPairAsync<DiscoveryResult, unknown>(inline.client, inline.server);
      const s = sessions({ contacts, chunk: 16, clientChunk: 7, clientOffload: poolOffload(pool), serverOffload: poolOffload(pool) });
      const out = await runSessionPairAsync<DiscoveryResult, unknown>(s.client, s.server);
      expect(out.clientError).toBeUndefined();
      expect(matchesOf(out.clientResult)).toEqual(matchesOf(expected.clientResult));
      expect(out.clientResult!.matches.length).toBeGreaterThan(0);
    });

    it('a tampered evaluation is still refused (proof_invalid) when the client finalizes on the pool', async () => {
      const s = sessions({ contacts: universe.slice(0, 20), chunk: 8, clientOffload: poolOffload(pool) });
      const out = await runSessionPairAsync<DiscoveryResult, unknown>(s.client, s.server, 0, {
        toClient: (bytes) => {
          // Swap two evaluated elements of each dir.evaluated: valid points, wrong proof.
          const m = decodeMessage<{ t: string; evaluated: Uint8Array }>(bytes, schemas, 1 << 30);
          if (m.t !== 'dir.evaluated') return bytes;
          const evaluated = m.evaluated.slice();
          evaluated.set(m.evaluated.subarray(0, 32), 32);
          evaluated.set(m.evaluated.subarray(32, 64), 0);
          return encodeMessage({ ...m, evaluated });
        },
      });
      expect(out.clientError?.code).toBe('proof_invalid');
      expect(out.clientResult).toBeUndefined();
    });
  });
});
