/**
 * Epochs and key rotation: the next epoch is fully precomputed (with its snapshot) while the
 * current one keeps serving and changing; after the switch the previous epoch answers
 * until its grace period ends, survives a restart (SQLite + key file), and is dropped by
 * retireExpired. The key file holds every epoch, stays 0600, is replaced atomically, and
 * the first single-key format is still read. An interrupted rotation resumes.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRng } from '../src/contacts/generate.js';
import { identifierBytes } from '../src/contacts/identifier.js';
import { generateDirectory } from '../src/directory/generate.js';
import { loadKeyFile } from '../src/directory/keyfile.js';
import { lookupKeyOf } from '../src/directory/lookup.js';
import { MemoryStore } from '../src/directory/memory-store.js';
import { Directory } from '../src/directory/registry.js';
import { SqliteStore } from '../src/directory/sqlite-store.js';
import type { DirectoryStore, DirectoryUser } from '../src/directory/types.js';
import { ContactPsiError } from '../src/errors.js';
import { loadGroup } from '../src/group/index.js';
import { createSuite, Modes, type OprfSuite } from '../src/oprf/index.js';
import { openLabel } from '../src/protocol/discovery/labels.js';
import { parseEncoding } from '../src/setenc/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'contact-psi-epochs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let files = 0;
const freshDb = () => join(tmp, `epochs-${files++}.db`);

let suite: OprfSuite;
beforeAll(async () => {
  suite = createSuite('ristretto255-SHA512', Modes.VOPRF, await loadGroup('ristretto255', 'sodium'));
});

const users: DirectoryUser[] = generateDirectory(60, seededRng(4));
const shown = users.filter((u) => u.discoverable);
const shownIds = shown.flatMap((u) => u.identifiers);
const ownerOf = (identifier: string) => users.find((u) => u.identifiers.includes(identifier))!;
const tagsUnder = (secretKey: Uint8Array, identifiers: readonly string[]) => suite.evaluate(secretKey, identifiers.map(identifierBytes));
const T = 1_700_000_000_000;
const GRACE = 60_000;

async function code(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    expect(err).toBeInstanceOf(ContactPsiError);
    return (err as ContactPsiError).code;
  }
  return undefined;
}

/** Every sealed label of `epoch` for these identifiers opens under its tag to the owner and label. */
async function expectLabels(directory: Directory, epoch: number, identifiers: readonly string[], tags: readonly Uint8Array[]): Promise<void> {
  const sealed = await directory.lookupSealed(epoch, tags.map(lookupKeyOf));
  sealed.forEach((s, i) => {
    expect(s).toBeDefined();
    const owner = ownerOf(identifiers[i]);
    expect(openLabel(tags[i], s!)).toEqual({ userId: owner.userId, label: owner.label });
  });
}

const stores: [string, () => DirectoryStore][] = [
  ['memory', () => new MemoryStore()],
  ['sqlite', () => SqliteStore.open(freshDb())],
];

