/**
 * Applies a staged import (../import-stage.ts) to a PostgreSQL directory in one
 * transaction: the stage's users and identifiers (with their tags) go in by COPY (copy.ts)
 * into temporary tables, then the same set-wise statements as the SQLite apply
 * (../sqlite-import-apply.ts, which explains them): change-log rows per changed aspect in
 * file order, identifiers released before they are claimed, `identifier_taken` when an
 * identifier belongs to a user the file does not mention, the staged tags of the epoch
 * stored (logged `added` once the epoch's delta log has started). The version row is locked
 * first, as every writer of the store does, and the commit is announced on CHANGE_CHANNEL.
 */
import Database from 'better-sqlite3';
import type { Pool, PoolClient } from 'pg';
import { identifierTaken } from '../users.js';
import type { StageApplyResult } from '../sqlite-import-apply.js';
import { copyRows, type CopyValue } from './copy.js';
import { CHANGE_CHANNEL } from './store.js';

const REGISTER = 1;
const OPT_OUT = 2;
const OPT_IN = 4;
const IDENTIFIERS = 8;
const LABEL = 16;
const OPT = OPT_OUT | OPT_IN;
const b = (expr: string): string => `(CASE WHEN ${expr} THEN 1 ELSE 0 END)`;

/** Rows read from the stage file per query: the COPY streams them on. */
const PAGE = 8192;

export async function applyStagePostgres(pool: Pool, stagePath: string, tagEpoch: number | undefined): Promise<StageApplyResult> {
  const stage = new Database(stagePath, { readonly: true, fileMustExist: true });
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => (broken = err);
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await apply(client, stage, tagEpoch);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.off('error', onError);
    client.release(broken);
    stage.close();
  }
}

function* paged<T>(stage: Database.Database, sql: string, keyOf: (row: T) => unknown, first: unknown, toRow: (row: T) => CopyValue[]): Generator<CopyValue[]> {
  const statement = stage.prepare(sql);
  let after = first;
  for (;;) {
    const rows = statement.all(after, PAGE) as T[];
    for (const r of rows) yield toRow(r);
    if (rows.length < PAGE) return;
    after = keyOf(rows[rows.length - 1]);
  }
}

