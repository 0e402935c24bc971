/**
 * The registry on both stores: tags are the RFC 9497 evaluations of the identifiers
 * (checked against suite.evaluate directly), opted-out users never appear, precompute is
 * incremental, snapshots are cached per version and identical across stores.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRng } from '../src/contacts/generate.js';
import { identifierBytes } from '../src/contacts/identifier.js';
import { generateDirectory } from '../src/directory/generate.js';
import { lookupKeyOf } from '../src/directory/lookup.js';
import { lookupKeyOf as protocolLookupKeyOf } from '../src/protocol/discovery/labels.js';
import { MemoryStore } from '../src/directory/memory-store.js';
import { Directory } from '../src/directory/registry.js';
import { SqliteStore } from '../src/directory/sqlite-store.js';
import type { DirectoryStore, DirectoryUser } from '../src/directory/types.js';
import { ContactPsiError } from '../src/errors.js';
import { loadGroup } from '../src/group/index.js';
import { createSuite, Modes, type OprfSuite } from '../src/oprf/index.js';
import { EncodingKinds, parseEncoding } from '../src/setenc/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'contact-psi-registry-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let files = 0;

const KEY_SEED = 7;
let suite: OprfSuite;
let secretKey: Uint8Array;
const users: DirectoryUser[] = generateDirectory(400, seededRng(1));

beforeAll(async () => {
  suite = createSuite('ristretto255-SHA512', Modes.VOPRF, await loadGroup('ristretto255', 'auto'));
  // The directory draws its key from this rng, so the test can recompute every tag itself.
  secretKey = suite.generateKeyPair(seededRng(KEY_SEED)).secretKey;
});

/** The suite with evaluate() counting its inputs, to see what precompute recomputes. */
function counting(inner: OprfSuite): { suite: OprfSuite; evaluated: () => number } {
  let n = 0;
  const wrapped: OprfSuite = {
    ...inner,
    evaluate: (sk, inputs) => {
      n += inputs.length;
      return inner.evaluate(sk, inputs);
    },
  };
  return { suite: wrapped, evaluated: () => n };
}

const stores: [string, () => DirectoryStore][] = [
  ['memory', () => new MemoryStore()],
  ['sqlite', () => SqliteStore.open(join(tmp, `registry-${files++}.db`))],
];

const visible = (list: DirectoryUser[]) => list.filter((u) => u.discoverable);
const tagsOf = (identifiers: readonly string[]) => suite.evaluate(secretKey, identifiers.map(identifierBytes));

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ContactPsiError);
    return (err as ContactPsiError).code;
  }
  return undefined;
}

