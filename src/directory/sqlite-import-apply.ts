/**
 * Applies a staged import (import-stage.ts) to a SQLite directory in one transaction, in
 * set-wise SQL instead of a statement per user: the same result as store.upsertUsers with
 * every staged user in file order (test/directory-import-stream.test.ts compares the two):
 * a change-log row per changed aspect of each user, versions in file order, identifiers
 * released before they are claimed, `identifier_taken` (nothing written) when an identifier
 * belongs to a user the file does not mention. Then the staged tags of the epoch go in
 * with their seals, so precompute finds them present; with the epoch's delta log started,
 * each new tag is logged `added` as putTags would.
 */
import type Database from 'better-sqlite3';
import { LOOKUP_INDEX, ensureLookupIndex } from './sqlite-schema.js';
import { identifierTaken } from './users.js';
import type { UpsertResult } from './types.js';

export interface StageApplyResult extends UpsertResult {
  /** Staged tags stored in the directory's tags table. */
  readonly tagsStored: number;
}

// kinds, as bits: the change-log rows of a user, in the order users.ts changeKinds writes them.
const REGISTER = 1;
const OPT_OUT = 2;
const OPT_IN = 4;
const IDENTIFIERS = 8;
const LABEL = 16;

/** The identifiers' index by user (sqlite-schema.ts), rebuilt after a fill of an empty table. */
const IDENTIFIERS_BY_USER = 'identifiers_by_user';

/** Page cache of the apply, in KiB as PRAGMA cache_size takes it (negative): 128 MiB. */
const APPLY_CACHE_KIB = -131072;

/** The label_version a user of the plan `p` gets (a register or label row), else NULL (the stored one stays). */
const NEW_LABEL_VERSION = `CASE WHEN p.kinds & ${REGISTER} THEN p.vbase + 1
  WHEN p.kinds & ${LABEL} THEN p.vbase + ((p.kinds & ${OPT_OUT | OPT_IN}) <> 0) + ((p.kinds & ${IDENTIFIERS}) <> 0) + 1 END`;

const IDS_DIFFER = `((SELECT COUNT(*) FROM main.identifiers mi WHERE mi.user_id = s.user_id) <> (SELECT COUNT(*) FROM st.ids si WHERE si.row = s.row)
  OR EXISTS (SELECT 1 FROM st.ids si WHERE si.row = s.row
    AND NOT EXISTS (SELECT 1 FROM main.identifiers mi WHERE mi.identifier = si.identifier AND mi.user_id = s.user_id)))`;

/**
 * The staged file's users with their change bits, row count and first version, in file
 * order. Keyed by row (an integer primary key): the tags' insert finds a user's plan by a
 * rowid seek, not a search of main.users by user id per tag.
 */
const PLAN_TABLE = 'CREATE TEMP TABLE import_plan (row INTEGER PRIMARY KEY, user_id TEXT NOT NULL, kinds INTEGER NOT NULL, n INTEGER NOT NULL, vbase INTEGER NOT NULL)';
const PLAN = `INSERT INTO temp.import_plan (row, user_id, kinds, n, vbase)
  SELECT row, user_id, kinds, n, @base + SUM(n) OVER (ORDER BY row ROWS UNBOUNDED PRECEDING) - n AS vbase
  FROM (
    SELECT row, user_id, kinds,
      (kinds & ${REGISTER}) + ((kinds & ${OPT_OUT | OPT_IN}) <> 0) + ((kinds & ${IDENTIFIERS}) <> 0) + ((kinds & ${LABEL}) <> 0) AS n
    FROM (
      SELECT s.row AS row, s.user_id AS user_id,
        CASE WHEN m.user_id IS NULL THEN ${REGISTER} ELSE
          (CASE WHEN m.discoverable = s.discoverable THEN 0 WHEN s.discoverable = 1 THEN ${OPT_IN} ELSE ${OPT_OUT} END)
          | (CASE WHEN @existing AND ${IDS_DIFFER} THEN ${IDENTIFIERS} ELSE 0 END)
          | (CASE WHEN m.label = s.label THEN 0 ELSE ${LABEL} END)
        END AS kinds
      FROM st.users s LEFT JOIN main.users m ON m.user_id = s.user_id
    )
  )
  WHERE kinds <> 0`;

