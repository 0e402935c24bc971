/**
 * Partial label requests (issue 13; spec/discovery.md §2, §9): a client asks for each
 * finalized chunk's labels while later chunks are evaluated, when dir.info says
 * `labelParts`. None of that may change what a sync computes: the outcome with partial
 * requests equals the single request's (an old client, `partialLabels: false`) and the one
 * against a server that does not announce them (`partialLabels: false` on the server), for
 * random books, directories, chunk sizes, completion orders of the client's offloaded work
 * and of the server's label lookups, and known outputs re-fetched by the final request.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DiscoveryClientSession, PARTIAL_LABEL_KEYS, type DiscoveryResult, type KnownOutputs } from '../src/protocol/discovery/client.js';
import { DiscoveryServerSession } from '../src/protocol/discovery/server.js';
import type { DiscoveryBackend } from '../src/protocol/discovery/backend.js';
import type { OprfOffload } from '../src/protocol/offload.js';
import { blindAdditive, finalizeAdditive } from '../src/oprf/additive.js';
import { runSessionPairAsync } from '../src/protocol/session-pair.js';
import { decodeMessage } from '../src/protocol/codec.js';
import { DEFAULT_DISCOVERY_LIMITS, discoverySchemas } from '../src/protocol/discovery/messages.js';
import { encodeMessage } from '../src/protocol/codec.js';
import { memoryBackend, voprfSuite, type TestUser } from './helpers/discovery.js';
import { seededRng } from './helpers/rng.js';

const suite = voprfSuite();
const keys = suite.generateKeyPair(seededRng(77));
const universe = Array.from({ length: 80 }, (_, i) => `tel:+4179${4000000 + i}`);
const schemas = discoverySchemas(DEFAULT_DISCOVERY_LIMITS);

/** A directory of the universe's identifiers picked by `mask` (bit i of the universe index), labels in random completion order. */
function directory(mask: readonly boolean[], lookupDelays: readonly number[]) {
  const users: TestUser[] = universe.filter((_, i) => mask[i % mask.length]).map((id, i) => ({ userId: `u${i}`, identifiers: [id], label: `label ${i}` }));
  const dir = memoryBackend(users, { suite, keys });
  let call = 0;
  const backend: DiscoveryBackend = {
    ...dir.backend,
    sealedLabels: (e, k) => new Promise((resolve, reject) => setTimeout(() => dir.backend.sealedLabels(e, k).then(resolve, reject), lookupDelays[call++ % lookupDelays.length])),
  };
  return { ...dir, backend };
}

/** The suite's own methods, settling in a shuffled order (the pipelining order). */
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
    blindWith: (s, inputs, blinds) => later(() => s.blindWith(inputs, blinds)),
    finalize: (s, state, evaluated, verify) => later(() => s.finalize(state, evaluated, verify)),
    blindAdditive: (s, inputs, blinds) => later(() => blindAdditive(s, inputs, blinds)),
    finalizeAdditive: (s, state, evaluated, verify) => later(() => finalizeAdditive(s, state, evaluated, verify)),
    blindEvaluateVerifiable: (s, key, blinded, rng) => Promise.resolve(s.blindEvaluateVerifiable(key, blinded, rng)),
  };
}

interface Run {
  clientParts: boolean;
  serverParts: boolean;
  /** Most keys per partial request (a backlog carried to later requests when small). */
  partKeys?: number;
}

async function sync(
  dir: ReturnType<typeof directory>,
  contacts: string[],
  chunk: number,
  delays: readonly number[] | undefined,
  run: Run,
  outputs?: KnownOutputs,
) {
  const client = new DiscoveryClientSession({
    suite,
    identifiers: contacts,
    rng: seededRng(3),
    blindSecret: new Uint8Array(32).fill(9),
    offload: delays ? shuffledOffload(delays) : undefined,
    chunkItems: chunk,
    outputs,
    partialLabels: run.clientParts,
    partialLabelKeys: run.partKeys,
  });
  const server = new DiscoveryServerSession({ backend: dir.backend, rng: seededRng(2), now: 0, partialLabels: run.serverParts });
  const labelRequests: { partial: boolean; keys: number }[] = [];
  const out = await runSessionPairAsync<DiscoveryResult, unknown>(client, server, 0, {
    toServer: (bytes) => {
      const m = decodeMessage<{ t: string; keys?: Uint8Array; partial?: boolean }>(bytes, schemas, 1 << 30);
      if (m.t === 'dir.labels.get') labelRequests.push({ partial: m.partial === true, keys: m.keys!.length / 8 });
      return bytes;
    },
  });
  expect(out.clientError).toBeUndefined();
  expect(out.serverError).toBeUndefined();
  expect(server.isFinished()).toBe(true);
  return { result: out.clientResult!, labelRequests };
}

