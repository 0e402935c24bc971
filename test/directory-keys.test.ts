/**
 * The epoch key file and restarts of the SQLite directory: the key survives, tags are not
 * recomputed, the snapshot digest is the same; the key file is 0600 and a readable one is
 * refused; a store and a key file that do not belong together are refused.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRng } from '../src/contacts/generate.js';
import { generateDirectory } from '../src/directory/generate.js';
import { createKeyFile, loadKeyFile } from '../src/directory/keyfile.js';
import { MemoryStore } from '../src/directory/memory-store.js';
import { Directory } from '../src/directory/registry.js';
import { SCHEMA_VERSION } from '../src/directory/sqlite-schema.js';
import { SqliteStore } from '../src/directory/sqlite-store.js';
import { ContactPsiError } from '../src/errors.js';
import { loadGroup } from '../src/group/index.js';
import { createSuite, Modes, type OprfSuite } from '../src/oprf/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'contact-psi-keys-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshDb = () => join(tmp, `dir-${n++}.db`);

let suite: OprfSuite;
beforeAll(async () => {
  suite = createSuite('ristretto255-SHA512', Modes.VOPRF, await loadGroup('ristretto255', 'auto'));
});

function counting(inner: OprfSuite): { suite: OprfSuite; evaluated: () => number } {
  let count = 0;
  return {
    suite: { ...inner, evaluate: (sk, inputs) => ((count += inputs.length), inner.evaluate(sk, inputs)) },
    evaluated: () => count,
  };
}

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ContactPsiError);
    return (err as ContactPsiError).code;
  }
  return undefined;
}

const open = (path: string, s: OprfSuite = suite, extra: object = {}) => Directory.open({ store: SqliteStore.open(path), suite: s, ...extra });

/** Opens expecting failure; the store is closed either way. */
async function openFails(path: string, s: OprfSuite = suite, extra: object = {}): Promise<string | undefined> {
  const store = SqliteStore.open(path);
  try {
    return await code(Directory.open({ store, suite: s, ...extra }));
  } finally {
    await store.close();
  }
}

describe('restart', () => {
  it('keeps the key and the epoch, does not recompute tags, and serves the same snapshot', async () => {
    const path = freshDb();
    const users = generateDirectory(300, seededRng(5));
    const first = await open(path);
    await first.importUsers(users);
    const snap = await first.snapshot('fuse');
    const { publicKey, epoch } = first;
    await first.close();

    const { suite: countingSuite, evaluated } = counting(suite);
    const second = await open(path, countingSuite);
    expect(second.publicKey).toEqual(publicKey);
    expect(second.epoch).toBe(epoch);
    expect(await second.snapshot('fuse')).toEqual(snap);
    // A kind never built before is encoded from the stored tags, still without evaluations.
    await second.snapshot('raw');
    expect(await second.precompute()).toEqual({ computed: 0, pruned: 0 });
    expect(evaluated()).toBe(0);
    await second.close();
  });

  it('uses WAL, foreign keys and a versioned schema', async () => {
    const path = freshDb();
    await (await open(path)).close();
    const db = new Database(path);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
    expect(tables).toEqual(['announcement_log', 'changes', 'epochs', 'identifiers', 'meta', 'quota_buckets', 'quota_charged', 'snapshots', 'state', 'tag_log', 'tags', 'users']);
    db.pragma('user_version = 99');
    db.close();
    expect(() => SqliteStore.open(path)).toThrow(expect.objectContaining({ code: 'schema_too_new' }));
  });

  it('starts a new epoch when an in-memory directory is reopened on the same store', async () => {
    const store = new MemoryStore();
    const a = await Directory.open({ store, suite });
    await a.importUsers(generateDirectory(20, seededRng(2)));
    const countBefore = (await a.snapshot()).count;
    const b = await Directory.open({ store, suite });
    expect(b.epoch).toBe(a.epoch + 1);
    expect(b.publicKey).not.toEqual(a.publicKey);
    const precomputed = await b.precompute();
    expect(precomputed).toEqual({ computed: countBefore, pruned: countBefore });
  });
});