describe.each(stores)('Directory on the %s store', (_name, openStore) => {
  async function openDirectory(s: OprfSuite = suite) {
    const store = openStore();
    const directory = await Directory.open({ store, suite: s, rng: seededRng(KEY_SEED) });
    return directory;
  }

  it('snapshots contain the tag of every discoverable identifier and no hidden one; lookups find the user', async () => {
    const directory = await openDirectory();
    expect(directory.publicKey).toEqual(suite.publicKeyOf(secretKey));
    await directory.importUsers(users);
    const shown = visible(users);
    const hidden = users.filter((u) => !u.discoverable);
    expect(hidden.length).toBeGreaterThan(0);
    const shownIds = shown.flatMap((u) => u.identifiers);
    const shownTags = tagsOf(shownIds);
    const hiddenTags = tagsOf(hidden.flatMap((u) => u.identifiers));

    for (const kind of EncodingKinds) {
      const snap = await directory.snapshot(kind);
      expect(snap).toMatchObject({ epoch: directory.epoch, version: await directory.version(), kind, count: shownIds.length });
      expect(snap.digest).toBe(bytesToHex(sha256(snap.bytes)));
      const encoding = parseEncoding(snap.bytes);
      expect(encoding.kind).toBe(kind);
      expect(shownTags.every((t) => encoding.contains(t))).toBe(true);
      expect(hiddenTags.some((t) => encoding.contains(t))).toBe(false);
    }

    const owners = shown.flatMap((u) => u.identifiers.map(() => u));
    const matches = await directory.lookupLabels(shownTags.map(lookupKeyOf));
    expect(matches).toEqual(owners.map((u, i) => ({ userId: u.userId, label: u.label, tag: shownTags[i] })));
    expect(await directory.lookupLabels(shownTags.slice(0, 3).map(lookupKeyOf))).toEqual(matches.slice(0, 3));
    const misses = await directory.lookupLabels([...hiddenTags.map(lookupKeyOf), new Uint8Array(16), seededRng(3)(16)]);
    expect(misses.every((m) => m === null)).toBe(true);
    expect(await code(directory.lookupLabels([new Uint8Array(15)]))).toBe('bad_lookup_key');
    await directory.close();
  });

  it('drops the tags of a user who opts out and restores them on opt-in, evaluating only that user', async () => {
    const { suite: countingSuite, evaluated } = counting(suite);
    const directory = await openDirectory(countingSuite);
    await directory.importUsers(users);
    await directory.snapshot();
    const start = evaluated();
    const user = users.find((u) => u.discoverable && u.identifiers.length > 1)!;
    const tags = tagsOf(user.identifiers);
    const keys = tags.map(lookupKeyOf);

    const v0 = await directory.version();
    await directory.importUsers([{ ...user, discoverable: false }]);
    expect(await directory.changesSince(v0)).toEqual([{ version: v0 + 1, kind: 'opt_out', userId: user.userId }]);
    const hiddenSnap = await directory.snapshot();
    expect(hiddenSnap.version).toBe(v0 + 1);
    const hiddenEncoding = parseEncoding(hiddenSnap.bytes);
    expect(tags.some((t) => hiddenEncoding.contains(t))).toBe(false);
    expect(await directory.lookupLabels(keys)).toEqual(keys.map(() => null));
    expect(evaluated()).toBe(start);

    await directory.importUsers([user]);
    const shownSnap = await directory.snapshot();
    const shownEncoding = parseEncoding(shownSnap.bytes);
    expect(tags.every((t) => shownEncoding.contains(t))).toBe(true);
    expect(evaluated()).toBe(start + user.identifiers.length);
    expect(await directory.lookupLabels(keys)).toEqual(tags.map((tag) => ({ userId: user.userId, label: user.label, tag })));
    await directory.close();
  });

  it('precomputes incrementally and rebuilds a snapshot only after a change', async () => {
    const { suite: countingSuite, evaluated } = counting(suite);
    const directory = await openDirectory(countingSuite);
    await directory.importUsers(users);
    const shownCount = visible(users).flatMap((u) => u.identifiers).length;
    expect(await directory.precompute()).toEqual({ computed: shownCount, pruned: 0 });
    expect(evaluated()).toBe(shownCount);
    const first = await directory.snapshot('fuse');
    const again = await directory.snapshot('fuse');
    expect(again.digest).toBe(first.digest);
    expect(again.bytes).toEqual(first.bytes);
    expect(await directory.precompute()).toEqual({ computed: 0, pruned: 0 });

    // A label change bumps the version but not the tag set.
    const user = visible(users)[0];
    await directory.importUsers([{ ...user, label: Uint8Array.of(9) }]);
    const relabeled = await directory.snapshot('fuse');
    expect(relabeled.version).toBe(first.version + 1);
    expect(relabeled.digest).toBe(first.digest);
    expect(evaluated()).toBe(shownCount);

    // A new number for one user: one evaluation, the old number's tag pruned.
    const newNumber = 'tel:+41799999999';
    const oldTag = tagsOf([user.identifiers[0]])[0];
    await directory.importUsers([{ ...user, identifiers: [newNumber, ...user.identifiers.slice(1)] }]);
    const changed = await directory.snapshot('fuse');
    expect(evaluated()).toBe(shownCount + 1);
    expect(changed.count).toBe(first.count);
    expect(changed.digest).not.toBe(first.digest);
    const encoding = parseEncoding(changed.bytes);
    expect(encoding.contains(tagsOf([newNumber])[0])).toBe(true);
    expect(encoding.contains(oldTag)).toBe(false);

    // Removing a user: no evaluation, fewer tags, lookups for them answer null.
    const gone = visible(users)[1];
    expect(await directory.removeUser(gone.userId)).toBe(true);
    expect(await directory.removeUser(gone.userId)).toBe(false);
    const removed = await directory.snapshot('fuse');
    expect(removed.count).toBe(first.count - gone.identifiers.length);
    expect(evaluated()).toBe(shownCount + 1);
    expect(await directory.lookupLabels(tagsOf(gone.identifiers).map(lookupKeyOf))).toEqual(gone.identifiers.map(() => null));
    await directory.close();
  });

  it('rejects an identifier held by another user and changes nothing', async () => {
    const directory = await openDirectory();
    await directory.importUsers(users.slice(0, 10));
    const version = await directory.version();
    const newcomer = { userId: 'newcomer', identifiers: ['tel:+41798888888'] };
    const thief = { userId: 'thief', identifiers: [users[3].identifiers[0]] };
    expect(await code(directory.importUsers([newcomer, thief]))).toBe('identifier_taken');
    expect(await directory.version()).toBe(version);
    expect(await directory.getUser('newcomer')).toBeUndefined();
    expect(await directory.countUsers()).toBe(10);
    await directory.close();
  });

  it('serves an empty directory', async () => {
    const directory = await openDirectory();
    for (const kind of EncodingKinds) {
      const snap = await directory.snapshot(kind);
      expect(snap.count).toBe(0);
      expect(parseEncoding(snap.bytes).count).toBe(0);
    }
    await directory.close();
  });
});