async function apply(c: PoolClient, stage: Database.Database, tagEpoch: number | undefined): Promise<StageApplyResult> {
  const base = Number((await c.query<{ version: string }>('SELECT version::text AS version FROM state WHERE id = 1 FOR UPDATE')).rows[0]!.version);
  if ((await c.query('SELECT 1 FROM users LIMIT 1')).rowCount === 0) return applyFresh(c, stage, tagEpoch, base);
  await c.query(`CREATE TEMP TABLE import_users (row bigint NOT NULL, user_id text COLLATE "C" NOT NULL, label bytea NOT NULL, discoverable boolean NOT NULL) ON COMMIT DROP`);
  await c.query(`CREATE TEMP TABLE import_ids (identifier text COLLATE "C" NOT NULL, row bigint NOT NULL, tag bytea, lookup_key bytea, sealed bytea) ON COMMIT DROP`);
  type U = { row: number; user_id: string; label: Buffer; discoverable: number };
  type I = { k: number; identifier: string; row: number; tag: Buffer | null; lookup_key: Buffer | null; sealed: Buffer | null };
  await copyRows(
    c,
    'import_users',
    ['row', 'user_id', 'label', 'discoverable'],
    paged<U>(stage, 'SELECT row, user_id, label, discoverable FROM users WHERE row > ? ORDER BY row LIMIT ?', (r) => r.row, 0, (r) => [r.row, r.user_id, r.label, r.discoverable === 1]),
  );
  await copyRows(
    c,
    'import_ids',
    ['identifier', 'row', 'tag', 'lookup_key', 'sealed'],
    paged<I>(stage, 'SELECT rowid AS k, identifier, row, tag, lookup_key, sealed FROM ids WHERE rowid > ? ORDER BY rowid LIMIT ?', (r) => r.k, 0, (r) => [
      r.identifier,
      r.row,
      r.tag,
      r.lookup_key,
      r.sealed,
    ]),
  );
  await c.query('CREATE UNIQUE INDEX ON import_users (row)');
  await c.query('CREATE UNIQUE INDEX ON import_users (user_id)');
  await c.query('CREATE INDEX ON import_ids (row)');
  await c.query('ANALYZE import_users');
  await c.query('ANALYZE import_ids');

  const existing = true; // a directory without users takes applyFresh
  if (existing) {
    const clash = await c.query<{ identifier: string; claimant: string; holder: string }>(`SELECT i.identifier, u.user_id AS claimant, m.user_id AS holder
      FROM import_ids i JOIN identifiers m ON m.identifier = i.identifier JOIN import_users u ON u.row = i.row
      WHERE m.user_id <> u.user_id AND NOT EXISTS (SELECT 1 FROM import_users x WHERE x.user_id = m.user_id)
      ORDER BY i.row LIMIT 1`);
    if (clash.rows.length > 0) throw identifierTaken(clash.rows[0].identifier, clash.rows[0].claimant, clash.rows[0].holder);
  }
  const idsDiffer = `((SELECT COUNT(*) FROM identifiers mi WHERE mi.user_id = s.user_id) <> (SELECT COUNT(*) FROM import_ids si WHERE si.row = s.row)
    OR EXISTS (SELECT 1 FROM import_ids si WHERE si.row = s.row
      AND NOT EXISTS (SELECT 1 FROM identifiers mi WHERE mi.identifier = si.identifier AND mi.user_id = s.user_id)))`;
  await c.query(`CREATE TEMP TABLE import_plan ON COMMIT DROP AS
    SELECT row, user_id, kinds, n, $1::bigint + SUM(n) OVER (ORDER BY row ROWS UNBOUNDED PRECEDING) - n AS vbase
    FROM (
      SELECT row, user_id, kinds,
        (kinds & ${REGISTER}) + ${b(`(kinds & ${OPT}) <> 0`)} + ${b(`(kinds & ${IDENTIFIERS}) <> 0`)} + ${b(`(kinds & ${LABEL}) <> 0`)} AS n
      FROM (
        SELECT s.row, s.user_id,
          CASE WHEN m.user_id IS NULL THEN ${REGISTER} ELSE
            (CASE WHEN m.discoverable = s.discoverable THEN 0 WHEN s.discoverable THEN ${OPT_IN} ELSE ${OPT_OUT} END)
            | (CASE WHEN ${existing ? idsDiffer : 'false'} THEN ${IDENTIFIERS} ELSE 0 END)
            | (CASE WHEN m.label = s.label THEN 0 ELSE ${LABEL} END)
          END AS kinds
        FROM import_users s LEFT JOIN users m ON m.user_id = s.user_id
      ) k
    ) n
    WHERE kinds <> 0`, [base]);
  const changes = Number((await c.query<{ n: string }>('SELECT COALESCE(SUM(n), 0)::text AS n FROM import_plan')).rows[0].n);
  const version = base + changes;
  if (changes === 0) return { changes: 0, version: base, tagsStored: await storeStagedTags(c, tagEpoch, base) };

  const opt = b(`(kinds & ${OPT}) <> 0`);
  const ids = b(`(kinds & ${IDENTIFIERS}) <> 0`);
  await c.query(`INSERT INTO changes (version, kind, user_id)
    SELECT vbase + 1, 'register', user_id FROM import_plan WHERE (kinds & ${REGISTER}) <> 0
    UNION ALL SELECT vbase + 1, CASE WHEN (kinds & ${OPT_IN}) <> 0 THEN 'opt_in' ELSE 'opt_out' END, user_id FROM import_plan WHERE (kinds & ${OPT}) <> 0
    UNION ALL SELECT vbase + ${opt} + 1, 'identifiers', user_id FROM import_plan WHERE (kinds & ${IDENTIFIERS}) <> 0
    UNION ALL SELECT vbase + ${opt} + ${ids} + 1, 'label', user_id FROM import_plan WHERE (kinds & ${LABEL}) <> 0`);
  if (existing) await c.query(`DELETE FROM identifiers WHERE user_id IN (SELECT user_id FROM import_plan WHERE (kinds & ${IDENTIFIERS}) <> 0)`);
  await c.query(`INSERT INTO users (user_id, label, discoverable, label_version)
    SELECT p.user_id, s.label, s.discoverable,
      CASE WHEN (p.kinds & ${REGISTER}) <> 0 THEN p.vbase + 1
           WHEN (p.kinds & ${LABEL}) <> 0 THEN p.vbase + ${b(`(p.kinds & ${OPT}) <> 0`)} + ${b(`(p.kinds & ${IDENTIFIERS}) <> 0`)} + 1
           ELSE -1 END
    FROM import_plan p JOIN import_users s ON s.row = p.row
    ON CONFLICT (user_id) DO UPDATE SET label = excluded.label, discoverable = excluded.discoverable,
      label_version = CASE WHEN excluded.label_version < 0 THEN users.label_version ELSE excluded.label_version END`);
  await c.query(`INSERT INTO identifiers (identifier, user_id)
    SELECT i.identifier, p.user_id FROM import_ids i JOIN import_plan p ON p.row = i.row
    WHERE (p.kinds & ${REGISTER | IDENTIFIERS}) <> 0`);
  await c.query('UPDATE state SET version = $1 WHERE id = 1', [version]);
  // Delivered at COMMIT to every node LISTENing (store.ts watchChanges); never if rolled back.
  await c.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, String(version)]);
  return { changes, version, tagsStored: await storeStagedTags(c, tagEpoch, version) };
}