describe('key file', () => {
  it('is created with mode 0600 next to the database and holds suite, epoch and the secret key', async () => {
    const path = freshDb();
    const directory = await open(path);
    const keyPath = `${path}.key`;
    expect(directory.keyPath).toBe(keyPath);
    if (process.platform !== 'win32') expect(statSync(keyPath).mode & 0o777).toBe(0o600);
    const file = JSON.parse(readFileSync(keyPath, 'utf8'));
    expect(Object.keys(file).sort()).toEqual(['epochs', 'suite']);
    expect(file.suite).toBe('ristretto255-SHA512');
    expect(file.epochs).toHaveLength(1);
    const json = file.epochs[0];
    expect(Object.keys(json).sort()).toEqual(['createdAt', 'epoch', 'secretKey']);
    expect(json.epoch).toBe(1);
    expect(Math.abs(json.createdAt - Date.now())).toBeLessThan(60_000);
    expect(json.secretKey).toMatch(/^[0-9a-f]{64}$/);
    expect(suite.publicKeyOf(Buffer.from(json.secretKey, 'hex'))).toEqual(directory.publicKey);
    expect(directory.epochKeyPair()).toEqual({ secretKey: new Uint8Array(Buffer.from(json.secretKey, 'hex')), publicKey: directory.publicKey });
    // The secret never shows in what a logger would print.
    expect(JSON.stringify(directory)).not.toContain(json.secretKey);
    expect(inspect(directory, { depth: 5 })).not.toContain(json.secretKey);
    await directory.close();
    expect(() => createKeyFile(keyPath, loadKeyFile(keyPath))).toThrow(expect.objectContaining({ code: 'key_file_exists' }));
  });

  it.skipIf(process.platform === 'win32')('is refused when group or others can read it, unless allowed', async () => {
    const path = freshDb();
    await (await open(path)).close();
    chmodSync(`${path}.key`, 0o644);
    expect(await openFails(path)).toBe('key_file_permissions');
    chmodSync(`${path}.key`, 0o640);
    expect(await openFails(path)).toBe('key_file_permissions');
    const allowed = await open(path, suite, { allowInsecureKeyFile: true });
    expect(allowed.epoch).toBe(1);
    await allowed.close();
  });

  it('must belong to the store: missing, other epoch, other key and other suite are refused', async () => {
    const path = freshDb();
    const keyPath = `${path}.key`;
    await (await open(path)).close();
    const file = loadKeyFile(keyPath);
    const original = { suite: file.suite, epoch: file.epochs[0].epoch, secretKey: file.epochs[0].secretKey };

    unlinkSync(keyPath);
    expect(await openFails(path)).toBe('key_file_missing');

    createKeyFile(keyPath, { ...original, epoch: 2 });
    expect(await openFails(path)).toBe('key_mismatch');
    unlinkSync(keyPath);

    createKeyFile(keyPath, { ...original, secretKey: suite.generateKeyPair(seededRng(99)).secretKey });
    expect(await openFails(path)).toBe('key_mismatch');
    unlinkSync(keyPath);

    createKeyFile(keyPath, original);
    const p256 = createSuite('P256-SHA256', Modes.VOPRF, await loadGroup('P256', 'noble'));
    expect(await openFails(path, p256)).toBe('suite_mismatch');
    const oprfMode = createSuite('ristretto255-SHA512', Modes.OPRF, suite.group);
    expect(await openFails(path, oprfMode)).toBe('suite_mismatch');
    const reopened = await open(path);
    expect(reopened.publicKey).toEqual(suite.publicKeyOf(original.secretKey));
    await reopened.close();
  });

  it('rejects malformed key files without quoting them', async () => {
    const keyPath = join(tmp, `bad-${n++}.key`);
    const secret = 'ab'.repeat(32);
    writeFileSync(keyPath, `{"suite":"ristretto255-SHA512","epoch":1,"secretKey":"${secret}"`, { mode: 0o600 });
    let error: unknown;
    try {
      loadKeyFile(keyPath);
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: 'key_file_invalid' });
    expect(String((error as Error).message)).not.toContain(secret);
    writeFileSync(keyPath, JSON.stringify({ suite: 'x', epoch: 1, secretKey: secret }));
    expect(() => loadKeyFile(keyPath)).toThrow(expect.objectContaining({ code: 'key_file_invalid' }));
    writeFileSync(keyPath, JSON.stringify({ suite: 'ristretto255-SHA512', epoch: 0, secretKey: secret }));
    expect(() => loadKeyFile(keyPath)).toThrow(expect.objectContaining({ code: 'key_file_invalid' }));
    expect(() => loadKeyFile(join(tmp, 'none.key'))).toThrow(expect.objectContaining({ code: 'key_file_missing' }));
  });
});
