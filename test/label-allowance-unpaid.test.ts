/**
 * The label-key allowance of a session without quotas (spec/discovery.md §9, issue 13
 * task 2): keys <= elements evaluated in the session + the added and relabeled prefixes of
 * the delta sent in it; `maxQueryItems` only once the whole snapshot was downloaded in it.
 * Before, any session could ask `maxQueryItems` lookups (one store read each) without
 * evaluating anything.
 *
 * - a hostile session just past each bound is refused with `too_large` and looks nothing up;
 * - honest sync sequences (first syncs, re-syncs with deltas, relabels, removals, rotations,
 *   cut-off syncs, lost caches) never exceed it and find exactly what a fresh sync finds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../src/protocol/codec.js';
import type { DiscoveryBackend } from '../src/protocol/discovery/backend.js';
import { DiscoveryClientSession, type CachedSnapshot, type DiscoveryResult, type KnownOutputs } from '../src/protocol/discovery/client.js';
import { DEFAULT_DISCOVERY_LIMITS, discoverySchemas } from '../src/protocol/discovery/messages.js';
import { DiscoveryServerSession } from '../src/protocol/discovery/server.js';
import { runSessionPairAsync } from '../src/protocol/session-pair.js';
import { VersionedBackend, type TestUser } from './helpers/discovery.js';
import { seededRng } from './helpers/rng.js';

const schemas = discoverySchemas(DEFAULT_DISCOVERY_LIMITS);
const universe = Array.from({ length: 24 }, (_, i) => `tel:+4179${3000000 + i}`);
const userOf = (i: number, label: string): TestUser => ({ userId: `u${i}`, identifiers: [universe[i]], label });

/** VersionedBackend with dir.delta `relabeled`: tags at both versions whose user's label changed. */
class RelabelingBackend extends VersionedBackend {
  // Set after super(): VersionedBackend's constructor calls publish() before fields exist.
  private st?: { labels: Map<string, Map<string, string>>; epoch: number; version: number; last: TestUser[] };
  lookups = 0;
  constructor(users: TestUser[]) {
    super(users);
    this.st = { labels: new Map(), epoch: 1, version: 1, last: users };
    this.record(users);
  }
  override publish(users: TestUser[]): void {
    super.publish(users);
    if (!this.st) return;
    this.st.version++;
    this.record(users);
  }
  override rotate(): void {
    super.rotate();
    this.st!.epoch++;
    this.record(this.st!.last);
  }
  private record(users: TestUser[]): void {
    this.st!.last = users;
    this.st!.labels.set(`${this.st!.epoch}:${this.st!.version}`, new Map(users.flatMap((u) => u.identifiers.map((id) => [id, u.label]))));
  }
  override async sealedLabels(e: number, keys: readonly Uint8Array[]) {
    this.lookups += keys.length;
    return super.sealedLabels(e, keys);
  }
  override async delta(e: number, fromVersion: number) {
    const d = await super.delta(e, fromVersion);
    const before = this.st!.labels.get(`${e}:${fromVersion}`);
    const after = this.st!.labels.get(`${e}:${this.st!.version}`);
    if (!d || !before || !after) return d;
    const view = this.epoch(e)!;
    const changed = [...after].filter(([id, label]) => before.has(id) && before.get(id) !== label).map(([id]) => id);
    const prefixes = view.suite.evaluate(view.keys.secretKey, changed.map((id) => new TextEncoder().encode(id))).map((t) => Buffer.from(t.subarray(0, 8)));
    prefixes.sort(Buffer.compare);
    return { ...d, relabeled: new Uint8Array(Buffer.concat(prefixes)) };
  }
}

interface SyncResult {
  result?: DiscoveryResult;
  error?: string;
  labelKeys: number;
  evaluated: number;
  partial?: KnownOutputs;
}

async function sync(backend: DiscoveryBackend, ids: readonly string[], outputs?: KnownOutputs, cache?: CachedSnapshot, cutOff = false): Promise<SyncResult> {
  const client = new DiscoveryClientSession({ suite: backend.current().suite, identifiers: ids, rng: seededRng(ids.length + 7), outputs, cache });
  const server = new DiscoveryServerSession({ backend, rng: seededRng(3), now: 0 });
  let labelKeys = 0;
  let evaluated = 0;
  const out = await runSessionPairAsync<DiscoveryResult, unknown>(client, server, 0, {
    toServer: (b) => {
      const m = decodeMessage<{ t: string; keys?: Uint8Array; blinded?: Uint8Array }>(b, schemas, 1 << 30);
      if (m.t === 'dir.evaluate') evaluated += m.blinded!.length / 32;
      if (m.t === 'dir.labels.get') {
        labelKeys += m.keys!.length / 8;
        if (cutOff) return undefined; // the connection drops before the labels
      }
      return b;
    },
  });
  return { result: out.clientResult, error: out.clientError?.code ?? out.serverError?.code, labelKeys, evaluated, partial: cutOff ? client.partialOutputs : undefined };
}

