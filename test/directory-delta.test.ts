/**
 * Tag deltas on both stores. The property: for random sequences of register / unregister /
 * opt-out / opt-in / label / identifier changes with precomputes in between, for every pair
 * of versions a < b seen at a precompute, membership under (snapshot at a + delta a→b)
 * equals membership under the fresh snapshot at b, for every identifier ever used; a
 * label-only change gives an empty delta; and the snapshot, version() and the delta all
 * name the same version after a precompute.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identifierBytes } from '../src/contacts/identifier.js';
import { MemoryStore } from '../src/directory/memory-store.js';
import { Directory } from '../src/directory/registry.js';
import { SqliteStore } from '../src/directory/sqlite-store.js';
import { netTagDelta, TAG_PREFIX_BYTES } from '../src/directory/tag-delta.js';
import type { DirectoryStore, TagDelta } from '../src/directory/types.js';
import { ContactPsiError } from '../src/errors.js';
import { loadGroup } from '../src/group/index.js';
import { createSuite, Modes, type OprfSuite } from '../src/oprf/index.js';
import { parseEncoding, type SetEncoding } from '../src/setenc/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'contact-psi-delta-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let files = 0;

let suite: OprfSuite;
beforeAll(async () => {
  suite = createSuite('ristretto255-SHA512', Modes.VOPRF, await loadGroup('ristretto255', 'sodium'));
});

const stores: [string, () => DirectoryStore][] = [
  ['memory', () => new MemoryStore()],
  ['sqlite', () => SqliteStore.open(join(tmp, `delta-${files++}.db`))],
];

const USERS = ['ann', 'ben', 'cat', 'dan'];
const IDENTIFIERS = ['tel:+41791234560', 'tel:+41791234561', 'tel:+41791234562', 'mailto:a@example.org', 'mailto:b@example.org', 'mailto:c@example.org'];

type Op =
  | { t: 'register'; userId: string; identifiers: string[]; label: number }
  | { t: 'unregister'; userId: string }
  | { t: 'flag'; userId: string; discoverable: boolean }
  | { t: 'label'; userId: string; label: number }
  | { t: 'identifiers'; userId: string; identifiers: string[] }
  | { t: 'precompute' };

const user = fc.constantFrom(...USERS);
const ids = fc.subarray(IDENTIFIERS, { maxLength: 3 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('register' as const), userId: user, identifiers: ids, label: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('unregister' as const), userId: user }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('flag' as const), userId: user, discoverable: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('label' as const), userId: user, label: fc.nat(3) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('identifiers' as const), userId: user, identifiers: ids }) },
  { weight: 3, arbitrary: fc.constant({ t: 'precompute' as const }) },
);

const prefixKey = (bytes: Uint8Array, at = 0) => Buffer.from(bytes.subarray(at, at + TAG_PREFIX_BYTES)).toString('hex');
function prefixSet(packed: Uint8Array): Set<string> {
  expect(packed.length % TAG_PREFIX_BYTES).toBe(0);
  const keys: string[] = [];
  for (let at = 0; at < packed.length; at += TAG_PREFIX_BYTES) keys.push(prefixKey(packed, at));
  expect(keys).toEqual([...keys].sort()); // packed sorted, no duplicates
  expect(new Set(keys).size).toBe(keys.length);
  return new Set(keys);
}

/** Membership as a client computes it from a cached snapshot and a delta (protocol/discovery/delta.ts). */
function containsWithDelta(base: SetEncoding, delta: TagDelta, tag: Uint8Array): boolean {
  const key = prefixKey(tag);
  return prefixSet(delta.added).has(key) || (base.contains(tag) && !prefixSet(delta.removed).has(key));
}

/** Applies an op through the directory; identifier conflicts are refused whole and change nothing. */
async function apply(directory: Directory, op: Exclude<Op, { t: 'precompute' }>): Promise<'label' | 'other' | 'none'> {
  const before = await directory.version();
  const current = await directory.getUser(op.userId);
  try {
    if (op.t === 'unregister') await directory.removeUser(op.userId);
    else if (op.t === 'register') await directory.importUsers([{ userId: op.userId, identifiers: op.identifiers, label: Uint8Array.of(op.label) }]);
    else if (current !== undefined) {
      const next =
        op.t === 'flag'
          ? { ...current, discoverable: op.discoverable }
          : op.t === 'label'
            ? { ...current, label: Uint8Array.of(op.label) }
            : { ...current, identifiers: op.identifiers };
      await directory.importUsers([next]);
    }
  } catch (err) {
    expect(err).toBeInstanceOf(ContactPsiError);
    expect((err as ContactPsiError).code).toBe('identifier_taken');
  }
  if ((await directory.version()) === before) return 'none';
  const kinds = (await directory.changesSince(before)).map((c) => c.kind);
  return kinds.every((k) => k === 'label') ? 'label' : 'other';
}

