/**
 * Both stores against one model: random sequences of upserts (incl. identifier moves and
 * conflicts), removals, opt-outs and opt-ins. After every step the discoverable pairs,
 * users, version and change log must equal the model's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ContactPsiError } from '../src/errors.js';
import { MemoryStore } from '../src/directory/memory-store.js';
import { SqliteStore } from '../src/directory/sqlite-store.js';
import type { ChangeKind, DirectoryStore, DirectoryUserInput } from '../src/directory/types.js';

const dir = mkdtempSync(join(tmpdir(), 'contact-psi-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

const stores: [string, () => DirectoryStore][] = [
  ['memory', () => new MemoryStore()],
  ['sqlite', () => SqliteStore.open(join(dir, `store-${files++}.db`))],
];

const USER_IDS = ['alice', 'bob', 'carol', 'dave', 'erin'];
// Includes U+FF41 (sorts after astral characters in UTF-16 order, before them in code point
// order) and an astral character, so both stores must agree on code point order.
const IDENTIFIERS = [
  'tel:+41791234560',
  'tel:+41791234561',
  'tel:+41791234562',
  'tel:+4915112345678',
  'mailto:a@example.org',
  'mailto:\uff41@example.org',
  'mailto:\u{1f600}@example.org',
  'mailto:zoë@example.org',
];

interface ModelUser {
  identifiers: string[];
  label: number[];
  discoverable: boolean;
}

type Command =
  | { t: 'upsert'; users: { userId: string; identifiers: string[]; label: number[]; discoverable: boolean }[] }
  | { t: 'remove'; userId: string }
  | { t: 'flag'; userId: string; discoverable: boolean };

const userArb = fc.record({
  userId: fc.constantFrom(...USER_IDS),
  identifiers: fc.subarray(IDENTIFIERS, { maxLength: 3 }),
  label: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 3 }),
  discoverable: fc.boolean(),
});
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('upsert' as const), users: fc.uniqueArray(userArb, { minLength: 1, maxLength: 3, selector: (u) => u.userId }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('remove' as const), userId: fc.constantFrom(...USER_IDS) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('flag' as const), userId: fc.constantFrom(...USER_IDS), discoverable: fc.boolean() }) },
);

const byUtf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const sameList = (a: readonly unknown[], b: readonly unknown[]) => a.length === b.length && a.every((v, i) => v === b[i]);

class Model {
  users = new Map<string, ModelUser>();
  version = 0;

  owner(identifier: string): string | undefined {
    for (const [id, u] of this.users) if (u.identifiers.includes(identifier)) return id;
    return undefined;
  }

  /** Applies an upsert batch; returns the expected change kinds, or the expected error code. */
  upsert(batch: { userId: string; identifiers: string[]; label: number[]; discoverable: boolean }[]): ChangeKind[] | string {
    const inBatch = new Set(batch.map((u) => u.userId));
    const claimed = new Map<string, string>();
    for (const u of batch) {
      for (const id of u.identifiers) {
        if (claimed.has(id)) return 'identifier_taken';
        claimed.set(id, u.userId);
        const holder = this.owner(id);
        if (holder !== undefined && holder !== u.userId && !inBatch.has(holder)) return 'identifier_taken';
      }
    }
    const kinds: ChangeKind[] = [];
    for (const u of batch) {
      const before = this.users.get(u.userId);
      const after: ModelUser = { identifiers: [...new Set(u.identifiers)].sort(byUtf8), label: u.label, discoverable: u.discoverable };
      if (before === undefined) kinds.push('register');
      else {
        if (before.discoverable !== after.discoverable) kinds.push(after.discoverable ? 'opt_in' : 'opt_out');
        if (!sameList(before.identifiers, after.identifiers)) kinds.push('identifiers');
        if (!sameList(before.label, after.label)) kinds.push('label');
      }
      this.users.set(u.userId, after);
    }
    this.version += kinds.length;
    return kinds;
  }

  discoverablePairs(): { identifier: string; userId: string }[] {
    const out: { identifier: string; userId: string }[] = [];
    for (const [userId, u] of this.users) if (u.discoverable) for (const identifier of u.identifiers) out.push({ identifier, userId });
    return out.sort((a, b) => byUtf8(a.identifier, b.identifier));
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) out.push(v);
  return out;
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(ContactPsiError);
    return (err as ContactPsiError).code;
  }
}

