/**
 * Red team, wave 5: a malicious discovery server against the client's additive blinding,
 * one sync at a time (inline, pipelined on the worker pool, and on an offload whose work
 * settles in a shuffled order, several chunks in flight). Every dir.evaluated the server
 * sends is tampered with (another key, Z rotated, the previous chunk's proof, an honest
 * answer for a shifted window of the book, an identity element, the seq of another
 * chunk): the sync fails with a coded error, nothing is unblinded (no Z - r PK on this
 * thread or the shuffled offload; the workers' side is redteam-wave5-additive's), and
 * finalizeReceived() keeps no output.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blindAdditive, finalizeAdditive } from '../src/oprf/additive.js';
import { createSuite, Modes, type OprfSuite } from '../src/oprf/index.js';
import type { Group } from '../src/group/types.js';
import { DiscoveryClientSession, type DiscoveryResult } from '../src/protocol/discovery/client.js';
import { DiscoveryServerSession } from '../src/protocol/discovery/server.js';
import type { OprfOffload } from '../src/protocol/offload.js';
import { runSessionPairAsync } from '../src/protocol/session-pair.js';
import { decodeMessage, encodeMessage } from '../src/protocol/codec.js';
import { DEFAULT_DISCOVERY_LIMITS, discoverySchemas } from '../src/protocol/discovery/messages.js';
import { memoryBackend, voprfSuite, type TestUser } from './helpers/discovery.js';
import { seededRng } from './helpers/rng.js';
import { WorkerPool } from '../src/parallel/pool.js';
import { poolOffload } from '../src/parallel/offload.js';
import { assertDistFresh } from './helpers/worker-build.js';

beforeAll(assertDistFresh);
let pool: WorkerPool;
beforeAll(() => {
  pool = new WorkerPool({ size: 2, inlineThreshold: 2, maxSliceSize: 3 });
});
afterAll(async () => pool?.close());

const universe = Array.from({ length: 60 }, (_, i) => `tel:+4179${4000000 + i}`);
const users: TestUser[] = universe.filter((_, i) => i % 2 === 0).map((id, i) => ({ userId: `u${i}`, identifiers: [id], label: `l${i}` }));
const base = voprfSuite();
const keys = base.generateKeyPair(seededRng(11));
const other = base.generateKeyPair(seededRng(12));
const dir = memoryBackend(users, { keys });
const schemas = discoverySchemas(DEFAULT_DISCOVERY_LIMITS);

function spiedSuite(): { suite: OprfSuite; unblinds: () => number } {
  let calls = 0;
  const g = base.group;
  const sub = g.subtractBaseFromDecoded!;
  const group: Group = {
    ...g,
    subtractBaseFromDecoded: (b, s, d) => {
      calls++;
      return sub(b, s, d);
    },
  };
  return { suite: createSuite(base.id, Modes.VOPRF, group), unblinds: () => calls };
}

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
    blindAdditive: (suite, inputs, blinds) => later(() => blindAdditive(suite, inputs, blinds)),
    finalizeAdditive: (suite, state, evaluated, verify) => later(() => finalizeAdditive(suite, state, evaluated, verify)),
    blindEvaluateVerifiable: (suite, key, blinded, rng) => Promise.resolve(suite.blindEvaluateVerifiable(key, blinded, rng)),
  };
}

type How = 'otherKey' | 'rotate' | 'prevProof' | 'shiftedWindow' | 'identity' | 'seqOfNext';
const HOWS: How[] = ['otherKey', 'rotate', 'prevProof', 'shiftedWindow', 'identity', 'seqOfNext'];

interface Evaluated {
  t: 'dir.evaluated';
  seq: number;
  evaluated: Uint8Array;
  proof: Uint8Array;
}

async function tamperedSync(how: How, contacts: string[], chunk: number, seed: number, delays: number[] | 'pool' | undefined, deterministic: boolean) {
  const { suite, unblinds } = spiedSuite();
  const client = new DiscoveryClientSession({
    suite,
    identifiers: contacts,
    rng: seededRng(seed),
    blindSecret: deterministic ? new Uint8Array(32).fill(7) : undefined,
    offload: delays === 'pool' ? poolOffload(pool) : delays ? shuffledOffload(delays) : undefined,
    chunkItems: chunk,
  });
  const server = new DiscoveryServerSession({ backend: dir.backend, rng: seededRng(2), now: 0 });
  const sent = new Map<number, Uint8Array>(); // seq -> blinded
  const book: Uint8Array[] = [];
  const starts = new Map<number, number>();
  let prevProof: Uint8Array | undefined;
  const rng = seededRng(seed + 1);
  const out = await runSessionPairAsync<DiscoveryResult, unknown>(client, server, 0, {
    toServer: (bytes) => {
      const m = decodeMessage<{ t: string; seq?: number; blinded?: Uint8Array }>(bytes, schemas, 1 << 30);
      if (m.t === 'dir.evaluate') {
        starts.set(m.seq!, book.reduce((n, b) => n + b.length / 32, 0));
        sent.set(m.seq!, m.blinded!.slice());
        book.push(m.blinded!.slice());
      }
      return bytes;
    },
    toClient: (bytes) => {
      const m = decodeMessage<{ t: string }>(bytes, schemas, 1 << 30);
      if (m.t !== 'dir.evaluated') return bytes;
      const e = m as unknown as Evaluated;
      const blinded = sent.get(e.seq)!;
      const n = blinded.length / 32;
      let evaluated: Uint8Array = e.evaluated.slice();
      let proof: Uint8Array = e.proof;
      const seq = e.seq;
      switch (how) {
        case 'otherKey':
          ({ evaluated, proof } = base.blindEvaluateVerifiable(other.secretKey, blinded, rng));
          break;
        case 'rotate':
          if (n > 1) evaluated = new Uint8Array([...evaluated.subarray(32), ...evaluated.subarray(0, 32)]);
          else proof = base.blindEvaluateVerifiable(other.secretKey, blinded, rng).proof;
          break;
        case 'prevProof':
          proof = prevProof ?? base.blindEvaluateVerifiable(other.secretKey, blinded, rng).proof;
          break;
        case 'shiftedWindow': {
          // An honest, proven answer for the n blinded elements starting one later in the book (or earlier at its end).
          const all = Buffer.concat(book);
          const total = all.length / 32;
          let from = starts.get(seq)! + 1;
          if (from + n > total) from = Math.max(0, starts.get(seq)! - 1);
          const window = new Uint8Array(all.subarray(32 * from, 32 * (from + n)));
          if (window.length === blinded.length && Buffer.compare(Buffer.from(window), Buffer.from(blinded)) !== 0) {
            ({ evaluated, proof } = base.blindEvaluateVerifiable(keys.secretKey, window, rng));
          } else proof = base.blindEvaluateVerifiable(other.secretKey, blinded, rng).proof;
          break;
        }
        case 'identity':
          evaluated.fill(0, 0, 32);
          break;
        case 'seqOfNext':
          return encodeMessage({ ...e, seq: seq + 1 } as never);
      }
      prevProof = e.proof;
      return encodeMessage({ t: 'dir.evaluated', seq, evaluated, proof } as never);
    },
  });
  client.finalizeReceived();
  return { out, unblinds: unblinds(), partial: client.partialOutputs };
}

describe('red team wave 5: a malicious server against additive blinding, whole syncs', () => {
  it('every tampered evaluation fails the sync with a code and unblinds nothing (inline and pipelined)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...HOWS),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.oneof(fc.constant(undefined), fc.constant('pool' as const), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 5 })),
        fc.boolean(),
        async (how, count, chunk, seed, delays, deterministic) => {
          const contacts = universe.slice(0, count);
          const { out, unblinds, partial } = await tamperedSync(how, contacts, chunk, seed, delays, deterministic);
          expect(out.clientResult).toBeUndefined();
          const want = how === 'identity' ? ['bad_element'] : how === 'seqOfNext' ? ['unexpected_message', 'bad_field'] : ['proof_invalid'];
          expect(want).toContain(out.clientError?.code);
          expect(unblinds).toBe(0);
          expect(partial?.entries.size ?? 0).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('control: the same harness without tampering syncs and unblinds every chunk', async () => {
    const { suite, unblinds } = spiedSuite();
    const client = new DiscoveryClientSession({ suite, identifiers: universe.slice(0, 30), rng: seededRng(1), offload: shuffledOffload([2, 0, 1]), chunkItems: 4 });
    const server = new DiscoveryServerSession({ backend: dir.backend, rng: seededRng(2), now: 0 });
    const out = await runSessionPairAsync<DiscoveryResult, unknown>(client, server, 0);
    expect(out.clientError).toBeUndefined();
    expect(out.clientResult!.matches.length).toBe(15);
    expect(unblinds()).toBeGreaterThan(0);
  });
});
