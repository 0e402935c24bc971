/**
 * Red team, wave 5: the discovery client's `blinding` option. 'multiplicative' must still
 * send RFC 9497's r H(x) (the elements of suite.blindWith with the same blinds), the
 * default 'additive' H(x) + r G, and an offload without the additive methods falls back
 * to multiplicative; whatever the mode, inline or pipelined, random or deterministic
 * blinds, a sync gives the same outputs and matches. Deterministic blinds: one element per
 * contact, stable across syncs in each mode, never equal across contacts or across modes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blindAdditive, finalizeAdditive } from '../src/oprf/additive.js';
import type { OprfSuite } from '../src/oprf/index.js';
import { DiscoveryClientSession, type DiscoveryResult } from '../src/protocol/discovery/client.js';
import { DiscoveryServerSession } from '../src/protocol/discovery/server.js';
import type { OprfOffload } from '../src/protocol/offload.js';
import { runSessionPairAsync } from '../src/protocol/session-pair.js';
import { decodeMessage } from '../src/protocol/codec.js';
import { DEFAULT_DISCOVERY_LIMITS, discoverySchemas } from '../src/protocol/discovery/messages.js';
import { memoryBackend, type TestUser } from './helpers/discovery.js';
import { seededRng } from './helpers/rng.js';

const universe = Array.from({ length: 40 }, (_, i) => `tel:+4179${5000000 + i}`);
const users: TestUser[] = universe.filter((_, i) => i % 3 === 1).map((id, i) => ({ userId: `u${i}`, identifiers: [id], label: `l${i}` }));
const dir = memoryBackend(users);
const schemas = discoverySchemas(DEFAULT_DISCOVERY_LIMITS);

type Offload = 'none' | 'full' | 'multiplicativeOnly';
function offloadOf(kind: Offload): OprfOffload | undefined {
  if (kind === 'none') return undefined;
  const base: OprfOffload = {
    blindWith: async (suite, inputs, blinds) => suite.blindWith(inputs, blinds),
    finalize: async (suite, state, evaluated, verify) => suite.finalize(state, evaluated, verify),
    blindEvaluateVerifiable: async (suite, key, blinded, rng) => suite.blindEvaluateVerifiable(key, blinded, rng),
  };
  if (kind === 'multiplicativeOnly') return base;
  return { ...base, blindAdditive: async (s, i, b) => blindAdditive(s, i, b), finalizeAdditive: async (s, st, e, v) => finalizeAdditive(s, st, e, v) };
}

async function sync(contacts: string[], blinding: 'additive' | 'multiplicative' | undefined, offload: Offload, seed: number, secret: Uint8Array | undefined, chunk: number) {
  const client = new DiscoveryClientSession({ suite: dir.suite, identifiers: contacts, rng: seededRng(seed), blindSecret: secret, offload: offloadOf(offload), chunkItems: chunk, blinding });
  const server = new DiscoveryServerSession({ backend: dir.backend, rng: seededRng(2), now: 0 });
  const sent: Uint8Array[] = [];
  const out = await runSessionPairAsync<DiscoveryResult, unknown>(client, server, 0, {
    toServer: (bytes) => {
      const m = decodeMessage<{ t: string; blinded?: Uint8Array }>(bytes, schemas, 1 << 30);
      if (m.t === 'dir.evaluate') sent.push(m.blinded!.slice());
      return bytes;
    },
  });
  expect(out.clientError).toBeUndefined();
  const r = out.clientResult!;
  const outputs = [...r.outputs.entries].map(([id, e]) => `${id} ${Buffer.from(e.output).toString('hex')} ${e.match?.userId ?? ''}`).sort();
  const matches = r.matches.map((m) => `${m.identifier} ${m.userId}`).sort();
  const elements = Buffer.concat(sent);
  return { outputs, matches, elements };
}

const elementsOf = (b: Buffer) => Array.from({ length: b.length / 32 }, (_, i) => b.subarray(32 * i, 32 * i + 32).toString('hex'));

/** client.ts deterministicBlind, restated: H(secret || contact) to a scalar (0 -> 1), a domain per mode. */
function deterministicBlind(suite: OprfSuite, secret: Uint8Array, contact: string, mode: 'additive' | 'multiplicative'): Uint8Array {
  const dst = mode === 'additive' ? 'contact-psi-v1-deterministic-blind-additive' : 'contact-psi-v1-deterministic-blind';
  const r = suite.group.hashToScalarBytes(new Uint8Array([...secret, ...new TextEncoder().encode(contact)]), new TextEncoder().encode(dst));
  return suite.group.scalar.isZero(r) ? suite.group.scalar.toBytes(1n) : r;
}

