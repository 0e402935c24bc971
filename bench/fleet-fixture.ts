/**
 * A PostgreSQL directory for `bench -- fleet`, copied from a cached SQLite fixture
 * (directory-fixture.ts) instead of imported and precomputed again: the same users, tags,
 * sealed labels, snapshot, epoch key, directory identity and announcement log, moved row by
 * row with COPY. Both stores then serve byte-identical snapshots (the digests are compared),
 * so the PostgreSQL vs SQLite sync figures compare serving, not two different directories;
 * and a 1M-user directory costs about a minute of copying instead of a million OPRF
 * evaluations (13 minutes on one core). Importing into PostgreSQL is measured elsewhere
 * (the import path); this is a benchmark fixture only.
 */
import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { loadKeyFile } from '../src/directory/keyfile.js';
import { sealKey, PostgresKeyVault } from '../src/directory/postgres/key-vault.js';
import { PostgresStore } from '../src/directory/postgres/store.js';
import { copyRows, type CopyValue } from '../src/directory/postgres/copy.js';

export interface CopiedFixture {
  /** The epoch, version and snapshot digest both stores now hold. */
  epoch: number;
  version: number;
  digest: string;
  users: number;
  copyMs: number;
}

function* rowsOf(db: Database.Database, sql: string, map: (r: Record<string, unknown>) => CopyValue[]): Generator<CopyValue[]> {
  for (const r of db.prepare(sql).iterate() as Iterable<Record<string, unknown>>) yield map(r);
}

const blob = (v: unknown): Uint8Array | null => (v === null || v === undefined ? null : (v as Uint8Array));

/**
 * Copies the SQLite fixture at `sqlitePath` (its key and identity files beside it) into the
 * empty PostgreSQL database at `url`, sealing the keys under `kek`.
 */
export async function copySqliteToPostgres(sqlitePath: string, url: string, kek: Uint8Array): Promise<CopiedFixture> {
  const started = performance.now();
  const db = new Database(sqlitePath, { readonly: true });
  const store = await PostgresStore.open(url);
  try {
    const vault = new PostgresKeyVault(store.pool, kek);
    await vault.create(loadKeyFile(`${sqlitePath}.key`));
    const identity = JSON.parse(readFileSync(`${sqlitePath}.identity`, 'utf8')) as { secretKey: string };
    const sealed = sealKey(kek, 'identity', 0, new Uint8Array(Buffer.from(identity.secretKey, 'hex')));
    const c = await store.pool.connect();
    try {
      await c.query('SET statement_timeout = 0');
      await c.query('BEGIN');
      await c.query('INSERT INTO sealed_keys (purpose, id, nonce, sealed) VALUES ($1, 0, $2, $3)', ['identity', Buffer.from(sealed.nonce), Buffer.from(sealed.sealed)]);
      await copyRows(c, 'meta', ['key', 'value'], rowsOf(db, 'SELECT key, value FROM meta', (r) => [r.key as string, r.value as string]));
      const version = (db.prepare('SELECT version FROM state WHERE id = 1').get() as { version: number }).version;
      await c.query('UPDATE state SET version = $1 WHERE id = 1', [version]);
      await copyRows(c, 'users', ['user_id', 'label', 'discoverable', 'label_version'], rowsOf(db, 'SELECT * FROM users', (r) => [r.user_id as string, r.label as Uint8Array, r.discoverable === 1, r.label_version as number]));
      await copyRows(c, 'identifiers', ['identifier', 'user_id'], rowsOf(db, 'SELECT * FROM identifiers', (r) => [r.identifier as string, r.user_id as string]));
      await copyRows(c, 'changes', ['version', 'kind', 'user_id'], rowsOf(db, 'SELECT * FROM changes', (r) => [r.version as number, r.kind as string, r.user_id as string]));
      await copyRows(
        c,
        'tags',
        ['epoch', 'identifier', 'user_id', 'tag', 'lookup_key', 'sealed', 'sealed_version'],
        rowsOf(db, 'SELECT * FROM tags', (r) => [r.epoch as number, r.identifier as string, r.user_id as string, r.tag as Uint8Array, r.lookup_key as Uint8Array, blob(r.sealed), (r.sealed_version as number | null) ?? null]),
      );
      await copyRows(c, 'epochs', ['epoch', 'public_key', 'tag_version', 'delta_floor'], rowsOf(db, 'SELECT * FROM epochs', (r) => [r.epoch as number, r.public_key as string | null, r.tag_version as number | null, r.delta_floor as number | null]));
      await copyRows(c, 'snapshots', ['epoch', 'kind', 'version', 'count', 'digest', 'bytes'], rowsOf(db, 'SELECT * FROM snapshots', (r) => [r.epoch as number, r.kind as string, r.version as number, r.count as number, r.digest as string, r.bytes as Uint8Array]));
      await copyRows(c, 'announcement_log', ['seq', 'kind', 'epoch', 'version', 'envelope'], rowsOf(db, 'SELECT * FROM announcement_log ORDER BY seq', (r) => [r.seq as number, r.kind as string, r.epoch as number, r.version as number, r.envelope as Uint8Array]));
      await c.query('COMMIT');
      await c.query('ANALYZE');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.release();
    }
    const epoch = Number(await store.getMeta('epoch'));
    const snap = db.prepare("SELECT version, digest FROM snapshots WHERE epoch = ? AND kind = 'fuse'").get(epoch) as { version: number; digest: string };
    return { epoch, version: snap.version, digest: snap.digest, users: await store.countUsers(), copyMs: performance.now() - started };
  } finally {
    db.close();
    await store.close();
  }
}
