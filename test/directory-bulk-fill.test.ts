/**
 * SQLite bulk fill: the first precompute of an empty tags table runs without the lookup-key
 * index and builds it afterwards (sqlite-store.ts beginTagFill). Lookups stay correct while
 * it is missing (this connection or another), a crash before the rebuild is repaired by the
 * next open, and a fill beside another epoch's tags never drops it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identifierBytes } from '../src/contacts/identifier.js';
import { generateDirectory } from '../src/directory/generate.js';
import { lookupKeyOf } from '../src/directory/lookup.js';
import { sealWithLookupKeys } from '../src/directory/seal.js';
import { LOOKUP_INDEX } from '../src/directory/sqlite-schema.js';
import { LOOKUP_SQL, SqliteStore } from '../src/directory/sqlite-store.js';
import type { DirectoryUser, TagRecord } from '../src/directory/types.js';
import { loadGroup } from '../src/group/index.js';
import { createSuite, Modes, type OprfSuite } from '../src/oprf/index.js';
import { seededRng } from './helpers/rng.js';

const tmp = mkdtempSync(join(tmpdir(), 'contact-psi-bulk-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let files = 0;
const freshPath = () => join(tmp, `b-${files++}.db`);

let suite: OprfSuite;
let secretKey: Uint8Array;
beforeAll(async () => {
  suite = createSuite('ristretto255-SHA512', Modes.VOPRF, await loadGroup('ristretto255', 'sodium'));
  secretKey = suite.deriveKeyPair(new Uint8Array(32).fill(9), new Uint8Array(0)).secretKey;
});

const users: DirectoryUser[] = generateDirectory(30, seededRng(21)).map((u) => ({ ...u, discoverable: true }));
const pairs = users.flatMap((u) => u.identifiers.map((identifier) => ({ identifier, user: u })));

/** Complete tag records of the first `count` missing pairs, sealed at the users' label versions. */
async function records(store: SqliteStore, count = pairs.length): Promise<TagRecord[]> {
  const missing = (await store.missingTags(1, undefined, pairs.length)).slice(0, count);
  const tags = suite.evaluate(secretKey, missing.map((m) => identifierBytes(m.identifier)));
  const sealed = sealWithLookupKeys(missing.map((m, i) => ({ tag: tags[i], userId: m.userId, label: m.label })));
  return missing.map((m, i) => ({ identifier: m.identifier, userId: m.userId, tag: tags[i], lookupKey: sealed[i].lookupKey, sealed: sealed[i].sealed, labelVersion: m.labelVersion }));
}

function hasIndex(path: string): boolean {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?").get(LOOKUP_INDEX) !== undefined;
  } finally {
    db.close();
  }
}

async function expectLookups(store: SqliteStore, epoch: number, written: TagRecord[]): Promise<void> {
  const matches = await store.lookupSealed(epoch, written.map((r) => r.lookupKey));
  matches.forEach((m, i) => {
    expect(m?.userId).toBe(written[i].userId);
    expect(m?.sealed).toEqual(written[i].sealed);
  });
  expect(await store.lookupSealed(epoch, [new Uint8Array(16)])).toEqual([null]);
}

