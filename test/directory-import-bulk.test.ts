/**
 * The bulk paths of the streaming import (issue 13 §1, speed at scale): batches committed to
 * the stage several rows per INSERT statement, the apply into an empty directory with the
 * identifiers' index by user dropped and rebuilt and no probe of an empty tags table. For
 * random files of up to a few hundred rows (batches large enough for whole multi-row
 * statements and a rest), staged WITH tags and applied, the directory's tables (users,
 * identifiers, change log, tags with their seals and sealed_version, tag log, version) and
 * its schema (every index, by its SQL) are exactly those of parse + upsertUsers + precompute
 * into a directory of the same key, fresh or already holding users.
 */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRng } from '../src/contacts/generate.js';
import { loadGroup } from '../src/group/select.js';
import { parseDirectoryFile } from '../src/directory/import-file.js';
import { ImportStage } from '../src/directory/import-stage.js';
import { stageDirectoryFile } from '../src/directory/import-stream.js';
import { precomputeTags } from '../src/directory/precompute.js';
import { SqliteStore } from '../src/directory/sqlite-store.js';
import { createSuite, Modes, type OprfSuite } from '../src/oprf/index.js';

const work = mkdtempSync(join(tmpdir(), 'contact-psi-import-bulk-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const HEADER = 'user_id,phones,emails,label,discoverable';
const EPOCH = 1;

let suite: OprfSuite;
let secretKey: Uint8Array;
beforeAll(async () => {
  suite = createSuite('ristretto255-SHA512', Modes.OPRF, await loadGroup('ristretto255', 'auto'));
  secretKey = suite.generateKeyPair(seededRng(41)).secretKey;
});

/**
 * Users drawn from a pool of 600 ids and numbers (duplicates, numbers taken by an earlier
 * row, moves over an existing directory), most rows valid so batches hold many users.
 */
const n = fc.integer({ min: 0, max: 599 });
const phoneOf = (i: number) => `+4179${String(1000000 + i)}`;
const row = fc.oneof(
  {
    weight: 20,
    arbitrary: fc
      .tuple(n, fc.array(n, { minLength: 1, maxLength: 2 }), fc.array(n, { maxLength: 1 }), fc.constantFrom('', 'pk-a', 'pk-b', 'base64:AQID'), fc.constantFrom('', 'true', 'false'))
      .map(([u, phones, emails, label, flag]) => `u${u},${phones.map(phoneOf).join(';')},${emails.map((e) => `m${e}@example.org`).join(';')},${label},${flag}`),
  },
  { weight: 1, arbitrary: fc.constantFrom('', 'u7,x,,,', '"u8,+41791234571,,,') },
);
const file = (max: number) => fc.array(row, { maxLength: max, size: 'max' }).map((rows) => [HEADER, ...rows].join('\n'));

interface Tables {
  users: unknown[];
  identifiers: unknown[];
  changes: unknown[];
  tags: unknown[];
  tagLog: unknown[];
  version: unknown;
  schema: unknown[];
}

function tables(path: string): Tables {
  const db = new Database(path, { readonly: true });
  try {
    const all = (sql: string) => db.prepare(sql).raw().all();
    return {
      users: all('SELECT user_id, label, discoverable, label_version FROM users ORDER BY user_id'),
      identifiers: all('SELECT identifier, user_id FROM identifiers ORDER BY identifier'),
      changes: all('SELECT version, kind, user_id FROM changes ORDER BY version'),
      tags: all('SELECT epoch, identifier, user_id, tag, lookup_key, sealed, sealed_version FROM tags ORDER BY epoch, identifier'),
      tagLog: all('SELECT epoch, version, prefix, op FROM tag_log ORDER BY rowid'),
      version: db.prepare('SELECT version FROM state').pluck().get(),
      schema: all("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"),
    };
  } finally {
    db.close();
  }
}

let files = 0;

/** A SQLite directory holding `before` (tags precomputed, so the epoch's delta log has started), or none. */
async function directoryWith(name: string, before: string | undefined): Promise<SqliteStore> {
  const store = SqliteStore.open(`${name}.db`);
  if (before !== undefined) {
    await store.upsertUsers(parseDirectoryFile(before, { defaultRegion: 'CH' }).users);
    await precomputeTags({ store, suite, secretKey, epoch: EPOCH, startDeltaLog: true });
  }
  return store;
}

async function viaStage(before: string | undefined, text: string, batchRows: number): Promise<{ tables: Tables; result: unknown }> {
  const name = join(work, `s${files++}`);
  const store = await directoryWith(name, before);
  let result: unknown;
  try {
    writeFileSync(`${name}.csv`, text);
    const stage = ImportStage.open(`${name}.stage`);
    try {
      await stageDirectoryFile({ file: `${name}.csv`, stage, defaultRegion: 'CH', batchRows, tagging: { suite, secretKey, epoch: EPOCH, publicKey: 'k' } });
    } finally {
      stage.close();
    }
    try {
      const r = await store.applyImportStage(`${name}.stage`, EPOCH);
      await precomputeTags({ store, suite, secretKey, epoch: EPOCH, startDeltaLog: true });
      result = { changes: r.changes, version: r.version };
    } catch (err) {
      result = (err as { code?: string }).code;
    }
  } finally {
    await store.close();
  }
  return { tables: tables(`${name}.db`), result };
}

async function viaUpsert(before: string | undefined, text: string): Promise<{ tables: Tables; result: unknown }> {
  const name = join(work, `u${files++}`);
  const store = await directoryWith(name, before);
  let result: unknown;
  try {
    try {
      const r = await store.upsertUsers(parseDirectoryFile(text, { defaultRegion: 'CH' }).users);
      await precomputeTags({ store, suite, secretKey, epoch: EPOCH, startDeltaLog: true });
      result = { changes: r.changes, version: r.version };
    } catch (err) {
      result = (err as { code?: string }).code;
    }
  } finally {
    await store.close();
  }
  return { tables: tables(`${name}.db`), result };
}

describe('the bulk import paths', () => {
  it('leave the tables and schema that parse + upsertUsers + precompute leave (fresh and over an existing directory)', async () => {
    let bigBatches = 0;
    let fresh = 0;
    let over = 0;
    await fc.assert(
      fc.asyncProperty(fc.option(file(40), { nil: undefined, freq: 3 }), file(260), fc.integer({ min: 33, max: 200 }), async (before, text, batchRows) => {
        const expected = await viaUpsert(before, text);
        const got = await viaStage(before, text, batchRows);
        expect(got.result).toEqual(expected.result);
        expect(got.tables).toEqual(expected.tables);
        // A batch of at least 32 accepted users: whole multi-row statements for users and identifiers.
        if ((expected.tables.users as unknown[]).length >= 40) bigBatches++;
        if (typeof expected.result === 'object') {
          if (before === undefined) fresh++;
          else over++;
        }
      }),
      { numRuns: 25, seed: 23 },
    );
    expect(bigBatches).toBeGreaterThan(5);
    expect(fresh).toBeGreaterThan(3);
    expect(over).toBeGreaterThan(3);
  }, 300_000);
});