async function storeStagedTags(c: PoolClient, epoch: number | undefined, version: number): Promise<number> {
  if (epoch === undefined) return 0;
  const logging = (await c.query('SELECT 1 FROM epochs WHERE epoch = $1 AND delta_floor IS NOT NULL', [epoch])).rowCount! > 0;
  const fresh = `FROM import_ids i JOIN import_users s ON s.row = i.row
    WHERE i.tag IS NOT NULL AND s.discoverable
      AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.epoch = $1 AND t.identifier = i.identifier)`;
  if (logging) await c.query(`INSERT INTO tag_log (epoch, version, prefix, op) SELECT $1, $2, substring(i.tag FROM 1 FOR 8), 'added' ${fresh} ORDER BY i.identifier`, [epoch, version]);
  const stored = await c.query(
    `INSERT INTO tags (epoch, identifier, user_id, tag, lookup_key, sealed, sealed_version)
      SELECT $1, i.identifier, s.user_id, i.tag, i.lookup_key, i.sealed, m.label_version
      FROM import_ids i JOIN import_users s ON s.row = i.row JOIN users m ON m.user_id = s.user_id
      WHERE i.tag IS NOT NULL AND s.discoverable
        AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.epoch = $1 AND t.identifier = i.identifier)
      ON CONFLICT (epoch, identifier) DO NOTHING`,
    [epoch],
  );
  return stored.rowCount ?? 0;
}

/**
 * Into a directory without users: every staged user is new, so the plan is known without a
 * query (one `register` each, versions base + 1, base + 2, ... in file order) and the rows
 * go by COPY straight into users, changes, identifiers and tags, with no temporary copy.
 * Into an empty tags table, its secondary indexes are dropped for the load and rebuilt
 * after from their own definitions (pg_indexes), a sorted build instead of a random insert
 * per row: inside this transaction, so nothing outside ever sees the table without them.
 */