describe.each(stores)('rotation on the %s store', (_name, openStore) => {
  it('precomputes the next epoch while the current one serves and changes, then switches; the previous one serves through its grace', async () => {
    const directory = await Directory.open({ store: openStore(), suite, batchSize: 16 });
    await directory.importUsers(users);
    const first = await directory.snapshot('fuse');
    const oldKeys = directory.epochKeyPair();
    const oldTags = tagsUnder(oldKeys.secretKey, shownIds);
    const newcomer = { userId: 'newcomer', identifiers: ['tel:+41798887766'], label: Uint8Array.of(7, 7) };
    let imported: Promise<unknown> | undefined;
    let midLabels: Promise<void> | undefined;
    let progressCalls = 0;

    const result = await directory.rotateEpoch({
      graceMs: GRACE,
      now: T,
      onProgress: (done) => {
        progressCalls++;
        if (done === 0 || imported !== undefined) return;
        // Mid-rotation: still epoch 1, which answers lookups; writes are not held back.
        expect(directory.currentEpoch).toBe(1);
        expect(directory.servedEpochs(T)).toEqual([1]);
        // The store is read now (the lookup starts synchronously); the answer is checked below.
        midLabels = expectLabels(directory, 1, shownIds.slice(0, 3), oldTags.slice(0, 3));
        imported = directory.importUsers([newcomer]);
      },
    });
    expect(progressCalls).toBeGreaterThan(2);
    expect(imported).toBeDefined();
    await midLabels;
    await imported;
    expect(result).toEqual({ epoch: 2, previous: 1, retiresAt: T + GRACE, computed: shownIds.length + 1 });

    expect(directory.currentEpoch).toBe(2);
    expect(directory.epoch).toBe(2);
    expect(directory.publicKey).not.toEqual(oldKeys.publicKey);
    expect(directory.epochKeyPair(1)).toEqual(oldKeys);
    expect(directory.servedEpochs(T)).toEqual([1, 2]);
    expect(directory.servedEpochs(T + GRACE - 1)).toEqual([1, 2]);
    expect(directory.servedEpochs(T + GRACE)).toEqual([2]);

    // The new epoch: every identifier, the newcomer (imported mid-rotation) included, under the new key.
    const newKeys = directory.epochKeyPair();
    const ids = [...shownIds, newcomer.identifiers[0]];
    const newTags = tagsUnder(newKeys.secretKey, ids);
    const current = await directory.snapshot('fuse');
    expect(current).toMatchObject({ epoch: 2, count: first.count + 1, version: await directory.version() });
    const encoding = parseEncoding(current.bytes);
    expect(newTags.every((t) => encoding.contains(t))).toBe(true);
    expect(oldTags.filter((t) => encoding.contains(t)).length).toBe(0);
    await expectLabels(directory, 2, shownIds.slice(0, 5), newTags.slice(0, 5));
    expect(await directory.lookupSealed(2, oldTags.slice(0, 3).map(lookupKeyOf))).toEqual([undefined, undefined, undefined]);

    // The previous epoch is frozen at the switch (caught up with the newcomer) and still answers.
    const previous = await directory.snapshot('fuse', 1);
    expect(previous).toMatchObject({ epoch: 1, count: first.count + 1 });
    const previousEncoding = parseEncoding(previous.bytes);
    expect(oldTags.every((t) => previousEncoding.contains(t))).toBe(true);
    await expectLabels(directory, 1, shownIds.slice(0, 5), oldTags.slice(0, 5));
    expect(await directory.servedTagDelta(1, first.version)).toBeUndefined(); // deltas: current epoch only

    // Deltas of the new epoch start at its snapshot.
    expect(await directory.servedTagDelta(2, current.version)).toMatchObject({ toVersion: current.version, added: new Uint8Array(0) });
    await directory.importUsers([{ userId: 'later', identifiers: ['tel:+41798887755'] }]);
    await directory.precompute();
    expect((await directory.servedTagDelta(2, current.version))!.added.length).toBe(8);
    expect(await directory.servedTagDelta(2, current.version - 1)).toBeUndefined();

    expect(await code(directory.snapshot('fuse', 3))).toBe('unknown_epoch');
    expect(await code(() => directory.epochKeyPair(3))).toBe('unknown_epoch');

    expect(await directory.retireExpired(T + GRACE - 1)).toEqual([]);
    expect(await directory.retireExpired(T + GRACE)).toEqual([1]);
    expect(directory.servedEpochs(T)).toEqual([2]);
    expect(await code(directory.snapshot('fuse', 1))).toBe('unknown_epoch');
    expect(await code(() => directory.epochKeyPair(1))).toBe('unknown_epoch');
    expect(await directory.lookupSealed(1, oldTags.slice(0, 2).map(lookupKeyOf))).toEqual([undefined, undefined]);
    expect((await directory.store.listEpochs()).map((e) => e.epoch)).toEqual([2]);
    expect(await directory.store.lookup(1, oldTags.slice(0, 2).map(lookupKeyOf))).toEqual([null, null]);
    await directory.close();
  });

  it('refuses a second rotation while one runs', async () => {
    const directory = await Directory.open({ store: openStore(), suite });
    await directory.importUsers(users.slice(0, 10));
    const first = directory.rotateEpoch({ now: T });
    expect(await code(directory.rotateEpoch({ now: T }))).toBe('directory_busy');
    expect(await code(directory.rotateEpoch({ graceMs: -1 }))).toBe('invalid_option');
    await first;
    expect((await directory.rotateEpoch({ now: T })).epoch).toBe(3);
    // Epoch 1 retires 24 h after the first switch, epoch 2 24 h after the second: both still served at T.
    expect(directory.servedEpochs(T)).toEqual([1, 2, 3]);
    expect(await directory.retireExpired(T + 24 * 3600 * 1000)).toEqual([1, 2]);
    await directory.close();
  });
});