const matchesOf = (r: DiscoveryResult) => r.matches.map((m) => `${m.identifier}=${m.userId}:${new TextDecoder().decode(m.label)}`).sort();

describe('label keys without quotas: a hostile session', () => {
  const users = universe.slice(0, 12).map((_, i) => userOf(i, `l${i}`));
  const hello = encodeMessage({ t: 'dir.hello', suite: 'ristretto255-SHA512' });
  const get = (n: number, epoch = 1) => encodeMessage({ t: 'dir.labels.get', epoch, keys: new Uint8Array(8 * n).fill(1), format: 2 });
  const session = (backend: DiscoveryBackend, limits = {}) => new DiscoveryServerSession({ backend, rng: seededRng(1), now: 0, limits });

  it('nothing evaluated, downloaded or delta-ed: 0 keys are answered, 1 is too_large and nothing is looked up', async () => {
    for (const [n, code] of [[0, undefined], [1, 'too_large']] as const) {
      const backend = new RelabelingBackend(users);
      const s = session(backend);
      s.handle(hello, 0);
      s.handle(get(n), 0);
      for (let w = s.pollWork?.(); w; w = s.pollWork?.()) await w(() => 0);
      expect(s.error?.code).toBe(code);
      expect(backend.lookups).toBe(0);
    }
  });

  it('n elements evaluated: n keys, not n + 1', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.boolean(), async (n, past) => {
        const backend = new RelabelingBackend(users);
        const s = session(backend);
        s.handle(hello, 0);
        const suite = backend.current().suite;
        const blinded = suite.blind(Array.from({ length: n }, (_, i) => new TextEncoder().encode(`x${i}`)), seededRng(n)).blinded;
        s.handle(encodeMessage({ t: 'dir.evaluate', epoch: 1, seq: 0, blinded }), 0);
        for (let w = s.pollWork?.(); w; w = s.pollWork?.()) await w(() => 0);
        s.handle(get(n + (past ? 1 : 0)), 0);
        for (let w = s.pollWork?.(); w; w = s.pollWork?.()) await w(() => 0);
        expect(s.error?.code).toBe(past ? 'too_large' : undefined);
        expect(backend.lookups).toBe(past ? 0 : n);
      }),
      { numRuns: 8 },
    );
  });

  it('a delta of k added + relabeled prefixes: k keys, not k + 1', async () => {
    const backend = new RelabelingBackend(users);
    backend.publish([...users.map((u, i) => (i < 2 ? { ...u, label: `new${i}` } : u)), userOf(20, 'l20'), userOf(21, 'l21'), userOf(22, 'l22')]);
    const d = (await backend.delta(1, 1)) as { added: Uint8Array; relabeled: Uint8Array };
    const k = (d.added.length + d.relabeled.length) / 8;
    expect([d.added.length / 8, d.relabeled.length / 8]).toEqual([3, 2]);
    for (const past of [false, true]) {
      const s = session(backend);
      s.handle(hello, 0);
      s.handle(encodeMessage({ t: 'dir.delta.get', epoch: 1, fromVersion: 1 }), 0);
      for (let w = s.pollWork?.(); w; w = s.pollWork?.()) await w(() => 0);
      s.handle(get(k + (past ? 1 : 0)), 0);
      for (let w = s.pollWork?.(); w; w = s.pollWork?.()) await w(() => 0);
      expect(s.error?.code).toBe(past ? 'too_large' : undefined);
    }
  });

  it('the wide bound (maxQueryItems) only after the whole snapshot was downloaded in the session', async () => {
    const backend = new RelabelingBackend(users);
    const size = backend.current().snapshot.bytes.length;
    for (const [parts, n, code] of [
      [[[0, size]], 20, undefined],
      [[[0, size]], 21, 'too_large'],
      [[[0, size - 1]], 1, 'too_large'], // one byte short
      [[[1, size]], 1, 'too_large'], // not from the start
      [[[0, 10], [10, size]], 20, undefined],
    ] as const) {
      const s = session(backend, { maxQueryItems: 20 });
      s.handle(hello, 0);
      for (const [from, to] of parts) s.handle(encodeMessage({ t: 'dir.snapshot.get', epoch: 1, version: 1, offset: from, length: to - from }), 0);
      s.handle(get(n), 0);
      for (let w = s.pollWork?.(); w; w = s.pollWork?.()) await w(() => 0);
      expect(s.error?.code, `${JSON.stringify(parts)} ${n}`).toBe(code);
    }
  });
});