export function applyStageSqlite(db: Database.Database, stagePath: string, tagEpoch: number | undefined): StageApplyResult {
  db.prepare('ATTACH DATABASE ? AS st').run(stagePath);
  // A larger page cache for the one big transaction (the store's default is SQLite's 2 MiB).
  const cache = db.pragma('cache_size', { simple: true }) as number;
  db.pragma(`cache_size = ${APPLY_CACHE_KIB}`);
  try {
    return db.transaction((): StageApplyResult => apply(db, tagEpoch)).immediate();
  } finally {
    db.pragma(`cache_size = ${cache}`);
    db.exec('DROP TABLE IF EXISTS temp.import_plan');
    db.exec('DETACH DATABASE st');
    // Hand the apply's page cache back before precompute and the snapshot build (which
    // holds every tag): the peak RSS of a 10M-user import is the larger of the two, not
    // their sum.
    db.pragma('shrink_memory');
  }
}

/**
 * Runs `fill` with the secondary index `name` of an EMPTY table dropped, then builds it
 * again in one sorted pass (from its own CREATE statement, so the schema stays the one
 * place that defines it): each row then goes into the index in key order, not in the
 * fill's order, whose random index page per row made the apply slower per row as the
 * directory grew. Inside the apply's transaction: a kill rolls the drop back with the rest.
 */
function withIndexDropped<T>(db: Database.Database, name: string, fill: () => T): T {
  const sql = db.prepare("SELECT sql FROM main.sqlite_master WHERE type = 'index' AND name = ?").pluck().get(name) as string | null | undefined;
  if (typeof sql !== 'string') return fill();
  db.exec(`DROP INDEX main.${name}`);
  const result = fill();
  db.exec(sql);
  return result;
}

function apply(db: Database.Database, tagEpoch: number | undefined): StageApplyResult {
  const existing = db.prepare('SELECT EXISTS (SELECT 1 FROM main.users)').pluck().get() === 1;
  if (existing) {
    db.exec('CREATE INDEX IF NOT EXISTS st.users_by_id ON users (user_id)');
    const clash = db
      .prepare(`SELECT i.identifier AS identifier, u.user_id AS claimant, m.user_id AS holder
        FROM st.ids i JOIN main.identifiers m ON m.identifier = i.identifier JOIN st.users u ON u.row = i.row
        WHERE m.user_id <> u.user_id AND NOT EXISTS (SELECT 1 FROM st.users x WHERE x.user_id = m.user_id)
        ORDER BY i.row LIMIT 1`)
      .get() as { identifier: string; claimant: string; holder: string } | undefined;
    if (clash !== undefined) throw identifierTaken(clash.identifier, clash.claimant, clash.holder);
  }
  const base = db.prepare('SELECT version FROM main.state WHERE id = 1').pluck().get() as number;
  db.exec('DROP TABLE IF EXISTS temp.import_plan');
  db.exec(PLAN_TABLE);
  db.prepare(PLAN).run({ base, existing: existing ? 1 : 0 });
  const changes = db.prepare('SELECT COALESCE(SUM(n), 0) FROM temp.import_plan').pluck().get() as number;
  const version = base + changes;

  // Change-log rows at the versions of the plan (register | opt_x, identifiers, label).
  db.exec(`INSERT INTO main.changes (version, kind, user_id) SELECT vbase + 1, 'register', user_id FROM temp.import_plan WHERE kinds & ${REGISTER}`);
  db.exec(`INSERT INTO main.changes (version, kind, user_id)
    SELECT vbase + 1, CASE WHEN kinds & ${OPT_IN} THEN 'opt_in' ELSE 'opt_out' END, user_id FROM temp.import_plan WHERE kinds & ${OPT_OUT | OPT_IN}`);
  db.exec(`INSERT INTO main.changes (version, kind, user_id)
    SELECT vbase + ((kinds & ${OPT_OUT | OPT_IN}) <> 0) + 1, 'identifiers', user_id FROM temp.import_plan WHERE kinds & ${IDENTIFIERS}`);
  db.exec(`INSERT INTO main.changes (version, kind, user_id)
    SELECT vbase + ((kinds & ${OPT_OUT | OPT_IN}) <> 0) + ((kinds & ${IDENTIFIERS}) <> 0) + 1, 'label', user_id FROM temp.import_plan WHERE kinds & ${LABEL}`);

  // Release first, then claim: identifiers may move between users of the file.
  if (existing) db.exec(`DELETE FROM main.identifiers WHERE user_id IN (SELECT user_id FROM temp.import_plan WHERE kinds & ${IDENTIFIERS})`);
  // label_version moves with a register or label row; -1 keeps the stored one (never stored: a new user registers).
  db.exec(`INSERT INTO main.users (user_id, label, discoverable, label_version)
    SELECT p.user_id, s.label, s.discoverable, COALESCE(${NEW_LABEL_VERSION}, -1)
    FROM temp.import_plan p JOIN st.users s ON s.row = p.row
    WHERE true ORDER BY p.user_id
    ON CONFLICT (user_id) DO UPDATE SET label = excluded.label, discoverable = excluded.discoverable,
      label_version = CASE WHEN excluded.label_version < 0 THEN users.label_version ELSE excluded.label_version END`);
  const claimIdentifiers = () =>
    db.exec(`INSERT INTO main.identifiers (identifier, user_id)
      SELECT i.identifier, p.user_id FROM st.ids i JOIN temp.import_plan p ON p.row = i.row
      WHERE p.kinds & ${REGISTER | IDENTIFIERS} ORDER BY i.identifier`);
  const noIdentifiers = db.prepare('SELECT NOT EXISTS (SELECT 1 FROM main.identifiers)').pluck().get() === 1;
  if (noIdentifiers) withIndexDropped(db, IDENTIFIERS_BY_USER, claimIdentifiers);
  else claimIdentifiers();
  db.prepare('UPDATE main.state SET version = ? WHERE id = 1').run(version);

  const tagsStored = tagEpoch === undefined ? 0 : storeStagedTags(db, tagEpoch, version);
  return { changes, version, tagsStored };
}

