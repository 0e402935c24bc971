/**
 * Partial label requests against a hostile client (spec/discovery.md §9): random sequences
 * of hello, chunks, partial and final dir.labels.get, checked against a model of the rules:
 *
 * - before dir.info: `unexpected_message`; after the final request: ignored (no answer, no
 *   lookup, as any input once the labels are asked);
 * - more partial requests than chunks answered + 1: `unexpected_message`;
 * - an empty partial request, or a key a partial request named already (or twice): `bad_field`;
 * - label keys over the allowance, summed over every label request of the session: `too_large`;
 * - to a server without `labelParts`: `unsupported`.
 *
 * A refused request looks nothing up; the store runs one transaction per accepted request;
 * and the same backend keeps serving an honest sync afterwards. Old client + new server and
 * new client + old server are covered by discovery-partial-labels.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../src/protocol/codec.js';
import type { DiscoveryBackend } from '../src/protocol/discovery/backend.js';
import { DiscoveryClientSession, type DiscoveryResult } from '../src/protocol/discovery/client.js';
import { LABEL_FORMAT } from '../src/protocol/discovery/labels.js';
import { DEFAULT_DISCOVERY_LIMITS, discoverySchemas, type DiscoveryMessage } from '../src/protocol/discovery/messages.js';
import { DiscoveryServerSession } from '../src/protocol/discovery/server.js';
import { runSessionPairAsync } from '../src/protocol/session-pair.js';
import { memoryBackend, type TestUser } from './helpers/discovery.js';
import { seededRng } from './helpers/rng.js';

const schemas = discoverySchemas(DEFAULT_DISCOVERY_LIMITS);
const universe = Array.from({ length: 30 }, (_, i) => `tel:+4179${5000000 + i}`);
const users: TestUser[] = universe.filter((_, i) => i % 2 === 0).map((id, i) => ({ userId: `u${i}`, identifiers: [id], label: `l${i}` }));
const dir = memoryBackend(users);
const store = { transactions: 0, keys: 0 };
const backend: DiscoveryBackend = {
  ...dir.backend,
  sealedLabels: (e, keys) => {
    store.transactions++;
    store.keys += keys.length;
    return dir.backend.sealedLabels(e, keys);
  },
};

type Action =
  | { a: 'hello' }
  | { a: 'evaluate'; count: number }
  | { a: 'partial'; keys: number[] }
  | { a: 'final'; keys: number[] };

/** Keys are picked from a small pool so that repeats happen; an index names an 8-byte key. */
const keyOf = (i: number) => new Uint8Array(8).fill(i + 1);
const keyList = fc.array(fc.integer({ min: 0, max: 11 }), { minLength: 0, maxLength: 6 });
const action: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.constant<Action>({ a: 'hello' }), weight: 1 },
  { arbitrary: fc.integer({ min: 1, max: 4 }).map<Action>((count) => ({ a: 'evaluate', count })), weight: 3 },
  { arbitrary: keyList.map<Action>((keys) => ({ a: 'partial', keys })), weight: 4 },
  { arbitrary: keyList.map<Action>((keys) => ({ a: 'final', keys })), weight: 1 },
);
const script = fc.record({
  // Mostly a hello first (else everything is refused at once).
  helloFirst: fc.boolean(),
  actions: fc.array(action, { minLength: 1, maxLength: 14 }),
  serverParts: fc.boolean(),
  seed: fc.integer(),
});

/** What the server must do with one label request, from the model of its rules. */
type Outcome = 'answered' | 'ignored' | 'unexpected_message' | 'bad_field' | 'too_large' | 'unsupported' | 'done';

interface Model {
  hello: boolean;
  answeredChunks: number;
  evaluated: number;
  partials: number;
  keysAsked: number;
  partialKeys: Set<number>;
  final: boolean;
}

function expected(m: Model, act: Action, serverParts: boolean): Outcome {
  if (m.final) return 'ignored';
  if (act.a === 'hello') return m.hello ? 'unexpected_message' : 'answered';
  if (!m.hello) return 'unexpected_message';
  if (act.a === 'evaluate') return 'answered';
  if (act.a === 'final') return m.keysAsked + act.keys.length > m.evaluated ? 'too_large' : 'done';
  if (!serverParts) return 'unsupported';
  if (m.partials + 1 > m.answeredChunks + 1) return 'unexpected_message';
  if (act.keys.length === 0) return 'bad_field';
  if (act.keys.some((k, i) => m.partialKeys.has(k) || act.keys.indexOf(k) !== i)) return 'bad_field';
  if (m.keysAsked + act.keys.length > m.evaluated) return 'too_large';
  return 'answered';
}

async function pump(server: DiscoveryServerSession): Promise<DiscoveryMessage[]> {
  const out: DiscoveryMessage[] = [];
  for (;;) {
    for (let b = server.pollTransmit(); b; b = server.pollTransmit()) out.push(decodeMessage<DiscoveryMessage>(b, schemas, 1 << 30));
    const work = [];
    for (let w = server.pollWork(); w; w = server.pollWork()) work.push(w);
    if (work.length === 0) return out;
    await Promise.all(work.map((w) => w(() => 0)));
  }
}

