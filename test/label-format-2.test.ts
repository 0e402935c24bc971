/**
 * Label format 2 (issue 13 §1, spec/discovery.md §1): the deterministic SIV seal, the
 * 8-byte wire lookup keys, the packed dir.labels answers and entries that share a wire key.
 *
 * - test/vectors/labels/seal-v2.json: fixed tags, user ids and labels -> fixed bytes
 *   (regenerate with LABEL_VECTORS=write), checked against labels.ts (noble) and the native
 *   sealer (Node's OpenSSL), which must agree byte for byte;
 * - open(seal(x)) = x; every single bit flip of the seal or of the tag is refused with
 *   `bad_field`; lengths at and past the bounds;
 * - label-wire: unpack(pack(x)) = x, malformed answers refused with `bad_field`, random
 *   bytes never anything but a ProtocolError;
 * - a collision of wire keys (crafted store rows, a crafted backend) still gives each
 *   client its own label.
 */
import { SCHEMA_VERSION } from '../src/directory/sqlite-schema.js';
import { createCipheriv, createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { sha512 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../src/directory/memory-store.js';
import { sealLabelsWith } from '../src/directory/seal.js';
import { SqliteStore } from '../src/directory/sqlite-store.js';
import type { DirectoryStore } from '../src/directory/types.js';
import { DiscoveryClientSession } from '../src/protocol/discovery/client.js';
import { packLabelAnswers, unpackLabelAnswers } from '../src/protocol/discovery/label-wire.js';
import {
  lookupKeyOf,
  MAX_LABELS_PER_LOOKUP_KEY,
  MAX_SEALED_LABEL_BYTES,
  openLabel,
  readVarint,
  sealedLabelBytes,
  sealLabel,
  SIV_BYTES,
  wireLookupKeyOf,
  writeVarint,
} from '../src/protocol/discovery/labels.js';
import { DiscoveryServerSession, type DiscoveryServerResult } from '../src/protocol/discovery/server.js';
import { ProtocolError } from '../src/protocol/errors.js';
import { runSessionPairAsync } from '../src/protocol/session-pair.js';
import { memoryBackend } from './helpers/discovery.js';
import { seededRng } from './helpers/rng.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const utf8 = new TextEncoder();
const code = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (err) {
    return err instanceof ProtocolError ? err.code : `not a ProtocolError: ${String(err)}`;
  }
};

// ---------------------------------------------------------------------------------------
// Known answers
// ---------------------------------------------------------------------------------------

interface SealVector {
  name: string;
  tag: string;
  userId: string;
  label: string;
  lookupKey: string;
  wireLookupKey: string;
  sealed: string;
}

const VECTORS = new URL('./vectors/labels/seal-v2.json', import.meta.url);
const tagOf = (name: string) => sha512(utf8.encode(`contact-psi label vector ${name}`));
const CASES: [string, string, Uint8Array][] = [
  ['empty', '', new Uint8Array(0)],
  ['short', 'u123456', new Uint8Array(32).map((_, i) => i)],
  ['text label', 'alice@example.org', utf8.encode('pk:ed25519:AAAA')],
  ['unicode id', 'Zoë 😀', utf8.encode('ラベル')],
  ['id of 127 bytes (1-byte length)', 'a'.repeat(127), Uint8Array.of(1)],
  ['id of 128 bytes (2-byte length)', 'b'.repeat(128), Uint8Array.of(2)],
  ['largest label', 'u1', new Uint8Array(MAX_SEALED_LABEL_BYTES - sealedLabelBytes(2, 0)).fill(0xa5)],
];

function vectors(): SealVector[] {
  return CASES.map(([name, userId, label]) => {
    const tag = tagOf(name);
    return { name, tag: hex(tag), userId, label: hex(label), lookupKey: hex(lookupKeyOf(tag)), wireLookupKey: hex(wireLookupKeyOf(tag)), sealed: hex(sealLabel(tag, { userId, label })) };
  });
}

/** The construction written out once more with Node's crypto, as spec/discovery.md §1 states it. */
function sealBySpec(tag: Uint8Array, userId: string, label: Uint8Array): Uint8Array {
  const keys = sha512(new Uint8Array([...utf8.encode('contact-psi-v2-label-seal'), ...tag]));
  const id = utf8.encode(userId);
  const length = new Uint8Array(3);
  const p = new Uint8Array([...length.subarray(0, writeVarint(length, 0, id.length)), ...id, ...label]);
  const siv = createHmac('sha256', keys.subarray(32)).update(p).digest().subarray(0, 12);
  const body = createCipheriv('chacha20', keys.subarray(0, 32), new Uint8Array([0, 0, 0, 0, ...siv])).update(p);
  return new Uint8Array([...siv, ...body]);
}

describe('label format 2: known answers', () => {
  if (process.env.LABEL_VECTORS === 'write') writeFileSync(VECTORS, JSON.stringify(vectors(), null, 1) + '\n');
  const recorded = JSON.parse(readFileSync(VECTORS, 'utf8')) as SealVector[];

  it('seal-v2.json: labels.ts, the native sealer and the construction as specified give the recorded bytes, which open back', () => {
    expect(vectors()).toEqual(recorded);
    for (const v of recorded) {
      const tag = unhex(v.tag);
      const label = unhex(v.label);
      expect(hex(sealBySpec(tag, v.userId, label)), v.name).toBe(v.sealed);
      const [native] = sealLabelsWith([{ tag, userId: v.userId, label }], new Uint8Array(24));
      expect(hex(native.sealed), v.name).toBe(v.sealed);
      expect(hex(native.lookupKey)).toBe(v.lookupKey);
      expect(v.wireLookupKey).toBe(v.lookupKey.slice(0, 16));
      expect(openLabel(tag, unhex(v.sealed))).toEqual({ userId: v.userId, label });
      expect(v.sealed.length / 2).toBe(sealedLabelBytes(utf8.encode(v.userId).length, label.length));
    }
    expect(recorded.find((v) => v.name === 'largest label')!.sealed.length / 2).toBe(MAX_SEALED_LABEL_BYTES);
  });
});

// ---------------------------------------------------------------------------------------
// The seal
// ---------------------------------------------------------------------------------------

const tagArb = fc.uint8Array({ minLength: 64, maxLength: 64 });
const entryArb = fc.record({
  userId: fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'grapheme', minLength: 100, maxLength: 140 })),
  label: fc.uint8Array({ maxLength: 80 }),
});