describe.each(stores)('%s store', (_name, open) => {
  it('matches the model under random upserts, removals, opt-outs and opt-ins', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(commandArb, { minLength: 1, maxLength: 25 }), async (commands) => {
        const store = open();
        const model = new Model();
        try {
          for (const cmd of commands) {
            const before = await store.version();
            let expected: ChangeKind[];
            if (cmd.t === 'remove') {
              const existed = model.users.delete(cmd.userId);
              expect(await store.removeUser(cmd.userId)).toBe(existed);
              expected = existed ? ['unregister'] : [];
              model.version += expected.length;
            } else {
              let batch = cmd.t === 'upsert' ? cmd.users : [];
              if (cmd.t === 'flag') {
                const u = model.users.get(cmd.userId);
                if (u !== undefined) batch = [{ userId: cmd.userId, identifiers: u.identifiers, label: u.label, discoverable: cmd.discoverable }];
              }
              if (batch.length === 0) continue;
              const outcome = model.upsert(batch);
              const inputs: DirectoryUserInput[] = batch.map((u) => ({ ...u, label: Uint8Array.from(u.label) }));
              if (typeof outcome === 'string') {
                expect(await codeOf(store.upsertUsers(inputs))).toBe(outcome);
                expected = [];
              } else {
                const result = await store.upsertUsers(inputs);
                expect(result).toEqual({ changes: outcome.length, version: model.version });
                expected = outcome;
              }
            }
            // Version: bumped once per change-log row, the rows numbered before+1, before+2, ...
            expect(await store.version()).toBe(model.version);
            const rows = await store.changesSince(before);
            expect(rows.map((r) => r.kind)).toEqual(expected);
            expect(rows.map((r) => r.version)).toEqual(expected.map((_, i) => before + i + 1));
            expect(await collect(store.discoverable())).toEqual(model.discoverablePairs());
            expect(await store.countUsers()).toBe(model.users.size);
            for (const userId of USER_IDS) {
              const m = model.users.get(userId);
              const stored = await store.getUser(userId);
              if (m === undefined) expect(stored).toBeUndefined();
              else expect(stored).toEqual({ userId, identifiers: m.identifiers, label: Uint8Array.from(m.label), discoverable: m.discoverable });
            }
          }
          const log = await store.changesSince(0);
          expect(log.map((r) => r.version)).toEqual(log.map((_, i) => i + 1));
        } finally {
          await store.close();
        }
      }),
      { numRuns: 60 },
    );
  });

  it('moves identifiers between users of one batch, and rejects a conflicting batch whole', async () => {
    const store = open();
    await store.upsertUsers([
      { userId: 'a', identifiers: ['tel:+41791234560'] },
      { userId: 'b', identifiers: ['tel:+41791234561'] },
    ]);
    // A swap is valid as a whole even though each half alone would conflict.
    await store.upsertUsers([
      { userId: 'a', identifiers: ['tel:+41791234561'] },
      { userId: 'b', identifiers: ['tel:+41791234560'] },
    ]);
    expect(await collect(store.discoverable())).toEqual([
      { identifier: 'tel:+41791234560', userId: 'b' },
      { identifier: 'tel:+41791234561', userId: 'a' },
    ]);
    const version = await store.version();
    const code = await codeOf(
      store.upsertUsers([
        { userId: 'c', identifiers: ['tel:+41791234562'] },
        { userId: 'd', identifiers: ['tel:+41791234560'] },
      ]),
    );
    expect(code).toBe('identifier_taken');
    expect(await store.getUser('c')).toBeUndefined();
    expect(await store.version()).toBe(version);
    expect(await codeOf(store.upsertUsers([{ userId: 'a', identifiers: [] }, { userId: 'a', identifiers: [] }]))).toBe('duplicate_user');
    expect(await codeOf(store.upsertUsers([{ userId: 'x', identifiers: ['tel:0791234567'] }]))).toBe('invalid_identifier');
    expect(await codeOf(store.upsertUsers([{ userId: '', identifiers: [] }]))).toBe('invalid_user');
    await store.close();
  });

  it('stores tags only for discoverable pairs and prunes the rest', async () => {
    const store = open();
    await store.upsertUsers([
      { userId: 'a', identifiers: ['tel:+41791234560', 'mailto:a@example.org'], label: Uint8Array.of(1) },
      { userId: 'b', identifiers: ['tel:+41791234561'], discoverable: false },
    ]);
    expect(await store.countMissingTags(1)).toBe(2);
    const tag = (n: number) => new Uint8Array(64).fill(n);
    const key = (n: number) => new Uint8Array(16).fill(n);
    const stored = await store.putTags(1, [
      { identifier: 'tel:+41791234560', userId: 'a', tag: tag(1), lookupKey: key(1) },
      { identifier: 'mailto:a@example.org', userId: 'a', tag: tag(2), lookupKey: key(2) },
      { identifier: 'tel:+41791234561', userId: 'b', tag: tag(3), lookupKey: key(3) }, // hidden: skipped
    ]);
    expect(stored).toBe(2);
    expect(await store.lookup(1, [key(1), key(3), key(9)])).toEqual([{ userId: 'a', label: Uint8Array.of(1), tag: tag(1) }, null, null]);
    let set = await store.readTagSet(1);
    expect(set).toMatchObject({ count: 2, tagLength: 64, missing: 0, stale: 0 });
    expect(set.packed.subarray(0, 64)).toEqual(tag(1)); // sorted by tag bytes
    // a opts out: the lookup answers null at once, the tags become stale until pruned.
    await store.upsertUsers([{ userId: 'a', identifiers: ['tel:+41791234560', 'mailto:a@example.org'], label: Uint8Array.of(1), discoverable: false }]);
    expect(await store.lookup(1, [key(1)])).toEqual([null]);
    set = await store.readTagSet(1);
    expect(set).toMatchObject({ count: 2, stale: 2, missing: 0 });
    expect(await store.pruneTags(1)).toBe(2);
    expect(await store.readTagSet(1)).toMatchObject({ count: 0, stale: 0, tagLength: 0 });
    // Pruning leaves other epochs alone (a retiring epoch keeps serving); dropEpoch removes one.
    await store.upsertUsers([{ userId: 'b', identifiers: ['tel:+41791234561'] }]);
    await store.putTags(7, [{ identifier: 'tel:+41791234561', userId: 'b', tag: tag(4), lookupKey: key(4) }]);
    expect(await store.pruneTags(8)).toBe(0);
    expect((await store.listEpochs()).map((e) => e.epoch)).toEqual([7]);
    expect(await store.dropEpoch(7)).toBe(1);
    expect(await store.listEpochs()).toEqual([]);
    expect(await store.lookup(7, [key(4)])).toEqual([null]);
    await store.close();
  });
});

describe('SQLite label lookup', () => {
  it('uses the lookup-key index even without ANALYZE statistics (no scan of every tag)', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const Database = (await import('better-sqlite3')).default;
    const { SqliteStore, LOOKUP_SQL } = await import('../src/directory/sqlite-store.js');
    const dir = mkdtempSync(join(tmpdir(), 'cpsi-plan-'));
    try {
      const path = join(dir, 'd.db');
      const store = SqliteStore.open(path);
      await store.close();
      const db = new Database(path, { readonly: true });
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${LOOKUP_SQL}`).all(1, Buffer.alloc(16)) as { detail: string }[];
      db.close();
      const tagsStep = plan.map((r) => r.detail).find((d) => / t /.test(` ${d} `) || d.includes('tags AS t'));
      expect(tagsStep).toMatch(/USING INDEX tags_by_lookup_key/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