let fresh = 0;
/** Elements never sent before (a repeat is a different refusal, tested elsewhere). */
function chunkOf(count: number): Uint8Array {
  const inputs = Array.from({ length: count }, () => new TextEncoder().encode(`hostile ${fresh++}`));
  return dir.suite.blind(inputs, seededRng(fresh)).blinded;
}

async function honestSync(): Promise<DiscoveryResult> {
  const client = new DiscoveryClientSession({ suite: dir.suite, identifiers: universe, rng: seededRng(1), chunkItems: 4 });
  const server = new DiscoveryServerSession({ backend, rng: seededRng(2), now: 0 });
  const out = await runSessionPairAsync<DiscoveryResult, unknown>(client, server);
  expect(out.clientError).toBeUndefined();
  return out.clientResult!;
}

describe('partial label requests: a hostile client', () => {
  it('each request is answered or refused as the rules say, refusals look nothing up, and the server keeps serving', async () => {
    const reference = await honestSync();
    const seen = new Set<Outcome>();
    await fc.assert(
      fc.asyncProperty(script, async ({ helloFirst, actions, serverParts, seed }) => {
        const server = new DiscoveryServerSession({ backend, rng: seededRng(seed), now: 0, partialLabels: serverParts });
        const m: Model = { hello: false, answeredChunks: 0, evaluated: 0, partials: 0, keysAsked: 0, partialKeys: new Set(), final: false };
        const before = { ...store };
        let accepted = 0;
        for (const act of helloFirst ? [{ a: 'hello' } as Action, ...actions] : actions) {
          const want = expected(m, act, serverParts);
          if (act.a === 'partial' || act.a === 'final') seen.add(want);
          const msg =
            act.a === 'hello'
              ? { t: 'dir.hello', suite: dir.suite.id }
              : act.a === 'evaluate'
                ? { t: 'dir.evaluate', epoch: 1, seq: m.answeredChunks, blinded: chunkOf(act.count) }
                : { t: 'dir.labels.get', epoch: 1, keys: new Uint8Array(act.keys.flatMap((k) => [...keyOf(k)])), format: LABEL_FORMAT, ...(act.a === 'partial' ? { partial: true } : {}) };
          const lookups = store.transactions;
          server.handle(encodeMessage(msg as never), 0);
          const out = await pump(server);
          if (want === 'ignored') {
            expect(out).toEqual([]);
            expect(store.transactions).toBe(lookups);
            continue;
          }
          if (want !== 'answered' && want !== 'done') {
            expect(out.at(-1)).toMatchObject({ t: 'error', code: want });
            expect(store.transactions).toBe(lookups); // refused before anything was looked up
            expect(server.currentState).toBe('failed');
            return;
          }
          if (act.a === 'hello') m.hello = true;
          if (act.a === 'evaluate') {
            expect(out.filter((o) => o.t === 'dir.evaluated')).toHaveLength(1);
            m.answeredChunks++;
            m.evaluated += act.count;
          }
          if (act.a === 'partial' || act.a === 'final') {
            accepted++;
            const labels = out.filter((o) => o.t === 'dir.labels');
            expect(labels).toHaveLength(1);
            m.keysAsked += act.keys.length;
            if (act.a === 'partial') {
              m.partials++;
              for (const k of act.keys) m.partialKeys.add(k);
              // A partial answer carries no receipt.
              expect(labels[0]).not.toHaveProperty('quotaToken');
            } else {
              m.final = true;
              expect(server.isFinished()).toBe(true);
            }
          }
        }
        // One transaction per accepted request, never more keys than the allowance.
        expect(store.transactions - before.transactions).toBe(accepted);
        expect(store.keys - before.keys).toBeLessThanOrEqual(m.evaluated);
        expect(accepted).toBeLessThanOrEqual(m.answeredChunks + 2);
      }),
      { numRuns: 250 },
    );
    // Every rule was exercised by the property itself (not only by the generator).
    for (const o of ['answered', 'ignored', 'unexpected_message', 'bad_field', 'too_large', 'unsupported', 'done'] as const) expect(seen).toContain(o);
    // The server keeps serving other sessions on the same backend.
    const after = await honestSync();
    expect(after.matches).toEqual(reference.matches);
  });

  it('the generators reach each case: before dir.info, too many, empty, repeated keys, over the allowance, after the final request', () => {
    const sample = fc.sample(script, { numRuns: 300, seed: 3 });
    const labels = sample.flatMap((s) => s.actions).filter((a): a is Extract<Action, { keys: number[] }> => a.a === 'partial' || a.a === 'final');
    expect(sample.some((s) => !s.helloFirst && s.actions[0].a === 'partial')).toBe(true);
    expect(labels.some((a) => a.a === 'partial' && a.keys.length === 0)).toBe(true);
    expect(labels.some((a) => a.a === 'partial' && new Set(a.keys).size < a.keys.length)).toBe(true);
    expect(sample.some((s) => s.actions.filter((a) => a.a === 'partial').length > s.actions.filter((a) => a.a === 'evaluate').length + 1)).toBe(true);
    expect(sample.some((s) => s.actions.findIndex((a) => a.a === 'final') >= 0 && s.actions.slice(s.actions.findIndex((a) => a.a === 'final')).some((a) => a.a === 'partial'))).toBe(true);
    expect(sample.some((s) => s.actions.some((a) => a.a === 'partial' && a.keys.length > 4))).toBe(true);
  });
});
