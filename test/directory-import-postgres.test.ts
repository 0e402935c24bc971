/**
 * The streaming import into PostgreSQL (issue 11 §5, issue 13 §1): a staged file applied by
 * COPY and set-wise statements (src/directory/postgres/import-apply.ts) leaves the users,
 * change log and version that upsertUsers leaves, fresh and over an existing directory; and
 * `contact-psi directory import --db postgres://...` of a file gives the snapshot the same
 * file gives in SQLite (entry count; the keys differ), with its tags staged, not recomputed.
 */
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createKekFile } from '../src/directory/kek.js';
import { parseDirectoryFile } from '../src/directory/import-file.js';
import { ImportStage } from '../src/directory/import-stage.js';
import { stageDirectoryFile } from '../src/directory/import-stream.js';
import { applyStagePostgres } from '../src/directory/postgres/import-apply.js';
import { PostgresStore } from '../src/directory/postgres/store.js';
import { freshDatabase, stopPostgres } from './helpers/postgres.js';

const cli = join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'main.js');
const work = mkdtempSync(join(tmpdir(), 'contact-psi-import-pg-'));
const HEADER = 'user_id,phones,emails,label,discoverable';
let viaUpsert: PostgresStore;
let viaStage: PostgresStore;
let url = '';

beforeAll(async () => {
  url = await freshDatabase();
  viaUpsert = await PostgresStore.open(await freshDatabase());
  viaStage = await PostgresStore.open(url);
}, 300_000);

afterAll(async () => {
  await viaUpsert?.close();
  await viaStage?.close();
  await stopPostgres();
  rmSync(work, { recursive: true, force: true });
});

async function clear(store: PostgresStore): Promise<void> {
  await store.pool.query('TRUNCATE users, identifiers, changes, tags, tag_log CASCADE');
  await store.pool.query('UPDATE state SET version = 0 WHERE id = 1');
}

async function dump(store: PostgresStore) {
  const users = [];
  for (const id of ['u1', 'u2', 'u3', 'u4', 'u5', 'u6']) users.push(await store.getUser(id));
  return { users, changes: await store.changesSince(0), version: await store.version() };
}

const userId = fc.constantFrom('u1', 'u2', 'u3', 'u4', 'u5', ' u6 ');
const phone = fc.constantFrom('+41791234567', '+41791234568', '079 123 45 69', '+41 12');
const email = fc.constantFrom('a@example.org', 'B@Example.org', 'c@example.org');
const list = <T extends string>(a: fc.Arbitrary<T>) => fc.array(a, { maxLength: 2 }).map((x) => x.join(';'));
const csv = fc
  .array(fc.tuple(userId, list(phone), list(email), fc.constantFrom('', 'pk-a', 'pk-b'), fc.constantFrom('', 'true', 'false')).map((f) => f.join(',')), { maxLength: 8 })
  .map((rows) => [HEADER, ...rows].join('\n'));

let files = 0;
it('a staged file applied by COPY gives what upsertUsers gives (fresh and over a directory)', async () => {
  let updates = 0;
  await fc.assert(
    fc.asyncProperty(fc.option(csv, { nil: undefined }), csv, async (before, text) => {
      await clear(viaUpsert);
      await clear(viaStage);
      if (before !== undefined) {
        const { users } = parseDirectoryFile(before, { defaultRegion: 'CH' });
        await viaUpsert.upsertUsers(users);
        await viaStage.upsertUsers(users);
      }
      let expected: unknown;
      try {
        expected = await viaUpsert.upsertUsers(parseDirectoryFile(text, { defaultRegion: 'CH' }).users);
      } catch (err) {
        expected = (err as { code?: string }).code;
      }
      const name = join(work, `f${files++}`);
      writeFileSync(`${name}.csv`, text);
      const stage = ImportStage.open(`${name}.stage`);
      try {
        await stageDirectoryFile({ file: `${name}.csv`, stage, defaultRegion: 'CH', batchRows: 2 });
      } finally {
        stage.close();
      }
      let got: unknown;
      try {
        const r = await applyStagePostgres(viaStage.pool, `${name}.stage`, undefined);
        got = { changes: r.changes, version: r.version };
      } catch (err) {
        got = (err as { code?: string }).code;
      }
      expect(got).toEqual(expected);
      expect(await dump(viaStage)).toEqual(await dump(viaUpsert));
      if (before !== undefined && typeof expected === 'object' && (expected as { changes: number }).changes > 0) updates++;
    }),
    { numRuns: 25, seed: 17 },
  );
  expect(updates).toBeGreaterThan(3);
}, 300_000);

it('directory import --db postgres:// stages the tags and gives the snapshot SQLite gives', async () => {
  await clear(viaStage);
  const rows = [HEADER];
  for (let i = 0; i < 500; i++) rows.push(`u${i},+4179${String(i).padStart(7, '0')},${i % 5 < 2 ? `u${i}@example.org` : ''},pk-${i},`);
  writeFileSync(join(work, 'users.csv'), rows.join('\n'));
  createKekFile(join(work, 'kek'));
  const run = (db: string, ...extra: string[]) =>
    spawnSync(process.execPath, [cli, 'directory', 'import', 'users.csv', '--db', db, '--batch-rows', '64', ...extra], { encoding: 'utf8', cwd: work, timeout: 300_000 });
  const pg = run(url, '--kek-file', 'kek', '--stage', 'pg.stage');
  expect(pg.status, pg.stderr).toBe(0);
  const sqlite = run('lite.db');
  expect(sqlite.status, sqlite.stderr).toBe(0);
  for (const r of [pg, sqlite]) expect(r.stdout).toMatch(/imported 500 users \(500 changes, 0 rejected rows\); tags: 700 computed, 0 pruned; .* snapshot 700 entries/);
  // The tags came from the stage: the shared precompute after the apply found nothing to do.
  expect(pg.stderr).toContain('this process computed 0 tags');
  // The load dropped the indexes and the foreign key of identifiers and tags and built them
  // again: the schema is the one a migrated database has.
  const schema = async (store: PostgresStore) =>
    (
      await store.pool.query(`SELECT indexdef AS d FROM pg_indexes WHERE tablename IN ('tags', 'identifiers')
        UNION ALL SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid IN ('tags'::regclass, 'identifiers'::regclass)
        ORDER BY 1`)
    ).rows.map((r: { d: string }) => r.d);
  expect(await schema(viaStage)).toEqual(await schema(viaUpsert));
  expect((await schema(viaStage)).some((d) => d.includes('FOREIGN KEY'))).toBe(true);
}, 300_000);