describe.each(stores)('tag deltas on the %s store', (_name, openStore) => {
  it('snapshot at a + delta a→b has the members of the snapshot at b, for every pair a < b', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 22 }), async (ops) => {
        const directory = await Directory.open({ store: openStore(), suite });
        try {
          const tags = suite.evaluate(directory.epochKeyPair().secretKey, IDENTIFIERS.map(identifierBytes));
          const seen: { version: number; encoding: SetEncoding }[] = [];
          let sinceLast: 'none' | 'label' | 'other' = 'other';
          for (const op of [...ops, { t: 'precompute' as const }]) {
            if (op.t !== 'precompute') {
              const effect = await apply(directory, op);
              if (effect === 'other' || (effect === 'label' && sinceLast === 'none')) sinceLast = effect;
              continue;
            }
            await directory.precompute();
            const version = await directory.version();
            const snap = await directory.snapshot('raw');
            expect(snap.version).toBe(version);
            const encoding = parseEncoding(snap.bytes);
            const epoch = directory.currentEpoch;
            expect(await directory.servedTagDelta(epoch, version)).toEqual({ epoch, fromVersion: version, toVersion: version, added: new Uint8Array(0), removed: new Uint8Array(0), relabeled: new Uint8Array(0) });
            for (const a of seen) {
              const delta = await directory.servedTagDelta(epoch, a.version);
              expect(delta).toBeDefined();
              expect(delta!.toVersion).toBe(version);
              for (const tag of tags) expect(containsWithDelta(a.encoding, delta!, tag)).toBe(encoding.contains(tag));
            }
            // Only label changes since the last precompute: no tag delta at all.
            const last = seen[seen.length - 1];
            if (last !== undefined && sinceLast === 'label') {
              const delta = (await directory.servedTagDelta(epoch, last.version))!;
              expect(delta.added.length + delta.removed.length).toBe(0);
              expect(version).toBeGreaterThan(last.version);
            }
            if (last?.version !== version) seen.push({ version, encoding });
            sinceLast = 'none';
          }
        } finally {
          await directory.close();
        }
      }),
      { numRuns: 30 },
    );
  });

  it('a new user is in the next delta; the version the snapshot names is the version the delta ends at', async () => {
    const directory = await Directory.open({ store: openStore(), suite });
    await directory.importUsers([{ userId: 'ann', identifiers: [IDENTIFIERS[0]] }]);
    const first = await directory.snapshot('fuse');
    expect(first.version).toBe(await directory.version());
    await directory.importUsers([{ userId: 'ben', identifiers: [IDENTIFIERS[1], IDENTIFIERS[3]] }]);
    // Before a precompute the sync delta ends at the last complete version: nothing new yet.
    expect(await directory.servedTagDelta(directory.currentEpoch, first.version)).toMatchObject({ toVersion: first.version, added: new Uint8Array(0) });
    await directory.precompute();
    const version = await directory.version();
    const delta = (await directory.servedTagDelta(directory.currentEpoch, first.version))!;
    expect(delta).toMatchObject({ fromVersion: first.version, toVersion: version });
    const [benPhone, benMail] = suite.evaluate(directory.epochKeyPair().secretKey, [IDENTIFIERS[1], IDENTIFIERS[3]].map(identifierBytes));
    expect(prefixSet(delta.added)).toEqual(new Set([prefixKey(benPhone), prefixKey(benMail)]));
    expect(delta.added.length).toBe(2 * TAG_PREFIX_BYTES); // exactly 8 bytes per changed tag
    expect(delta.removed.length).toBe(0);
    expect((await directory.snapshot('fuse')).version).toBe(delta.toVersion);
    // The async twin brings the tags up to date first.
    await directory.removeUser('ann');
    const after = (await directory.tagDelta(directory.currentEpoch, version))!;
    expect(after.toVersion).toBe(await directory.version());
    expect(after.removed.length).toBe(TAG_PREFIX_BYTES);
    // Out of range: ahead of the log, another epoch, nonsense.
    expect(await directory.servedTagDelta(directory.currentEpoch, after.toVersion + 1)).toBeUndefined();
    expect(await directory.servedTagDelta(directory.currentEpoch + 1, version)).toBeUndefined();
    expect(await directory.servedTagDelta(directory.currentEpoch, -1)).toBeUndefined();
    expect(await directory.servedTagDelta(directory.currentEpoch, 1.5)).toBeUndefined();
    await directory.close();
  });

  it('nets changes exactly: removed then re-added, or added then removed, is not in the delta at all', async () => {
    const directory = await Directory.open({ store: openStore(), suite });
    const epoch = directory.currentEpoch;
    const [x, y] = suite.evaluate(directory.epochKeyPair().secretKey, [IDENTIFIERS[0], IDENTIFIERS[1]].map(identifierBytes));
    await directory.importUsers([{ userId: 'ann', identifiers: [IDENTIFIERS[0]] }]);
    await directory.precompute();
    const a = await directory.version();
    await directory.removeUser('ann'); // x removed
    await directory.importUsers([{ userId: 'ben', identifiers: [IDENTIFIERS[1]] }]); // y added
    await directory.precompute();
    await directory.importUsers([{ userId: 'ann', identifiers: [IDENTIFIERS[0]] }]); // x back
    await directory.removeUser('ben'); // y gone again
    await directory.precompute();
    const delta = (await directory.servedTagDelta(epoch, a))!;
    // x was there at both ends: listing it as added would move the signed commitment twice.
    expect(prefixSet(delta.added).has(prefixKey(x))).toBe(false);
    expect(delta.removed.length).toBe(0);
    expect(prefixSet(delta.added).has(prefixKey(y))).toBe(false);
    await directory.close();
  });

  it('keeps deltaRetention versions of log: an older start is refused', async () => {
    const directory = await Directory.open({ store: openStore(), suite, deltaRetention: 2 });
    const epoch = directory.currentEpoch;
    const versions: number[] = [];
    for (let i = 0; i < 5; i++) {
      await directory.importUsers([{ userId: `u${i}`, identifiers: [`tel:+4179123456${i}`] }]);
      await directory.precompute();
      versions.push(await directory.version());
    }
    const newest = versions[versions.length - 1];
    expect(await directory.servedTagDelta(epoch, newest - 2)).toMatchObject({ toVersion: newest });
    expect((await directory.servedTagDelta(epoch, newest - 2))!.added.length).toBe(2 * TAG_PREFIX_BYTES);
    expect(await directory.servedTagDelta(epoch, newest - 3)).toBeUndefined();
    expect(await directory.servedTagDelta(epoch, versions[0])).toBeUndefined();
    await directory.close();
  });
});

it('netTagDelta follows each prefix from its first to its last op and sorts the result', () => {
  const p = (n: number) => new Uint8Array(8).fill(n);
  const rows = [
    { prefix: p(5), op: 'removed' as const }, // there at the start, gone: removed
    { prefix: p(1), op: 'added' as const },
    { prefix: p(1), op: 'removed' as const }, // came and went: nothing
    { prefix: p(3), op: 'removed' as const },
    { prefix: p(3), op: 'added' as const }, // went and came back: there at both ends, relabeled (issue 10 §4)
    { prefix: p(2), op: 'added' as const }, // new: added
    { prefix: p(4), op: 'removed' as const },
    { prefix: p(4), op: 'added' as const },
    { prefix: p(4), op: 'removed' as const }, // there at the start, gone at the end: removed
  ];
  const { added, removed, relabeled } = netTagDelta(rows);
  expect(added).toEqual(Uint8Array.from([...p(2)]));
  expect(removed).toEqual(Uint8Array.from([...p(4), ...p(5)]));
  expect(relabeled).toEqual(Uint8Array.from([...p(3)]));
  expect(netTagDelta([])).toEqual({ added: new Uint8Array(0), removed: new Uint8Array(0), relabeled: new Uint8Array(0) });
});
