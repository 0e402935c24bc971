/**
 * How many numbers one account can have evaluated in 30 days under the default quota, on
 * the real charge path: the real DiscoveryServerSession (its QuotaLedger, receipts, refusal
 * of a chunk over the balance) charging a real SQLite directory store, against the real
 * client session, with the clock injected (each session runs at its own `now`). The figure
 * is counted from what the server answered (`dir.evaluated` elements on the wire), and the
 * enumeration figures of spec/discovery.md §9 are derived from it.
 *
 * Only the OPRF arithmetic is stubbed, through the sessions' own `offload` hooks, because
 * ~100,000 real evaluations with proofs take minutes: the client "blinds" to the hashed
 * points (valid group elements, distinct per number, as the server checks), the server
 * "evaluates" by echoing them with an empty proof, and the client "finalizes" without
 * verifying (an enumerator would not care). Every check and charge on the server side —
 * element validation, per-session repeats, the charge hash, the ledger's read-modify-write
 * in the store, the refusal of a chunk over the balance — is the real code.
 *
 * The attacker: one account, fresh numbers only (a receipt never helps enumeration), a
 * first sync at t = 0 that asks for more than the capacity, then one sync at the end of
 * each day up to t = 30 days inclusive, each asking for more than can have refilled. The
 * bucket refills linearly and is capped, so syncing more often cannot add to the total; a
 * 500-item chunk size (short first and last chunks of 125) makes the daily 1,500 a whole
 * number of chunks.
 */
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Directory, SqliteStore } from '../src/directory/index.js';
import { DirectoryDiscoveryBackend } from '../src/directory/discovery-backend.js';
import { decodeMessage } from '../src/protocol/codec.js';
import { DiscoveryClientSession, type DiscoveryResult, type QuotaReceipt } from '../src/protocol/discovery/client.js';
import { DEFAULT_DISCOVERY_LIMITS, discoverySchemas, type DiscoveryMessage } from '../src/protocol/discovery/messages.js';
import { pipelinedChunks } from '../src/protocol/discovery/chunk-plan.js';
import { DEFAULT_SYNC_POLICY } from '../src/protocol/discovery/quota.js';
import { DiscoveryServerSession } from '../src/protocol/discovery/server.js';
import type { OprfOffload } from '../src/protocol/offload.js';
import { runSessionPairAsync } from '../src/protocol/session-pair.js';
import { directorySuite, generateUsers, tempDir } from './helpers/service.js';
import { seededRng } from './helpers/rng.js';

const DAY = 24 * 3600 * 1000;
const CHUNK = 500;
const tmp = tempDir('contact-psi-enumeration-');
afterAll(() => tmp.cleanup());

/** The OPRF math skipped (see above); shapes and validity of what goes on the wire are kept. */
const noMath: OprfOffload = {
  async blindWith(suite, inputs, blinds) {
    return { inputs, blinds, blinded: suite.group.hashToGroupBatch(inputs, suite.hashToGroupDST) };
  },
  async finalize(suite, state, evaluated) {
    const size = suite.group.elementSize;
    return state.inputs.map((_, i) => {
      const out = new Uint8Array(suite.outputSize);
      out.set(evaluated.subarray(i * size, (i + 1) * size));
      return out;
    });
  },
  async blindEvaluateVerifiable(_suite, _key, blinded) {
    return { evaluated: blinded.slice(), proof: new Uint8Array(64) };
  },
};

const schemas = discoverySchemas(DEFAULT_DISCOVERY_LIMITS);
/** Elements the server answered in one session, read off the wire. */
function evaluatedCounter(elementSize: number) {
  const counter = { elements: 0 };
  const toClient = (bytes: Uint8Array): Uint8Array => {
    const m = decodeMessage<DiscoveryMessage>(bytes, schemas, DEFAULT_DISCOVERY_LIMITS.maxMessageBytes);
    if (m.t === 'dir.evaluated') counter.elements += (m as { evaluated: Uint8Array }).evaluated.length / elementSize;
    return bytes;
  };
  return { counter, toClient };
}

