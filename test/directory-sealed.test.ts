/**
 * Labels sealed at rest: precompute stores, next to each lookup key, the label sealed under
 * the tag (protocol/discovery/labels.ts); it opens to the right user and label and under
 * no other tag. A label change re-seals without touching the tag (no evaluation, no tag
 * delta), and until then a lookup seals the new label afresh. A version-1 SQLite file is
 * migrated and its tags sealed by the next precompute.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRng } from '../src/contacts/generate.js';
import { identifierBytes } from '../src/contacts/identifier.js';
import { generateDirectory } from '../src/directory/generate.js';
import { lookupKeyOf } from '../src/directory/lookup.js';
import { MemoryStore } from '../src/directory/memory-store.js';
import { Directory } from '../src/directory/registry.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../src/directory/sqlite-schema.js';
import { SqliteStore } from '../src/directory/sqlite-store.js';
import type { DirectoryStore, DirectoryUser } from '../src/directory/types.js';
import { loadGroup } from '../src/group/index.js';
import { createSuite, Modes, type OprfSuite } from '../src/oprf/index.js';
import { openLabel } from '../src/protocol/discovery/labels.js';

const tmp = mkdtempSync(join(tmpdir(), 'contact-psi-sealed-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let files = 0;

let suite: OprfSuite;
beforeAll(async () => {
  suite = createSuite('ristretto255-SHA512', Modes.VOPRF, await loadGroup('ristretto255', 'sodium'));
});

const users: DirectoryUser[] = generateDirectory(40, seededRng(8));
const shown = users.filter((u) => u.discoverable);
const hidden = users.filter((u) => !u.discoverable);
const shownIds = shown.flatMap((u) => u.identifiers);
const owners = shown.flatMap((u) => u.identifiers.map(() => u));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const stores: [string, () => DirectoryStore][] = [
  ['memory', () => new MemoryStore()],
  ['sqlite', () => SqliteStore.open(join(tmp, `sealed-${files++}.db`))],
];

function counting(inner: OprfSuite): { suite: OprfSuite; evaluated: () => number } {
  let n = 0;
  return { suite: { ...inner, evaluate: (sk, inputs) => ((n += inputs.length), inner.evaluate(sk, inputs)) }, evaluated: () => n };
}

describe.each(stores)('sealed labels on the %s store', (_name, openStore) => {
  it('are stored at precompute and open under their tag to the user and label, under no other tag', async () => {
    const directory = await Directory.open({ store: openStore(), suite });
    await directory.importUsers(users);
    await directory.precompute();
    const epoch = directory.currentEpoch;
    const tags = suite.evaluate(directory.epochKeyPair().secretKey, shownIds.map(identifierBytes));
    const keys = tags.map(lookupKeyOf);

    const stored = await directory.store.lookupSealed(epoch, keys);
    expect(stored.every((m) => m !== null && m.sealed !== undefined)).toBe(true);
    stored.forEach((m, i) => expect(openLabel(tags[i], m!.sealed!)).toEqual({ userId: owners[i].userId, label: owners[i].label }));
    // The session gets the stored bytes, not a fresh seal.
    const served = await directory.lookupSealed(epoch, keys);
    expect(served.map((s) => hex(s!))).toEqual(stored.map((m) => hex(m!.sealed!)));
    expect((await directory.lookupSealed(epoch, keys)).map((s) => hex(s!))).toEqual(served.map((s) => hex(s!)));
    // A fresh 24-byte nonce per label.
    expect(new Set(served.map((s) => hex(s!.subarray(0, 24)))).size).toBe(served.length);
    // Under another identifier's tag it does not open.
    expect(() => openLabel(tags[1], served[0]!)).toThrow();

    const hiddenTags = suite.evaluate(directory.epochKeyPair().secretKey, hidden.flatMap((u) => u.identifiers).map(identifierBytes));
    expect(hiddenTags.length).toBeGreaterThan(0);
    expect((await directory.lookupSealed(epoch, [...hiddenTags.map(lookupKeyOf), new Uint8Array(16)])).every((s) => s === undefined)).toBe(true);
    await expect(directory.lookupSealed(epoch, [new Uint8Array(15)])).rejects.toThrow(expect.objectContaining({ code: 'bad_lookup_key' }));
    await directory.close();
  });

  it('re-seals on a label change without touching the tag; no answer carries the old label', async () => {
    const { suite: countingSuite, evaluated } = counting(suite);
    const directory = await Directory.open({ store: openStore(), suite: countingSuite });
    await directory.importUsers(users);
    const before = await directory.snapshot('fuse');
    const epoch = directory.currentEpoch;
    const evaluations = evaluated();
    const user = shown.find((u) => u.identifiers.length > 1) ?? shown[0];
    const tags = suite.evaluate(directory.epochKeyPair().secretKey, user.identifiers.map(identifierBytes));
    const keys = tags.map(lookupKeyOf);
    const oldSeals = (await directory.store.lookupSealed(epoch, keys)).map((m) => m!.sealed!);
    const label = Uint8Array.of(0xca, 0xfe);

    await directory.importUsers([{ ...user, label }]);
    expect((await directory.changesSince(before.version)).map((c) => c.kind)).toEqual(['label']);
    // Before a precompute the stored seal is outdated: not served; a fresh one is.
    expect((await directory.store.lookupSealed(epoch, keys)).map((m) => m!.sealed)).toEqual(keys.map(() => undefined));
    (await directory.lookupSealed(epoch, keys)).forEach((s, i) => expect(openLabel(tags[i], s!)).toEqual({ userId: user.userId, label }));

    const after = await directory.snapshot('fuse'); // precomputes: re-seals
    expect(after.digest).toBe(before.digest);
    expect(after.version).toBe(before.version + 1);
    expect(evaluated()).toBe(evaluations);
    expect(await directory.servedTagDelta(epoch, before.version)).toMatchObject({ toVersion: after.version, added: new Uint8Array(0), removed: new Uint8Array(0) });
    const newSeals = (await directory.store.lookupSealed(epoch, keys)).map((m) => m!.sealed!);
    newSeals.forEach((s, i) => {
      expect(hex(s)).not.toBe(hex(oldSeals[i]));
      expect(openLabel(tags[i], s)).toEqual({ userId: user.userId, label });
    });

    // Unregistered and registered again with another label before any precompute: the tag
    // row survives (same pair), the seal does not.
    await directory.removeUser(user.userId);
    expect(await directory.lookupSealed(epoch, keys)).toEqual(keys.map(() => undefined));
    const third = Uint8Array.of(3);
    await directory.importUsers([{ ...user, label: third }]);
    expect(await directory.precompute()).toEqual({ computed: 0, pruned: 0 });
    const thirdSeals = await directory.store.lookupSealed(epoch, keys);
    thirdSeals.forEach((m, i) => expect(openLabel(tags[i], m!.sealed!)).toEqual({ userId: user.userId, label: third }));

    // An opt-out hides the user at once, before any precompute.
    await directory.importUsers([{ ...user, label: third, discoverable: false }]);
    expect(await directory.lookupSealed(epoch, keys)).toEqual(keys.map(() => undefined));
    await directory.close();
  });
});

it('migrates a version-1 SQLite file: tags kept, sealed by the next precompute, served meanwhile', async () => {
  const path = join(tmp, 'v1.db');
  const secretKey = suite.generateKeyPair(seededRng(5)).secretKey;
  const identifier = 'tel:+41791234567';
  const [tag] = suite.evaluate(secretKey, [identifierBytes(identifier)]);
  const db = new Database(path);
  db.exec(MIGRATIONS[0]);
  db.pragma('user_version = 1');
  db.prepare("INSERT INTO meta (key, value) VALUES ('suite', ?), ('mode', ?), ('epoch', '1'), ('public_key', ?)").run(suite.id, String(suite.mode), hex(suite.publicKeyOf(secretKey)));
  db.prepare("INSERT INTO users (user_id, label, discoverable) VALUES ('ann', ?, 1)").run(Buffer.from('pk:ann'));
  db.prepare("INSERT INTO identifiers (identifier, user_id) VALUES (?, 'ann')").run(identifier);
  db.prepare("INSERT INTO changes (version, kind, user_id) VALUES (1, 'register', 'ann')").run();
  db.prepare('UPDATE state SET version = 1').run();
  db.prepare("INSERT INTO tags (epoch, identifier, user_id, tag, lookup_key) VALUES (1, ?, 'ann', ?, ?)").run(identifier, Buffer.from(tag), Buffer.from(lookupKeyOf(tag)));
  db.prepare("INSERT INTO snapshots (kind, epoch, version, count, digest, bytes) VALUES ('fuse', 1, 1, 1, 'x', x'00')").run();
  db.close();
  chmodSync(path, 0o600); // as SqliteStore creates it: a directory file others can read is refused (file-mode.ts)
  writeFileSync(`${path}.key`, JSON.stringify({ suite: suite.id, epoch: 1, secretKey: hex(secretKey) }), { mode: 0o600 });

  const { suite: countingSuite, evaluated } = counting(suite);
  const directory = await Directory.open({ store: SqliteStore.open(path), suite: countingSuite });
  const check = new Database(path, { readonly: true });
  expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
  check.close();
  const key = [lookupKeyOf(tag)];
  expect((await directory.store.lookupSealed(1, key))[0]).toMatchObject({ userId: 'ann', sealed: undefined });
  expect(openLabel(tag, (await directory.lookupSealed(1, key))[0]!)).toEqual({ userId: 'ann', label: new TextEncoder().encode('pk:ann') });
  expect((await directory.store.readTagSet(1)).unsealed).toBe(1);
  expect(await directory.precompute()).toEqual({ computed: 0, pruned: 0 });
  expect(evaluated()).toBe(0);
  const stored = (await directory.store.lookupSealed(1, key))[0]!.sealed!;
  expect(openLabel(tag, stored).userId).toBe('ann');
  const snap = await directory.snapshot('fuse');
  expect(snap).toMatchObject({ epoch: 1, version: 1, count: 1 });
  expect(await directory.servedTagDelta(1, 1)).toMatchObject({ toVersion: 1 });
  await directory.close();
});