describe('label keys without quotas: honest sync sequences stay within the bound', () => {
  type Op =
    | { t: 'sync'; book: string[]; keepOutputs: boolean; keepCache: boolean; cutOff: boolean }
    | { t: 'publish'; present: number[]; relabel: number[] }
    | { t: 'rotate' };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ t: fc.constant('sync' as const), book: fc.subarray(universe, { minLength: 1, maxLength: 14 }), keepOutputs: fc.boolean(), keepCache: fc.boolean(), cutOff: fc.boolean() }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('publish' as const), present: fc.subarray(Array.from({ length: 24 }, (_, i) => i), { minLength: 1 }), relabel: fc.subarray(Array.from({ length: 24 }, (_, i) => i)) }) },
    { weight: 1, arbitrary: fc.constant({ t: 'rotate' as const }) },
  );

  it('the generator reaches relabels, cut-off syncs followed by syncs with outputs, and deltas', () => {
    const seqs = fc.sample(fc.array(opArb, { minLength: 3, maxLength: 10 }), 200);
    expect(seqs.some((s) => s.some((o) => o.t === 'publish' && o.relabel.length > 0))).toBe(true);
    expect(seqs.some((s) => s.some((o, i) => o.t === 'sync' && o.cutOff && s.slice(i + 1).some((p) => p.t === 'sync' && p.keepOutputs)))).toBe(true);
    expect(seqs.some((s) => s.some((o, i) => o.t === 'publish' && s.slice(0, i).some((p) => p.t === 'sync' && p.keepCache === false) && s.slice(i + 1).some((p) => p.t === 'sync' && p.keepCache)))).toBe(true);
  });

  // The two honest cases that ask labels of outputs neither evaluated nor named by a delta in
  // the session: the client evaluates them again (free without a quota) instead of asking.
  it("a cut-off sync's outputs, asked again with the cached snapshot and no delta, are evaluated again", async () => {
    const backend = new RelabelingBackend(universe.slice(0, 12).map((_, i) => userOf(i, `l${i}`)));
    const first = await sync(backend, universe.slice(0, 2));
    const book = universe.slice(0, 8);
    const cut = await sync(backend, book, first.result!.outputs, first.result!.snapshot, true);
    expect(cut.partial!.entries.size).toBe(8);
    const next = await sync(backend, book, cut.partial, first.result!.snapshot);
    expect(next.error).toBeUndefined();
    expect(matchesOf(next.result!)).toEqual(matchesOf((await sync(backend, book)).result!));
    expect(next.labelKeys).toBeLessThanOrEqual(next.evaluated);
  });

  it('outputs checked at another version than the cached snapshot are evaluated again, not asked for', async () => {
    const users = universe.slice(0, 12).map((_, i) => userOf(i, `l${i}`));
    const backend = new RelabelingBackend(users);
    const book = universe.slice(0, 8);
    const first = await sync(backend, book);
    backend.publish(users.map((u, i) => (i === 1 ? { ...u, label: 'changed' } : u)));
    const second = await sync(backend, universe.slice(12, 14), undefined, first.result!.snapshot); // the cache moves to version 2
    const third = await sync(backend, book, first.result!.outputs, second.result!.snapshot);
    expect(third.error).toBeUndefined();
    expect(matchesOf(third.result!)).toEqual(matchesOf((await sync(backend, book)).result!));
    expect(third.labelKeys).toBeLessThanOrEqual(third.evaluated);
  });

  it('every sync completes (never too_large) and finds what a fresh sync finds, labels included', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 2, maxLength: 10 }), async (ops) => {
        let generation = 0;
        let users = universe.slice(0, 12).map((_, i) => userOf(i, `l${i}`));
        const backend = new RelabelingBackend(users);
        let outputs: KnownOutputs | undefined;
        let cache: CachedSnapshot | undefined;
        for (const op of ops) {
          if (op.t === 'rotate') {
            backend.rotate();
            continue;
          }
          if (op.t === 'publish') {
            generation++;
            users = op.present.map((i) => userOf(i, op.relabel.includes(i) ? `l${i}-g${generation}` : (users.find((u) => u.userId === `u${i}`)?.label ?? `l${i}`)));
            backend.publish(users);
            continue;
          }
          const out = await sync(backend, op.book, op.keepOutputs ? outputs : undefined, op.keepCache ? cache : undefined, op.cutOff);
          if (op.cutOff) {
            expect(out.error).toBeUndefined();
            outputs = out.partial ?? outputs;
            continue;
          }
          expect(out.error).toBeUndefined();
          const fresh = await sync(backend, op.book);
          expect(matchesOf(out.result!)).toEqual(matchesOf(fresh.result!));
          outputs = out.result!.outputs;
          cache = out.result!.snapshot;
        }
      }),
      { numRuns: 25 },
    );
  });
});