it('one account gets 95,000 evaluations in 30 days under the defaults, on the real session and store', async () => {
  const suite = directorySuite();
  const directory = await Directory.open({ store: SqliteStore.open(join(tmp.path, 'directory.db')), suite });
  try {
    await directory.importUsers(generateUsers(seededRng(5), 20));
    await directory.precompute();
    const backend = await DirectoryDiscoveryBackend.open(directory, 'fuse', 0);
    const tokenKey = new Uint8Array(32).fill(3);
    const blindSecret = new Uint8Array(32).fill(9);
    let next = 0; // fresh Swiss mobile numbers, never asked before
    const fresh = (n: number) => Array.from({ length: n }, () => `tel:+4179${String(next++).padStart(7, '0')}`);

    let evaluated = 0;
    let refusals = 0;
    const syncAt = async (now: number, ask: number) => {
      const client = new DiscoveryClientSession({ suite, identifiers: fresh(ask), rng: seededRng(now), blindSecret, chunkItems: CHUNK, offload: noMath });
      const server = new DiscoveryServerSession({ backend, rng: seededRng(now + 1), now, offload: noMath, quota: { account: 'mallory', config: { store: directory, tokenKey } } });
      const { counter, toClient } = evaluatedCounter(suite.group.elementSize);
      const outcome = await runSessionPairAsync<DiscoveryResult, unknown>(client, server, now, { toClient });
      const error = outcome.serverError ?? outcome.clientError;
      if (error !== undefined) {
        expect(error).toMatchObject({ code: 'rate_limited' });
        refusals++;
      }
      evaluated += counter.elements;
      return counter.elements;
    };

    // The client pipelines (its group work is offloaded): a short first and last chunk of
    // CHUNK / 4 (chunk-plan.ts). Asking for a short chunk more than the bucket holds makes the
    // chunks before the last fill it exactly, and the last one is refused.
    const head = pipelinedChunks(CHUNK * 4, CHUNK)[1]!;
    // Day 0: the whole capacity (and one short chunk more, refused).
    expect(await syncAt(0, DEFAULT_SYNC_POLICY.capacity + head)).toBe(DEFAULT_SYNC_POLICY.capacity);
    // Then the end of each day, asking for more than a day's refill.
    for (let d = 1; d <= 30; d++) await syncAt(d * DAY, 1_500 + head);
    expect(refusals).toBe(31); // every sync hit the limit: the attacker took all there was

    const countries = { 'Switzerland (+41 75-79, 5e7)': 5e7, 'Germany (+49 15x-17x, 5e8)': 5e8, 'USA (NPA-NXX-XXXX, ~6e9)': 6e9 };
    const rows = Object.entries(countries).map(([c, n]) => `${c}: ${Math.ceil(n / evaluated).toLocaleString('en-US')} accounts`);
    console.log(`measured: one account had ${evaluated.toLocaleString('en-US')} numbers evaluated in 30 days;\n  ${rows.join('\n  ')}`);
    // capacity + 30 days of refill (1,500 a day): the figures in spec/discovery.md §9.
    expect(evaluated).toBe(50_000 + 30 * 1_500);
    expect(Math.ceil(5e7 / evaluated)).toBe(527);
    expect(Math.ceil(5e8 / evaluated)).toBe(5_264);
    expect(Math.ceil(6e9 / evaluated)).toBe(63_158);
    // The store agrees: the bucket is (nearly) empty after the last sync.
    expect((await directory.getBucket('sync:mallory'))!.tokens).toBeLessThan(CHUNK);
  } finally {
    await directory.close();
  }
});

/**
 * Issue 10 §4: re-evaluations within an epoch are charged (the client keeps its outputs, so
 * it never needs one), and the charged set is free once per rotation. Before, one account
 * re-syncing the same book got every re-evaluation free, forever (180,000 evaluations with
 * proofs in 15 s, the whole server). Here: the same 1,000 contacts re-synced with the
 * receipt each time, on the real session and SQLite store, until refused; then a rotation.
 */
it('re-syncing the same book within an epoch is charged; the charged set is free once per rotation', async () => {
  const suite = directorySuite();
  const directory = await Directory.open({ store: SqliteStore.open(join(tmp.path, 'flood.db')), suite });
  try {
    await directory.importUsers(generateUsers(seededRng(6), 20));
    await directory.precompute();
    const backend = await DirectoryDiscoveryBackend.open(directory, 'fuse', 0);
    const tokenKey = new Uint8Array(32).fill(4);
    const blindSecret = new Uint8Array(32).fill(5);
    const book = Array.from({ length: 1_000 }, (_, i) => `tel:+4178${String(i).padStart(7, '0')}`);
    let receipt: QuotaReceipt | undefined;
    const syncAt = async (now: number) => {
      const client = new DiscoveryClientSession({ suite, identifiers: book, rng: seededRng(now), blindSecret, chunkItems: CHUNK, offload: noMath, quotaReceipt: receipt });
      const server = new DiscoveryServerSession({ backend, rng: seededRng(now + 1), now, offload: noMath, quota: { account: 'flood', config: { store: directory, tokenKey } } });
      const { counter, toClient } = evaluatedCounter(suite.group.elementSize);
      const outcome = await runSessionPairAsync<DiscoveryResult, unknown>(client, server, now, { toClient });
      receipt = outcome.clientResult?.quotaReceipt ?? client.quotaReceipt ?? receipt;
      return { evaluated: counter.elements, error: outcome.serverError ?? outcome.clientError };
    };
    // Frozen clock (no refill): 50 whole re-syncs fit the bucket, the 51st is refused.
    let evaluated = 0;
    let syncs = 0;
    for (;;) {
      const r = await syncAt(0);
      evaluated += r.evaluated;
      if (r.error) {
        expect(r.error).toMatchObject({ code: 'rate_limited' });
        break;
      }
      syncs++;
    }
    expect(syncs).toBe(DEFAULT_SYNC_POLICY.capacity / book.length);
    expect(evaluated).toBe(DEFAULT_SYNC_POLICY.capacity);
    // A rotation: the book, all paid for, is evaluated once free under the new key ...
    await directory.rotateEpoch({ now: 1, graceMs: 0 });
    await backend.refresh(1);
    const rotated = await syncAt(1);
    expect(rotated).toMatchObject({ evaluated: book.length, error: undefined });
    // ... and only once: the next re-evaluation in this epoch is charged, and the bucket is empty.
    expect((await syncAt(1)).error).toMatchObject({ code: 'rate_limited' });
    console.log(`measured: the same ${book.length.toLocaleString('en-US')} contacts re-synced in one epoch: ${syncs} syncs (${evaluated.toLocaleString('en-US')} evaluations) until refused; after a rotation one free re-evaluation of the book, then refused again`);
  } finally {
    await directory.close();
  }
});
