/**
 * A snapshot build reads 16-byte tag prefixes, not whole 64-byte tags (registry.ts
 * SNAPSHOT_TAG_BYTES): every encoding must come out byte for byte as from the full tags,
 * tags sharing a prefix included, and both stores must return the prefixes in tag order.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { generateDirectory } from '../src/directory/generate.js';
import { MemoryStore } from '../src/directory/memory-store.js';
import { Directory } from '../src/directory/registry.js';
import { encodeSnapshot } from '../src/directory/snapshot.js';
import { SqliteStore } from '../src/directory/sqlite-store.js';
import type { DirectoryStore, TagRecord } from '../src/directory/types.js';
import { loadGroup } from '../src/group/index.js';
import { createSuite, Modes } from '../src/oprf/index.js';
import { EncodingKinds } from '../src/setenc/types.js';
import { seededRng } from './helpers/rng.js';

const tmp = mkdtempSync(join(tmpdir(), 'contact-psi-prefix-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let files = 0;

const PREFIX = 16;
const compare = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b);
const pack = (tags: readonly Uint8Array[], width: number) => {
  const out = new Uint8Array(tags.length * width);
  tags.forEach((t, i) => out.set(t.subarray(0, width), i * width));
  return out;
};

/** 64-byte tags, some sharing their first 16 bytes with another (the tie case of the prefix sort). */
const tagsArb = fc
  .array(fc.uint8Array({ minLength: 64, maxLength: 64 }), { maxLength: 60 })
  .chain((tags) =>
    fc.array(fc.tuple(fc.nat({ max: Math.max(0, tags.length - 1) }), fc.uint8Array({ minLength: 48, maxLength: 48 })), { maxLength: tags.length > 0 ? 5 : 0 }).map((twins) => [
      ...tags,
      ...twins.map(([i, tail]) => {
        const twin = new Uint8Array(64);
        twin.set(tags[i].subarray(0, PREFIX));
        twin.set(tail, PREFIX);
        return twin;
      }),
    ]),
  );

describe('snapshot from tag prefixes', () => {
  it('encodes every kind byte for byte as from the full tags', () => {
    fc.assert(
      fc.property(tagsArb, (tags) => {
        const sorted = [...tags].sort(compare);
        const byPrefix = [...tags].sort((a, b) => compare(a.subarray(0, PREFIX), b.subarray(0, PREFIX)));
        for (const kind of EncodingKinds) {
          const full = encodeSnapshot(kind, pack(sorted, 64), sorted.length === 0 ? 0 : 64);
          expect(encodeSnapshot(kind, pack(sorted, PREFIX), sorted.length === 0 ? 0 : PREFIX)).toEqual(full);
          // Ties in the prefix order are equal bytes: any order among them packs the same.
          expect(encodeSnapshot(kind, pack(byPrefix, PREFIX), byPrefix.length === 0 ? 0 : PREFIX)).toEqual(full);
        }
      }),
      { numRuns: 60 },
    );
  });

  it.each([
    ['memory', (): DirectoryStore => new MemoryStore()],
    ['sqlite', (): DirectoryStore => SqliteStore.open(join(tmp, `p-${files++}.db`))],
  ])('the %s store returns the prefixes of its sorted tags, with the same counts', async (_name, open) => {
    const users = generateDirectory(25, seededRng(4));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 64, maxLength: 64 }), { minLength: 1, maxLength: 25 }), async (tags) => {
        const store = open();
        try {
          await store.upsertUsers(users);
          const pairs = users.filter((u) => u.discoverable).map((u) => ({ identifier: u.identifiers[0], userId: u.userId }));
          const records: TagRecord[] = tags.slice(0, pairs.length).map((tag, i) => ({ ...pairs[i], tag, lookupKey: tag.slice(0, 16) }));
          await store.putTags(1, records);
          const full = await store.readTagSet(1);
          const prefixes = await store.readTagSet(1, PREFIX);
          expect(prefixes.tagLength).toBe(PREFIX);
          expect(prefixes.packed).toEqual(pack(records.map((r) => r.tag).sort(compare), PREFIX));
          expect({ ...prefixes, packed: undefined, tagLength: undefined }).toEqual({ ...full, packed: undefined, tagLength: undefined });
          await expect(store.readTagSet(1, 0)).rejects.toMatchObject({ code: 'invalid_option' });
        } finally {
          await store.close();
        }
      }),
      { numRuns: 15 },
    );
  });

  it('Directory.snapshot equals the encoding of the full tags', async () => {
    const suite = createSuite('ristretto255-SHA512', Modes.VOPRF, await loadGroup('ristretto255', 'sodium'));
    const directory = await Directory.open({ store: SqliteStore.open(join(tmp, `d-${files++}.db`)), suite });
    try {
      await directory.importUsers(generateDirectory(60, seededRng(12)));
      for (const kind of EncodingKinds) {
        const snapshot = await directory.snapshot(kind);
        const full = await directory.store.readTagSet(directory.currentEpoch);
        expect(full.tagLength).toBe(64);
        expect(snapshot.bytes).toEqual(encodeSnapshot(kind, full.packed, full.tagLength));
        expect(snapshot.count).toBe(full.count);
      }
    } finally {
      await directory.close();
    }
  });
});