it('derives the same lookup key as the discovery client', () => {
  for (const tag of tagsOf(users.slice(0, 20).flatMap((u) => u.identifiers))) expect(lookupKeyOf(tag)).toEqual(protocolLookupKeyOf(tag));
});

it('memory and SQLite directories with the same key and users give the same snapshot digest', async () => {
  const digests: string[][] = [];
  for (const [, openStore] of stores) {
    const directory = await Directory.open({ store: openStore(), suite, rng: seededRng(KEY_SEED) });
    // Imported in a different order and in two batches: the snapshot depends on the set only.
    await directory.importUsers(users.slice(200).reverse());
    await directory.importUsers(users.slice(0, 200));
    digests.push([(await directory.snapshot('fuse')).digest, (await directory.snapshot('raw')).digest]);
    await directory.close();
  }
  expect(digests[0]).toEqual(digests[1]);
});

it('memory and SQLite agree on tag deltas and on the epoch a rotation makes', async () => {
  const results: unknown[] = [];
  for (const [, openStore] of stores) {
    // The same rng: the same key for epoch 1 and, at the rotation, for epoch 2.
    const directory = await Directory.open({ store: openStore(), suite, rng: seededRng(KEY_SEED) });
    await directory.importUsers(users.slice(0, 100));
    const first = await directory.snapshot('raw');
    await directory.importUsers(users.slice(100, 150));
    await directory.removeUser(users[3].userId);
    await directory.importUsers([{ ...users[5], discoverable: !users[5].discoverable }, { ...users[6], label: Uint8Array.of(6) }]);
    await directory.precompute();
    const delta = await directory.servedTagDelta(directory.currentEpoch, first.version);
    const rotation = await directory.rotateEpoch({ now: 1, kinds: ['raw'] });
    const second = await directory.snapshot('raw');
    results.push({ delta, first: first.digest, second: [second.epoch, second.version, second.digest], rotation, served: directory.servedEpochs(2) });
    await directory.close();
  }
  expect(results[0]).toEqual(results[1]);
});