describe('SQLite bulk fill of an empty tags table', () => {
  it('drops the lookup index during the fill, answers lookups meanwhile (both connections), and rebuilds it', async () => {
    const path = freshPath();
    const store = SqliteStore.open(path, { bulkFillThreshold: 10 });
    const other = SqliteStore.open(path);
    try {
      await store.upsertUsers(users);
      await store.beginTagFill(1, pairs.length);
      expect(hasIndex(path)).toBe(false);
      const all = await records(store);
      const half = all.slice(0, Math.ceil(all.length / 2));
      expect(await store.putTags(1, half)).toBe(half.length);
      await expectLookups(store, 1, half);
      await expectLookups(other, 1, half);
      expect(await store.putTags(1, all.slice(half.length))).toBe(all.length - half.length);
      await store.endTagFill(1);
      expect(hasIndex(path)).toBe(true);
      await expectLookups(store, 1, all);
      await expectLookups(other, 1, all);
      await store.endTagFill(1); // idempotent
    } finally {
      await store.close();
      await other.close();
    }
  });

  it('leaves the index alone below the threshold and beside another epoch’s tags', async () => {
    const path = freshPath();
    const store = SqliteStore.open(path, { bulkFillThreshold: 10 });
    try {
      await store.upsertUsers(users);
      await store.beginTagFill(1, 9);
      expect(hasIndex(path)).toBe(true);
      await store.endTagFill(1);
      await store.putTags(1, await records(store, 3));
      await store.beginTagFill(2, 1000); // a rotation's fill: epoch 1 is being served
      expect(hasIndex(path)).toBe(true);
      await store.endTagFill(2);
    } finally {
      await store.close();
    }
  });

  it('after a crash mid-fill (no endTagFill), the next open rebuilds the index and lookups use it', async () => {
    const path = freshPath();
    const store = SqliteStore.open(path, { bulkFillThreshold: 1 });
    await store.upsertUsers(users);
    await store.beginTagFill(1, pairs.length);
    const written = await records(store, 7);
    await store.putTags(1, written);
    await store.close(); // as a process that died: the index was never rebuilt
    expect(hasIndex(path)).toBe(false);
    const reopened = SqliteStore.open(path);
    try {
      expect(hasIndex(path)).toBe(true);
      await expectLookups(reopened, 1, written);
      const db = new Database(path, { readonly: true });
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${LOOKUP_SQL}`).all(1, Buffer.alloc(16)) as { detail: string }[]).map((r) => r.detail);
      db.close();
      expect(plan.join('\n')).toMatch(new RegExp(`USING (COVERING )?INDEX ${LOOKUP_INDEX}`));
    } finally {
      await reopened.close();
    }
  });

  it('a connection opened while another one fills without the index (write lock held) still answers lookups', async () => {
    const path = freshPath();
    const store = SqliteStore.open(path, { bulkFillThreshold: 1 });
    await store.upsertUsers(users);
    await store.beginTagFill(1, pairs.length);
    const written = await records(store, 5);
    await store.putTags(1, written);
    await store.close(); // index dropped, not rebuilt
    // Another process mid-fill: it holds the write lock, so the new connection cannot rebuild the index.
    const filler = new Database(path);
    filler.exec('BEGIN IMMEDIATE');
    try {
      const late = SqliteStore.open(path, { busyTimeoutMs: 0 });
      try {
        expect(hasIndex(path)).toBe(false);
        await expectLookups(late, 1, written);
      } finally {
        await late.close();
      }
    } finally {
      filler.exec('ROLLBACK');
      filler.close();
    }
  });

  it('refuses a bulkFillThreshold that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => SqliteStore.open(':memory:', { bulkFillThreshold: bad })).toThrow(expect.objectContaining({ code: 'invalid_option' }));
    }
  });

  it('a whole precompute pass with the deferred index answers lookups as one that keeps it', async () => {
    const { precomputeTags } = await import('../src/directory/precompute.js');
    const results: (string | null)[][] = [];
    for (const threshold of [1, 1_000_000]) {
      const store = SqliteStore.open(freshPath(), { bulkFillThreshold: threshold });
      try {
        await store.upsertUsers(users);
        await precomputeTags({ store, suite, secretKey, epoch: 1, batchSize: 7 });
        const tags = suite.evaluate(secretKey, pairs.map((p) => identifierBytes(p.identifier)));
        results.push((await store.lookup(1, tags.map(lookupKeyOf))).map((m) => m?.userId ?? null));
      } finally {
        await store.close();
      }
    }
    expect(results[0]).toEqual(pairs.map((p) => p.user.userId));
    expect(results[1]).toEqual(results[0]);
  });
});