/** Everything a sync hands back to the app, in order (Map order of the outputs included). */
const outcomeOf = (r: DiscoveryResult) => ({
  matches: r.matches.map((m) => `${m.identifier} ${m.userId} ${Buffer.from(m.label).toString('hex')}`),
  outputs: [...r.outputs.entries].map(([id, e]) => `${id} ${Buffer.from(e.output).toString('hex')} ${e.labelChecked} ${e.match?.userId ?? ''} ${e.match ? Buffer.from(e.match.label).toString('hex') : ''}`),
  counts: [r.falsePositives, r.badLabels, r.oversizedLabels, r.evaluated, r.labelsFetched],
});

const books = fc.subarray(universe, { minLength: 1, maxLength: 80 });
const arbitraries = fc.record({
  mask: fc.array(fc.boolean(), { minLength: 1, maxLength: 7 }),
  first: books,
  second: books,
  chunk: fc.integer({ min: 1, max: 20 }),
  clientDelays: fc.option(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 6 }), { nil: undefined }),
  lookupDelays: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 6 }),
  forget: fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }),
  partKeys: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
});

describe('partial label requests: the same outcome as one request', () => {
  it('new client + new server == old client + new server == new client + server without labelParts, first and re-fetching syncs', async () => {
    const seen = { partial: 0, refetchWithParts: 0 };
    await fc.assert(
      fc.asyncProperty(arbitraries, async ({ mask, first, second, chunk, clientDelays, lookupDelays, forget, partKeys }) => {
        const dir = directory(mask, lookupDelays);
        const runs: Run[] = [
          { clientParts: true, serverParts: true, partKeys },
          { clientParts: false, serverParts: true },
          { clientParts: true, serverParts: false },
        ];
        const firsts = [];
        for (const run of runs) firsts.push(await sync(dir, first, chunk, clientDelays, run));
        const [parts, old, oldServer] = firsts;
        expect(outcomeOf(old.result)).toEqual(outcomeOf(parts.result));
        expect(outcomeOf(oldServer.result)).toEqual(outcomeOf(parts.result));
        // Without the flag on either side: exactly one request, never a partial one.
        expect(old.labelRequests).toEqual([{ partial: false, keys: old.result.labelsFetched }]);
        expect(oldServer.labelRequests).toEqual([{ partial: false, keys: oldServer.result.labelsFetched }]);
        // With it: every key once, over the partial requests and the final one.
        expect(parts.labelRequests.at(-1)!.partial).toBe(false);
        expect(parts.labelRequests.slice(0, -1).every((r) => r.partial && r.keys > 0)).toBe(true);
        expect(parts.labelRequests.slice(0, -1).every((r) => r.keys <= (partKeys ?? PARTIAL_LABEL_KEYS))).toBe(true);
        expect(parts.labelRequests.reduce((n, r) => n + r.keys, 0)).toBe(parts.result.labelsFetched);
        // A second sync (downloads again, so every known hit is re-fetched by the final
        // request) with a few outputs marked unchecked and new contacts evaluated.
        const known: KnownOutputs = { ...parts.result.outputs, entries: new Map([...parts.result.outputs.entries].map(([id, e], i) => [id, forget[i % forget.length] ? { output: e.output, labelChecked: false } : e])) };
        const book = [...new Set([...first, ...second])];
        const seconds = [];
        for (const run of runs) seconds.push(await sync(dir, book, chunk, clientDelays, run, known));
        expect(outcomeOf(seconds[1].result)).toEqual(outcomeOf(seconds[0].result));
        expect(outcomeOf(seconds[2].result)).toEqual(outcomeOf(seconds[0].result));
        if (parts.labelRequests.length > 1) seen.partial++;
        // Known hits re-fetched by the final request while new contacts' hits went partially.
        const s0 = seconds[0];
        if (s0.labelRequests.length > 1 && s0.labelRequests.at(-1)!.keys > 0 && s0.result.evaluated < book.length && s0.result.labelsFetched > s0.result.evaluated) seen.refetchWithParts++;
      }),
      { numRuns: 30 },
    );
    // The property ran the partial path, not only the single request.
    expect(seen.partial).toBeGreaterThan(3);
    expect(seen.refetchWithParts).toBeGreaterThan(0);
  });

  it('the generators reach several chunks with hits, chunks without, empty second books and re-fetches', () => {
    const sample = fc.sample(arbitraries, { numRuns: 300, seed: 7 });
    const hitsOf = (s: (typeof sample)[number], book: string[]) => book.filter((id) => s.mask[universe.indexOf(id) % s.mask.length]).length;
    expect(sample.some((s) => hitsOf(s, s.first) >= 3 && s.first.length >= 3 * s.chunk)).toBe(true);
    expect(sample.some((s) => hitsOf(s, s.first) === 0)).toBe(true);
    expect(sample.some((s) => s.second.every((id) => s.first.includes(id)))).toBe(true);
    expect(sample.some((s) => s.clientDelays === undefined)).toBe(true);
    expect(sample.some((s) => s.clientDelays !== undefined && new Set(s.lookupDelays).size > 1)).toBe(true);
    expect(sample.some((s) => s.forget.includes(true) && s.forget.includes(false))).toBe(true);
    // A cap below a chunk's hits (a backlog carried to later requests), and the default cap.
    expect(sample.some((s) => s.partKeys !== undefined && s.partKeys < hitsOf(s, s.first) / 3 && s.chunk >= 6)).toBe(true);
    expect(sample.some((s) => s.partKeys === undefined)).toBe(true);
  });
});