/** What suite.blindWith / blindAdditive send for the contacts with these blinds (the client's rng draws). */
function expectedElements(suite: OprfSuite, contacts: string[], blinds: Uint8Array[], mode: 'additive' | 'multiplicative'): string[] {
  const xs = contacts.map((c) => new TextEncoder().encode(c));
  const st = mode === 'additive' ? blindAdditive(suite, xs, blinds) : suite.blindWith(xs, blinds);
  return elementsOf(Buffer.from(st.blinded));
}

describe('red team wave 5: blinding modes of the discovery client', () => {
  it('every mode, offload and chunking gives the same outputs and matches; the elements sent are the mode\'s', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.constantFrom(...universe), { minLength: 1, maxLength: 25 }),
        fc.constantFrom<'additive' | 'multiplicative' | undefined>('additive', 'multiplicative', undefined),
        fc.constantFrom<Offload>('none', 'full', 'multiplicativeOnly'),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 0, max: 1000 }),
        async (contacts, blinding, offload, chunk, seed) => {
          const reference = await sync(contacts, 'multiplicative', 'none', seed, undefined, 64);
          const got = await sync(contacts, blinding, offload, seed, undefined, chunk);
          expect(got.outputs).toEqual(reference.outputs);
          expect(got.matches).toEqual(reference.matches);
          const effective = blinding === 'multiplicative' || offload === 'multiplicativeOnly' ? 'multiplicative' : 'additive';
          // Deterministic blinds make the elements predictable: the same session with a blind secret.
          const secret = new Uint8Array(32).fill(seed % 251);
          const det = await sync(contacts, blinding, offload, seed, secret, chunk);
          expect(det.outputs).toEqual(reference.outputs);
          const again = await sync(contacts, blinding, offload, seed + 1, secret, chunk);
          expect(again.elements.equals(det.elements)).toBe(true); // stable across syncs
          const other = await sync(contacts, effective === 'additive' ? 'multiplicative' : 'additive', 'none', seed, secret, chunk);
          const mine = elementsOf(det.elements);
          const theirs = new Set(elementsOf(other.elements));
          expect(new Set(mine).size).toBe(mine.length); // never equal across contacts
          for (const e of mine) expect(theirs.has(e)).toBe(false); // nor across modes
          // The elements sent are exactly the mode's for the deterministic blinds (client.ts deterministicBlind).
          expect(new Set(mine)).toEqual(new Set(expectedElements(dir.suite, contacts, contacts.map((c) => deterministicBlind(dir.suite, secret, c, effective)), effective)));
          // One r per contact and mode: an additive element is never H(x) + r G for the r the
          // multiplicative mode uses (the server would hold r H(x) and H(x) + r G, DDH-hiding only).
          const otherMode = effective === 'additive' ? 'multiplicative' : 'additive';
          const crossed = new Set(expectedElements(dir.suite, contacts, contacts.map((c) => deterministicBlind(dir.suite, secret, c, otherMode)), effective));
          for (const e of mine) expect(crossed.has(e)).toBe(false);
        },
      ),
      { numRuns: 25 },
    );
  });
});