describe('label format 2: the seal', () => {
  it('open(seal(x)) = x, the seal is as long as sealedLabelBytes says, and sealing is deterministic', () => {
    fc.assert(
      fc.property(tagArb, entryArb, (tag, { userId, label }) => {
        const sealed = sealLabel(tag, { userId, label });
        const id = utf8.encode(userId);
        expect(sealed.length).toBe(sealedLabelBytes(id.length, label.length));
        expect(openLabel(tag, sealed)).toEqual({ userId: new TextDecoder().decode(id), label });
        expect(sealLabel(tag, { userId, label })).toEqual(sealed);
      }),
      { numRuns: 150 },
    );
  });

  it('the generator reaches user ids on both sides of the 1-byte length (127 / 128 bytes)', () => {
    const lengths = fc.sample(entryArb, 300).map((e) => utf8.encode(e.userId).length);
    expect(lengths.some((n) => n < 128)).toBe(true);
    expect(lengths.some((n) => n >= 128)).toBe(true);
  });

  it('any single bit flipped in the seal, or in the tag, is refused with bad_field', () => {
    fc.assert(
      fc.property(tagArb, entryArb, fc.nat(), fc.boolean(), (tag, entry, at, inTag) => {
        const sealed = sealLabel(tag, entry);
        if (inTag) {
          const other = tag.slice();
          other[at % 64] ^= 1 << at % 8;
          expect(code(() => openLabel(other, sealed))).toBe('bad_field');
        } else {
          const bad = sealed.slice();
          const bit = at % (sealed.length * 8);
          bad[bit >> 3] ^= 1 << (bit & 7);
          expect(code(() => openLabel(tag, bad))).toBe('bad_field');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a seal cut short or extended is refused; under 13 bytes it is too short before anything is computed', () => {
    fc.assert(
      fc.property(tagArb, entryArb, fc.integer({ min: 1, max: 20 }), fc.boolean(), (tag, entry, n, cut) => {
        const sealed = sealLabel(tag, entry);
        const bad = cut ? sealed.subarray(0, Math.max(0, sealed.length - n)) : new Uint8Array([...sealed, ...new Uint8Array(n)]);
        expect(code(() => openLabel(tag, bad))).toBe('bad_field');
      }),
      { numRuns: 150 },
    );
    for (let n = 0; n < SIV_BYTES + 1; n++) expect(code(() => openLabel(new Uint8Array(64), new Uint8Array(n)))).toBe('bad_field');
  });

  it('an authentic seal with a non-minimal or overlong user id length is refused (one wire form per label)', () => {
    const tag = tagOf('malformed');
    const sealRaw = (p: Uint8Array) => {
      const keys = sha512(new Uint8Array([...utf8.encode('contact-psi-v2-label-seal'), ...tag]));
      const siv = createHmac('sha256', keys.subarray(32)).update(p).digest().subarray(0, 12);
      return new Uint8Array([...siv, ...createCipheriv('chacha20', keys.subarray(0, 32), new Uint8Array([0, 0, 0, 0, ...siv])).update(p)]);
    };
    expect(openLabel(tag, sealRaw(Uint8Array.of(1, 0x61, 9)))).toEqual({ userId: 'a', label: Uint8Array.of(9) });
    expect(code(() => openLabel(tag, sealRaw(Uint8Array.of(0x81, 0x00, 0x61, 9))))).toBe('bad_field'); // 1 written in 2 bytes
    expect(code(() => openLabel(tag, sealRaw(Uint8Array.of(5, 0x61))))).toBe('bad_field'); // longer than what follows
    expect(code(() => openLabel(tag, sealRaw(Uint8Array.of(0x80, 0x80, 0x04))))).toBe('bad_field'); // 65,536: past MAX_USER_ID_BYTES
    expect(code(() => openLabel(tag, sealRaw(Uint8Array.of(1, 0xff))))).toBe('bad_field'); // not UTF-8
    expect(code(() => openLabel(tag, sealRaw(new Uint8Array(0))))).toBe('bad_field'); // no length at all
  });

  it('a user id over 65,535 UTF-8 bytes is refused when sealing', () => {
    expect(code(() => sealLabel(new Uint8Array(64), { userId: 'x'.repeat(0x10000), label: new Uint8Array(0) }))).toBe('bad_field');
    expect(sealLabel(new Uint8Array(64), { userId: 'x'.repeat(0xffff), label: new Uint8Array(0) }).length).toBe(12 + 3 + 0xffff);
  });

  it('varints: read(write(n)) = n, and a reader never runs past its end', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 35 - 1 }), fc.uint8Array({ maxLength: 8 }), (n, junk) => {
        const out = new Uint8Array(8);
        const end = writeVarint(out, 0, n);
        expect(readVarint(out, 0, end, 5)).toEqual([n, end]);
        const r = readVarint(junk, 0, junk.length, 5);
        if (r) expect(r[1]).toBeLessThanOrEqual(junk.length);
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------
// The packed answers of dir.labels
// ---------------------------------------------------------------------------------------

const answersArb = fc.array(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: MAX_LABELS_PER_LOOKUP_KEY }), { maxLength: 30 });

describe('label format 2: dir.labels answers', () => {
  it('unpack(pack(x)) = x for up to MAX_LABELS_PER_LOOKUP_KEY candidates per key; extras only when a key has several', () => {
    fc.assert(
      fc.property(answersArb, (answers) => {
        const { labels, more, dropped } = packLabelAnswers(answers, MAX_SEALED_LABEL_BYTES);
        expect(dropped).toBe(0);
        expect(more === undefined).toBe(answers.every((a) => a.length <= 1));
        expect(unpackLabelAnswers(labels, more, answers.length)).toEqual(answers);
      }),
    );
    expect(fc.sample(answersArb, 200).some((a) => a.some((c) => c.length > 1))).toBe(true);
  });

  it('candidates over maxLabelBytes, or past MAX_LABELS_PER_LOOKUP_KEY, are left out and counted', () => {
    const big = new Uint8Array(101);
    const ok = new Uint8Array(100);
    const five = Array.from({ length: MAX_LABELS_PER_LOOKUP_KEY + 1 }, (_, i) => Uint8Array.of(i + 1));
    const { labels, more, dropped } = packLabelAnswers([[big], [big, ok], five], 100);
    expect(dropped).toBe(3);
    expect(unpackLabelAnswers(labels, more, 3)).toEqual([[], [ok], five.slice(0, MAX_LABELS_PER_LOOKUP_KEY)]);
  });

  it('answers that do not split into exactly the keys asked, or extras out of order, are refused with bad_field', () => {
    const { labels, more } = packLabelAnswers([[Uint8Array.of(1)], [Uint8Array.of(2), Uint8Array.of(3)]], 100);
    expect(code(() => unpackLabelAnswers(labels, more, 3))).toBe('bad_field'); // fewer answers than keys
    expect(code(() => unpackLabelAnswers(labels, more, 1))).toBe('bad_field'); // more answers than keys
    expect(code(() => unpackLabelAnswers(labels.subarray(0, labels.length - 1), more, 2))).toBe('bad_field'); // cut
    expect(code(() => unpackLabelAnswers(labels, Uint8Array.of(5, 1, 9), 2))).toBe('bad_field'); // extra for key 5
    expect(code(() => unpackLabelAnswers(labels, Uint8Array.of(1, 1, 9, 0, 1, 9), 2))).toBe('bad_field'); // out of order
    expect(code(() => unpackLabelAnswers(Uint8Array.of(0, 0), Uint8Array.of(0, 1, 9), 2))).toBe('bad_field'); // extras, no first one
    expect(code(() => unpackLabelAnswers(labels, Uint8Array.of(1, 0), 2))).toBe('bad_field'); // an empty extra
    const extras = (n: number) => Uint8Array.of(...Array.from({ length: n }, () => [0, 1, 7]).flat());
    expect(unpackLabelAnswers(Uint8Array.of(1, 7), extras(MAX_LABELS_PER_LOOKUP_KEY - 1), 1)[0]).toHaveLength(MAX_LABELS_PER_LOOKUP_KEY);
    expect(code(() => unpackLabelAnswers(Uint8Array.of(1, 7), extras(MAX_LABELS_PER_LOOKUP_KEY), 1))).toBe('bad_field'); // one candidate too many
    expect(code(() => unpackLabelAnswers(Uint8Array.of(0x80, 0x00), undefined, 1))).toBe('bad_field'); // non-minimal length
  });

  it('random bytes as answers and extras: either a split within the bytes or bad_field, never another error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.option(fc.uint8Array({ maxLength: 32 }), { nil: undefined }), fc.nat(40), (labels, more, keys) => {
        const c = code(() => unpackLabelAnswers(labels, more, keys));
        expect([undefined, 'bad_field']).toContain(c);
      }),
      { numRuns: 500 },
    );
  });
});