describe('mixed versions on the wire', () => {
  // The schemas of a build from before labelParts: dir.info and dir.labels.get without the new fields.
  const before = discoverySchemas(DEFAULT_DISCOVERY_LIMITS);
  const { labelParts: _lp, ...infoBefore } = before['dir.info'];
  const { partial: _p, ...getBefore } = before['dir.labels.get'];
  const oldSchemas = { ...before, 'dir.info': infoBefore, 'dir.labels.get': getBefore };

  async function infoBytes(partialLabels: boolean | undefined): Promise<Uint8Array> {
    const dir = directory([true], [0]);
    const server = new DiscoveryServerSession({ backend: dir.backend, rng: seededRng(2), now: 0, ...(partialLabels === undefined ? {} : { partialLabels }) });
    server.handle(encodeMessage({ t: 'dir.hello', suite: suite.id }), 0);
    return server.pollTransmit()!;
  }

  it('a server with partialLabels: false sends the dir.info an older decoder takes; with it on, an older decoder refuses it (hence the two-step rollout, spec §9)', async () => {
    expect(decodeMessage<{ t: string }>(await infoBytes(false), oldSchemas, 1 << 30).t).toBe('dir.info');
    const on = await infoBytes(true);
    expect(() => decodeMessage(on, oldSchemas, 1 << 30)).toThrow(/labelParts/);
    expect(decodeMessage<{ t: string; labelParts?: boolean }>(on, schemas, 1 << 30).labelParts).toBe(true);
  });

  it('by default a server does not announce labelParts: clients of an older build keep working until the operator turns it on', async () => {
    const info = decodeMessage<{ t: string; labelParts?: boolean }>(await infoBytes(undefined), oldSchemas, 1 << 30);
    expect(info.t).toBe('dir.info');
    expect(info.labelParts).toBeUndefined();
  });

  it('a new client against a server without labelParts sends only what an older server decodes', async () => {
    const dir = directory([true, false], [0]);
    const client = new DiscoveryClientSession({ suite, identifiers: universe.slice(0, 40), rng: seededRng(3), chunkItems: 5 });
    const server = new DiscoveryServerSession({ backend: dir.backend, rng: seededRng(2), now: 0, partialLabels: false });
    const out = await runSessionPairAsync<DiscoveryResult, unknown>(client, server, 0, {
      toServer: (bytes) => {
        decodeMessage(bytes, oldSchemas, 1 << 30); // throws bad_field on a field an older server does not know
        return bytes;
      },
    });
    expect(out.clientError).toBeUndefined();
    expect(out.clientResult!.matches.length).toBe(20);
  });
});