/**
 * The staged tags of discoverable users whose identifier has no tag of the epoch yet, sealed
 * under the label the user now has (label_version). Into an empty tags table without the
 * lookup index, built after in one sorted pass (as sqlite-store.ts beginTagFill does).
 */
function storeStagedTags(db: Database.Database, epoch: number, version: number): number {
  const logging = db.prepare('SELECT delta_floor IS NOT NULL FROM main.epochs WHERE epoch = ?').pluck().get(epoch) === 1;
  const empty = db.prepare('SELECT NOT EXISTS (SELECT 1 FROM main.tags)').pluck().get() === 1;
  // Into an empty table every staged tag is new: no probe of main.tags per row.
  const from = 'FROM st.ids i JOIN st.users s ON s.row = i.row';
  const where = `WHERE i.tag IS NOT NULL AND s.discoverable = 1
      ${empty ? '' : 'AND NOT EXISTS (SELECT 1 FROM main.tags t WHERE t.epoch = @epoch AND t.identifier = i.identifier)'}`;
  if (logging) {
    db.prepare(`INSERT INTO main.tag_log (epoch, version, prefix, op) SELECT @epoch, @version, substr(i.tag, 1, 8), 'added' ${from} ${where} ORDER BY i.identifier`).run({ epoch, version });
  }
  if (empty) db.exec(`DROP INDEX IF EXISTS main.${LOOKUP_INDEX}`);
  // The user's label_version as the apply just set it: from the plan when the file changed
  // it (every user of an import into an empty directory), else the stored one.
  const stored = db
    .prepare(`INSERT INTO main.tags (epoch, identifier, user_id, tag, lookup_key, sealed, sealed_version)
      SELECT @epoch, i.identifier, s.user_id, i.tag, i.lookup_key, i.sealed,
        COALESCE(${NEW_LABEL_VERSION}, (SELECT m.label_version FROM main.users m WHERE m.user_id = s.user_id))
      ${from} LEFT JOIN temp.import_plan p ON p.row = s.row ${where} ORDER BY i.identifier`)
    .run({ epoch }).changes;
  if (empty) ensureLookupIndex(db);
  return stored;
}