// ---------------------------------------------------------------------------------------
// Entries that share a wire lookup key
// ---------------------------------------------------------------------------------------

const tmp = mkdtempSync(join(tmpdir(), 'contact-psi-label-v2-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('label format 2: two entries under one wire key', () => {
  it('the client opens its own label whichever candidate comes first; the server counts nothing dropped', async () => {
    const dir = memoryBackend([
      { userId: 'u1', identifiers: ['tel:+41791234567'], label: 'pk-1' },
      { userId: 'u2', identifiers: ['tel:+14155550100'], label: 'pk-2' },
    ]);
    for (const otherFirst of [true, false]) {
      // A backend where every key has a second candidate: another entry's seal (the collision).
      const decoy = sealLabel(new Uint8Array(64).fill(9), { userId: 'someone-else', label: utf8.encode('not yours') });
      const backend = {
        ...dir.backend,
        sealedLabels: async (e: number, keys: readonly Uint8Array[]) =>
          (await dir.backend.sealedLabels(e, keys)).map((s) => (s instanceof Uint8Array ? (otherFirst ? [decoy, s] : [s, decoy]) : s)),
      };
      const client = new DiscoveryClientSession({ suite: dir.suite, identifiers: ['tel:+41791234567', 'tel:+14155550100', 'tel:+33600000000'], rng: seededRng(1) });
      const server = new DiscoveryServerSession({ backend, rng: seededRng(2), now: 0 });
      const out = await runSessionPairAsync(client, server, 0);
      expect(out.clientError).toBeUndefined();
      const r = out.clientResult!;
      expect(r.matches.map((m) => [m.userId, new TextDecoder().decode(m.label)])).toEqual([
        ['u1', 'pk-1'],
        ['u2', 'pk-2'],
      ]);
      expect([r.badLabels, r.oversizedLabels, r.falsePositives]).toEqual([0, 0, 0]);
      expect((out.server.find((e) => e.type === 'result') as { result: DiscoveryServerResult }).result.labelsDropped).toBe(0);
    }
  });

  const stores: [string, () => DirectoryStore][] = [
    ['memory', () => new MemoryStore()],
    ['sqlite', () => SqliteStore.open(join(tmp, `shared-${Math.random().toString(36).slice(2)}.db`))],
  ];
  it.each(stores)('the %s store returns every entry whose lookup key starts with the wire key, in key order, at most `limit`', async (_n, open) => {
    const store = open();
    const users = ['a', 'b', 'c', 'd'];
    for (const u of users) await store.upsertUsers([{ userId: u, identifiers: [`tel:+4179123450${users.indexOf(u)}`], label: utf8.encode(`pk-${u}`), discoverable: true }]);
    const prefix = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
    // Crafted lookup keys: a, b and c share the 8 bytes (the rest decides the order), d does not.
    const keyOf = (first: Uint8Array, last: number) => new Uint8Array([...first, ...new Uint8Array(7), last]);
    const rows = [
      { u: 'a', key: keyOf(prefix, 3) },
      { u: 'b', key: keyOf(prefix, 1) },
      { u: 'c', key: keyOf(prefix, 2) },
      { u: 'd', key: keyOf(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 9), 0) },
    ];
    await store.putTags(
      1,
      rows.map(({ u, key }, i) => ({ identifier: `tel:+4179123450${i}`, userId: u, tag: new Uint8Array(64).fill(i + 1), lookupKey: key, sealed: sealLabel(new Uint8Array(64).fill(i + 1), { userId: u, label: utf8.encode(`pk-${u}`) }), labelVersion: 0 })),
    );
    const [shared, single, none] = await store.lookupSealedByPrefix(1, [prefix, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 9), new Uint8Array(8)], 4);
    expect(shared.map((m) => m.userId)).toEqual(['b', 'c', 'a']);
    expect(single.map((m) => m.userId)).toEqual(['d']);
    expect(none).toEqual([]);
    expect((await store.lookupSealedByPrefix(1, [prefix], 2))[0].map((m) => m.userId)).toEqual(['b', 'c']);
    // An all-0xff wire key has no "next" prefix: the range still ends within it.
    expect(await store.lookupSealedByPrefix(1, [new Uint8Array(8).fill(0xff)], 4)).toEqual([[]]);
    await store.close();
  });

  it('SQLite looks a wire key up as a range of the lookup-key index (no scan of every tag)', async () => {
    const { default: Database } = await import('better-sqlite3');
    const { LOOKUP_PREFIX_SQL } = await import('../src/directory/sqlite-store.js');
    const path = join(tmp, 'plan.db');
    await SqliteStore.open(path).close();
    const db = new Database(path, { readonly: true });
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${LOOKUP_PREFIX_SQL}`).all(1, Buffer.alloc(16), Buffer.alloc(16, 0xff), 4) as { detail: string }[]).map((r) => r.detail);
    db.close();
    expect(plan.find((d) => / t /.test(` ${d} `) || d.includes('tags AS t'))).toMatch(/USING INDEX tags_by_lookup_key \(epoch=\? AND lookup_key>\? AND lookup_key<\?\)/);
  });
});

// ---------------------------------------------------------------------------------------
// Migration of stored labels
// ---------------------------------------------------------------------------------------

describe('label format 2: a SQLite directory sealed in format 1', () => {
  it('is migrated (migration 4): no format 1 seal is ever served, precompute re-seals every tag and logs no relabel marker', async () => {
    const { Directory } = await import('../src/directory/registry.js');
    const { loadGroup } = await import('../src/group/index.js');
    const { createSuite, Modes } = await import('../src/oprf/index.js');
    const { identifierBytes } = await import('../src/contacts/identifier.js');
    const { xchacha20poly1305 } = await import('@noble/ciphers/chacha.js');
    const { default: Database } = await import('better-sqlite3');
    const suite = createSuite('ristretto255-SHA512', Modes.VOPRF, await loadGroup('ristretto255', 'sodium'));
    const path = join(tmp, 'format-1.db');
    const users = Array.from({ length: 12 }, (_, i) => ({ userId: `u${i}`, identifiers: [`tel:+4179123${String(i).padStart(4, '0')}`], label: utf8.encode(`pk-${i}`) }));
    const ids = users.map((u) => u.identifiers[0]);

    let directory = await Directory.open({ store: SqliteStore.open(path), suite });
    await directory.importUsers(users);
    await directory.precompute();
    const epoch = directory.currentEpoch;
    const tags = suite.evaluate(directory.epochKeyPair().secretKey, ids.map(identifierBytes));
    await directory.close();

    // What a release of label format 1 stored: nonce(24) || XChaCha20-Poly1305(SHA-512("contact-psi-v1-label-key" || tag)[0..32],
    // len(userId) (2 bytes) || userId || label, ad = the 16-byte lookup key); schema version 3.
    const formatOne = (tag: Uint8Array, userId: string, label: Uint8Array) => {
      const key = sha512(new Uint8Array([...utf8.encode('contact-psi-v1-label-key'), ...tag])).subarray(0, 32);
      const nonce = new Uint8Array(24).fill(7);
      const id = utf8.encode(userId);
      return new Uint8Array([...nonce, ...xchacha20poly1305(key, nonce, lookupKeyOf(tag)).encrypt(new Uint8Array([id.length >> 8, id.length & 0xff, ...id, ...label]))]);
    };
    const db = new Database(path);
    const put = db.prepare('UPDATE tags SET sealed = ? WHERE epoch = ? AND identifier = ?');
    users.forEach((u, i) => put.run(Buffer.from(formatOne(tags[i], u.userId, u.label)), epoch, ids[i]));
    db.pragma('user_version = 3');
    const version = db.prepare('SELECT version FROM state').pluck().get() as number;
    db.close();

    directory = await Directory.open({ store: SqliteStore.open(path), suite });
    const check = new Database(path, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(check.prepare('SELECT COUNT(*) FROM tags WHERE sealed IS NOT NULL').pluck().get()).toBe(0);
    check.close();
    const served = async () => (await directory.lookupSealedCandidates(epoch, tags.map(wireLookupKeyOf))).map((c, i) => {
      expect(c).toHaveLength(1);
      return openLabel(tags[i], c[0]!);
    });
    // Before the next precompute: sealed on the fly, in format 2.
    expect(await served()).toEqual(users.map((u) => ({ userId: u.userId, label: u.label })));
    const pass = await directory.precompute();
    expect(pass.computed).toBe(0);
    expect((await directory.store.readTagSet(epoch)).unsealed).toBe(0);
    expect(await served()).toEqual(users.map((u) => ({ userId: u.userId, label: u.label })));
    // The re-seal changed no label a client opened: no relabeled marker, no added or removed tag.
    const delta = await directory.servedTagDelta(epoch, version);
    expect(delta && [delta.added.length, delta.removed.length, delta.relabeled?.length ?? 0]).toEqual([0, 0, 0]);

    // A row written in format 1 after the upgrade (an older node of a fleet) is sealed afresh, never served as stored.
    const late = new Database(path);
    late.prepare('UPDATE tags SET sealed = ? WHERE epoch = ? AND identifier = ?').run(Buffer.from(formatOne(tags[0], users[0].userId, users[0].label)), epoch, ids[0]);
    late.close();
    expect((await served())[0]).toEqual({ userId: 'u0', label: users[0].label });
    await directory.close();
  });
});

describe('label format 2: clients of another format', () => {
  it('a format 1 request (16-byte keys, no format) is refused with unsupported and nothing is looked up', async () => {
    const { encodeMessage } = await import('../src/protocol/codec.js');
    const dir = memoryBackend([{ userId: 'u1', identifiers: ['tel:+41791234567'], label: 'pk-1' }]);
    let lookups = 0;
    const server = new DiscoveryServerSession({ backend: { ...dir.backend, sealedLabels: async (e, k) => ((lookups += k.length), dir.backend.sealedLabels(e, k)) }, rng: seededRng(2), now: 0 });
    server.handle(encodeMessage({ t: 'dir.hello', suite: 'ristretto255-SHA512' }), 0);
    server.handle(encodeMessage({ t: 'dir.labels.get', epoch: 1, keys: new Uint8Array(16) }), 0);
    expect(server.error?.code).toBe('unsupported');
    expect(server.pollWork?.()).toBeUndefined();
    expect(lookups).toBe(0);
  });

  it('a client refuses labels of a format it does not open (unsupported), whatever the bytes', async () => {
    const { decodeMessage, encodeMessage } = await import('../src/protocol/codec.js');
    const { DEFAULT_DISCOVERY_LIMITS, discoverySchemas } = await import('../src/protocol/discovery/messages.js');
    const schemas = discoverySchemas(DEFAULT_DISCOVERY_LIMITS);
    const dir = memoryBackend([{ userId: 'u1', identifiers: ['tel:+41791234567'], label: 'pk-1' }]);
    const client = new DiscoveryClientSession({ suite: dir.suite, identifiers: ['tel:+41791234567'], rng: seededRng(1) });
    const server = new DiscoveryServerSession({ backend: dir.backend, rng: seededRng(2), now: 0 });
    const out = await runSessionPairAsync(client, server, 0, {
      toClient: (b) => {
        const m = decodeMessage<{ t: string } & Record<string, unknown>>(b, schemas, 1 << 30);
        return m.t === 'dir.labels' ? encodeMessage({ ...m, format: 3 }) : b;
      },
    });
    expect(out.clientError?.code).toBe('unsupported');
  });
});

describe('label format 2: a PostgreSQL directory sealed in format 1', () => {
  it('is migrated (migration 5) like SQLite: seals dropped, served in format 2 on the fly, re-sealed without relabel markers', async () => {
    const { freshDatabase, stopPostgres } = await import('./helpers/postgres.js');
    const { PostgresStore } = await import('../src/directory/postgres/store.js');
    const { Directory } = await import('../src/directory/registry.js');
    const { loadGroup } = await import('../src/group/index.js');
    const { createSuite, Modes } = await import('../src/oprf/index.js');
    const { identifierBytes } = await import('../src/contacts/identifier.js');
    const { default: pg } = await import('pg');
    try {
      const suite = createSuite('ristretto255-SHA512', Modes.VOPRF, await loadGroup('ristretto255', 'sodium'));
      const url = await freshDatabase();
      const users = Array.from({ length: 6 }, (_, i) => ({ userId: `u${i}`, identifiers: [`tel:+4179124${String(i).padStart(4, '0')}`], label: utf8.encode(`pk-${i}`) }));
      const ids = users.map((u) => u.identifiers[0]);
      const keyPath = join(tmp, 'pg.key');
      let directory = await Directory.open({ store: await PostgresStore.open(url, { maxConnections: 2 }), suite, keyPath });
      await directory.importUsers(users);
      await directory.precompute();
      const epoch = directory.currentEpoch;
      const tags = suite.evaluate(directory.epochKeyPair().secretKey, ids.map(identifierBytes));
      const version = await directory.store.version();
      await directory.close();
      // Any bytes of format 1's length (42 + |id| + |label|) stand for a format 1 seal here.
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      for (const [i, u] of users.entries()) await client.query('UPDATE tags SET sealed = $1 WHERE epoch = $2 AND identifier = $3', [Buffer.alloc(42 + u.userId.length + u.label.length, 7), epoch, ids[i]]);
      await client.query('UPDATE contact_psi_schema SET version = 4');
      await client.end();

      directory = await Directory.open({ store: await PostgresStore.open(url, { maxConnections: 2 }), suite, keyPath });
      const served = async () => (await directory.lookupSealedCandidates(epoch, tags.map(wireLookupKeyOf))).map((c, i) => openLabel(tags[i], c[0]!));
      expect(await served()).toEqual(users.map((u) => ({ userId: u.userId, label: u.label })));
      await directory.precompute();
      expect((await directory.store.readTagSet(epoch)).unsealed).toBe(0);
      expect(await served()).toEqual(users.map((u) => ({ userId: u.userId, label: u.label })));
      const delta = await directory.servedTagDelta(epoch, version);
      expect(delta && [delta.added.length, delta.removed.length, delta.relabeled?.length ?? 0]).toEqual([0, 0, 0]);
      await directory.close();
    } finally {
      await stopPostgres();
    }
  }, 240_000);
});