async function applyFresh(c: PoolClient, stage: Database.Database, tagEpoch: number | undefined, base: number): Promise<StageApplyResult> {
  type U = { row: number; user_id: string; label: Buffer; discoverable: number };
  const users = (): Generator<U> => stage.prepare('SELECT row, user_id, label, discoverable FROM users ORDER BY row').iterate() as Generator<U>;
  let version = base;
  await copyRows(c, 'users', ['user_id', 'label', 'discoverable', 'label_version'], (function* () {
    for (const u of users()) yield [u.user_id, u.label, u.discoverable === 1, ++version];
  })());
  const changes = version - base;
  version = base;
  await copyRows(c, 'changes', ['version', 'kind', 'user_id'], (function* () {
    for (const u of users()) yield [++version, 'register', u.user_id];
  })());
  // Identifiers (and tags) of each user in row order, merged with the users' versions.
  type I = { row: number; identifier: string; tag: Buffer | null; lookup_key: Buffer | null; sealed: Buffer | null };
  function* joined(): Generator<{ i: I; u: U; labelVersion: number }> {
    const us = users();
    let u = us.next();
    let k = base + 1;
    for (const i of stage.prepare('SELECT row, identifier, tag, lookup_key, sealed FROM ids ORDER BY row').iterate() as Generator<I>) {
      while (!u.done && u.value.row < i.row) {
        u = us.next();
        k++;
      }
      if (u.done || u.value.row !== i.row) throw new Error(`internal: stage identifier of row ${i.row} has no user`);
      yield { i, u: u.value, labelVersion: k };
    }
    us.return?.(undefined);
  }
  // Checked per row, the foreign key to users was most of the load (an RI query per
  // identifier): dropped for the COPY and added back, which checks every row in one join.
  await withoutIndexes(c, 'identifiers', true, () =>
    copyRows(c, 'identifiers', ['identifier', 'user_id'], (function* () {
      for (const { i, u } of joined()) yield [i.identifier, u.user_id];
    })()),
  );
  let tagsStored = 0;
  // Tags left by removed users (not pruned yet) would clash with a COPY: then precompute
  // computes this file's tags instead (a directory emptied and refilled, rare).
  const empty = tagEpoch !== undefined && (await c.query('SELECT 1 FROM tags LIMIT 1')).rowCount === 0;
  if (tagEpoch !== undefined && empty) {
    const logging = (await c.query('SELECT 1 FROM epochs WHERE epoch = $1 AND delta_floor IS NOT NULL', [tagEpoch])).rowCount! > 0;
    await withoutIndexes(c, 'tags', false, () =>
      copyRows(c, 'tags', ['epoch', 'identifier', 'user_id', 'tag', 'lookup_key', 'sealed', 'sealed_version'], (function* () {
        for (const { i, u, labelVersion } of joined()) {
          if (i.tag === null || i.lookup_key === null || i.sealed === null || u.discoverable !== 1) continue;
          tagsStored++;
          yield [tagEpoch, i.identifier, u.user_id, i.tag, i.lookup_key, i.sealed, labelVersion];
        }
      })()),
    );
    // The delta log (an epoch that served before, now without users): each new tag `added`.
    if (logging) await c.query(`INSERT INTO tag_log (epoch, version, prefix, op) SELECT $1, $2, substring(t.tag FROM 1 FOR 8), 'added' FROM tags t WHERE t.epoch = $1 ORDER BY t.identifier`, [tagEpoch, base + changes]);
  }
  if (changes > 0) {
    await c.query('UPDATE state SET version = $1 WHERE id = 1', [base + changes]);
    await c.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, String(base + changes)]);
  }
  return { changes, version: base + changes, tagsStored };
}

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/**
 * Runs a bulk load of `table` without its secondary indexes (and, with `foreignKeys`, its
 * foreign keys), then builds them again from their own definitions (pg_indexes,
 * pg_get_constraintdef), so the schema after is the schema before whatever migrations made
 * it. Inside the caller's transaction: no other session sees the table without them.
 */
async function withoutIndexes(c: PoolClient, table: string, foreignKeys: boolean, load: () => Promise<void>): Promise<void> {
  const indexes = (
    await c.query<{ name: string; def: string }>(
      `SELECT i.indexname AS name, i.indexdef AS def FROM pg_indexes i
        WHERE i.schemaname = current_schema() AND i.tablename = $1
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conname = i.indexname)`,
      [table],
    )
  ).rows;
  const keys = foreignKeys
    ? (
        await c.query<{ name: string; def: string }>(
          `SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'f'`,
          [table],
        )
      ).rows
    : [];
  for (const { name } of keys) await c.query(`ALTER TABLE ${quoteIdent(table)} DROP CONSTRAINT ${quoteIdent(name)}`);
  for (const { name } of indexes) await c.query(`DROP INDEX ${quoteIdent(name)}`);
  await load();
  for (const { def } of indexes) await c.query(def);
  for (const { name, def } of keys) await c.query(`ALTER TABLE ${quoteIdent(table)} ADD CONSTRAINT ${quoteIdent(name)} ${def}`);
}