describe('rotation with a key file', () => {
  it('keeps both epochs and their digests across a restart; retireExpired drops the old one for good', async () => {
    const db = freshDb();
    const keyPath = `${db}.key`;
    const now = Date.now();
    const grace = 3_600_000;
    const directory = await Directory.open({ store: SqliteStore.open(db), suite });
    await directory.importUsers(users);
    await directory.snapshot('fuse');
    const old = directory.epochKeyPair();
    await directory.rotateEpoch({ graceMs: grace, now, kinds: ['fuse', 'raw'] });
    const current = await directory.snapshot('fuse');
    const currentRaw = await directory.snapshot('raw');
    const previous = await directory.snapshot('fuse', 1);
    const publicKey = directory.publicKey;
    await directory.close();

    if (process.platform !== 'win32') expect(statSync(keyPath).mode & 0o777).toBe(0o600);
    expect(readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const file = JSON.parse(readFileSync(keyPath, 'utf8'));
    expect(Object.keys(file).sort()).toEqual(['epochs', 'suite']);
    expect(file.epochs.map((e: { epoch: number }) => e.epoch)).toEqual([1, 2]);
    expect(file.epochs[0].retiresAt).toBe(now + grace);
    expect(file.epochs[1].retiresAt).toBeUndefined();
    expect(file.epochs[0].secretKey).toBe(Buffer.from(old.secretKey).toString('hex'));

    let evaluated = 0;
    const counting: OprfSuite = { ...suite, evaluate: (sk, inputs) => ((evaluated += inputs.length), suite.evaluate(sk, inputs)) };
    const reopened = await Directory.open({ store: SqliteStore.open(db), suite: counting });
    expect(reopened.currentEpoch).toBe(2);
    expect(reopened.publicKey).toEqual(publicKey);
    expect(reopened.servedEpochs(now)).toEqual([1, 2]);
    expect(reopened.epochKeyPair(1)).toEqual(old);
    expect(await reopened.snapshot('fuse')).toEqual(current);
    expect(await reopened.snapshot('raw')).toEqual(currentRaw);
    expect(await reopened.snapshot('fuse', 1)).toEqual(previous);
    expect(await reopened.precompute()).toEqual({ computed: 0, pruned: 0 });
    expect(evaluated).toBe(0);
    expect(JSON.stringify(reopened)).not.toContain(file.epochs[0].secretKey);

    expect(await reopened.retireExpired(now + grace)).toEqual([1]);
    await reopened.close();
    expect(loadKeyFile(keyPath).epochs.map((e) => e.epoch)).toEqual([2]);
    const again = await Directory.open({ store: SqliteStore.open(db), suite });
    expect(again.servedEpochs(now)).toEqual([2]);
    expect((await again.snapshot('fuse')).digest).toBe(current.digest);
    await again.close();
  });

  it('resumes an interrupted rotation with the key it saved, keeping the tags already computed', async () => {
    const db = freshDb();
    let failAfter = Infinity;
    let calls = 0;
    const evaluator = async (secretKey: Uint8Array, inputs: readonly Uint8Array[]) => {
      if (++calls > failAfter) throw new Error('evaluator crashed');
      return suite.evaluate(secretKey, inputs);
    };
    const directory = await Directory.open({ store: SqliteStore.open(db), suite, batchSize: 16, evaluator });
    await directory.importUsers(users);
    const first = await directory.snapshot('fuse');
    calls = 0;
    failAfter = 2;
    await expect(directory.rotateEpoch({ now: T })).rejects.toThrow('evaluator crashed');
    expect(directory.currentEpoch).toBe(1);
    expect(directory.servedEpochs(T)).toEqual([1]);
    expect(await code(() => directory.epochKeyPair(2))).toBe('unknown_epoch'); // prepared, not served
    expect((await directory.snapshot('fuse')).digest).toBe(first.digest);
    const pending = loadKeyFile(`${db}.key`).epochs;
    expect(pending.map((e) => e.epoch)).toEqual([1, 2]);
    await directory.close();

    // A restart, then the rotation again: same key for epoch 2, only the rest evaluated.
    let evaluated = 0;
    const counting: OprfSuite = { ...suite, evaluate: (sk, inputs) => ((evaluated += inputs.length), suite.evaluate(sk, inputs)) };
    const resumed = await Directory.open({ store: SqliteStore.open(db), suite: counting, batchSize: 16 });
    expect(resumed.currentEpoch).toBe(1);
    const result = await resumed.rotateEpoch({ now: T });
    expect(result.epoch).toBe(2);
    expect(resumed.publicKey).toEqual(suite.publicKeyOf(pending[1].secretKey));
    expect(evaluated).toBe(shownIds.length - 32);
    expect(result.computed).toBe(shownIds.length - 32);
    const snap = await resumed.snapshot('fuse');
    expect(snap.count).toBe(first.count);
    await resumed.close();
  });

  it('reads the first single-key format and rewrites it with every epoch at the first rotation', async () => {
    const db = freshDb();
    const keyPath = `${db}.key`;
    const secretKey = suite.generateKeyPair(seededRng(21)).secretKey;
    const legacy = { suite: 'ristretto255-SHA512', epoch: 1, secretKey: Buffer.from(secretKey).toString('hex') };
    writeFileSync(keyPath, `${JSON.stringify(legacy)}\n`, { mode: 0o600 });
    const directory = await Directory.open({ store: SqliteStore.open(db), suite });
    expect(directory.currentEpoch).toBe(1);
    expect(directory.publicKey).toEqual(suite.publicKeyOf(secretKey));
    await directory.importUsers(users.slice(0, 10));
    await directory.rotateEpoch({ now: T, graceMs: GRACE });
    await directory.close();
    const file = loadKeyFile(keyPath);
    expect(file.epochs.map((e) => [e.epoch, e.retiresAt])).toEqual([
      [1, T + GRACE],
      [2, undefined],
    ]);
    expect(file.epochs[0].secretKey).toEqual(secretKey);
    expect(existsSync(keyPath)).toBe(true);
    if (process.platform !== 'win32') expect(statSync(keyPath).mode & 0o777).toBe(0o600);
  });

  it('refuses a key file without the epoch the store is at, and rejects malformed epoch lists', async () => {
    const db = freshDb();
    const keyPath = `${db}.key`;
    const directory = await Directory.open({ store: SqliteStore.open(db), suite });
    await directory.rotateEpoch({ now: T });
    await directory.close();
    const file = loadKeyFile(keyPath);
    // Only epoch 1 left: the store is at epoch 2.
    const entry = (e: (typeof file.epochs)[number]) => ({ ...e, secretKey: Buffer.from(e.secretKey).toString('hex') });
    writeFileSync(keyPath, JSON.stringify({ suite: file.suite, epochs: [entry(file.epochs[0])] }), { mode: 0o600 });
    const store = SqliteStore.open(db);
    expect(await code(Directory.open({ store, suite }))).toBe('key_mismatch');
    // Epoch 1 with epoch 2's key: the store recorded another public key for it.
    writeFileSync(keyPath, JSON.stringify({ suite: file.suite, epochs: [{ ...entry(file.epochs[1]), epoch: 1 }, entry(file.epochs[1])] }));
    expect(await code(Directory.open({ store, suite }))).toBe('key_mismatch');
    await store.close();
    const bad = [
      { suite: file.suite, epochs: [] },
      { suite: file.suite, epochs: [entry(file.epochs[0]), entry(file.epochs[0])] },
      { suite: file.suite, epochs: [{ ...entry(file.epochs[0]), createdAt: -1 }] },
      { suite: file.suite, epochs: [{ ...entry(file.epochs[0]), retiresAt: 'soon' }] },
      { suite: file.suite, epochs: 'all' },
    ];
    for (const value of bad) {
      writeFileSync(keyPath, JSON.stringify(value));
      expect(() => loadKeyFile(keyPath)).toThrow(expect.objectContaining({ code: 'key_file_invalid' }));
    }
  });
});
