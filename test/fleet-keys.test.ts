/**
 * Issue 11 §4, the keys a fleet shares: epoch keys and the quota receipt key live in the
 * PostgreSQL database sealed (XChaCha20-Poly1305) under a key-encryption key each node
 * reads from a 0600 file or CONTACT_PSI_KEK; never in clear in the database. Against a real
 * PostgreSQL (embedded, or CONTACT_PSI_PG_URL).
 */
import fc from 'fast-check';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ContactPsiError } from '../src/errors.js';
import { Directory } from '../src/directory/registry.js';
import { createKekFile, KEK_ENV, loadKek } from '../src/directory/kek.js';
import { openKey, PostgresKeyVault, sealKey, type SealedKeyPurpose } from '../src/directory/postgres/key-vault.js';
import { PostgresStore } from '../src/directory/postgres/store.js';
import { isPostgresUrl, keyStorageFor, openStore, redactStoreUrl, sqlitePathOf } from '../src/directory/open-store.js';
import { SqliteStore } from '../src/directory/sqlite-store.js';
import { voprfSuite } from './helpers/discovery.js';
import { freshDatabase, stopPostgres } from './helpers/postgres.js';

afterAll(() => stopPostgres(), 60_000);
const tmp = mkdtempSync(join(tmpdir(), 'contact-psi-fleet-keys-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const suite = voprfSuite();
const codeOf = (err: unknown) => (err instanceof ContactPsiError ? err.code : String(err));
const purposeArb = fc.constantFrom<SealedKeyPurpose>('epoch', 'quota');
const bytesArb = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

describe('sealing a key', () => {
  it('opens under the same KEK, purpose and id; any other KEK, purpose, id or bit fails with kek_mismatch', () => {
    const tamperArb = fc.oneof(
      fc.record({ t: fc.constant('kek' as const), kek: bytesArb(32) }),
      fc.record({ t: fc.constant('purpose' as const) }),
      fc.record({ t: fc.constant('id' as const), id: fc.integer({ min: 0, max: 1000 }) }),
      fc.record({ t: fc.constant('bit' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ t: fc.constant('nonce' as const), at: fc.integer({ min: 0, max: 23 }) }),
    );
    const kinds = new Set(fc.sample(tamperArb, { numRuns: 200, seed: 3 }).map((t) => t.t));
    expect(kinds.size).toBe(5);
    fc.assert(
      fc.property(bytesArb(32), purposeArb, fc.integer({ min: 0, max: 1000 }), fc.uint8Array({ minLength: 1, maxLength: 200 }), tamperArb, (kek, purpose, id, plain, tamper) => {
        const { nonce, sealed } = sealKey(kek, purpose, id, plain);
        expect(openKey(kek, purpose, id, nonce, sealed)).toEqual(plain);
        // The secret never shows in the ciphertext (a 1-byte secret may by chance; the keys are 32 bytes).
        if (plain.length >= 16) expect(Buffer.from(sealed).includes(Buffer.from(plain))).toBe(false);
        let args: [Uint8Array, SealedKeyPurpose, number, Uint8Array, Uint8Array] = [kek, purpose, id, nonce, sealed];
        if (tamper.t === 'kek') {
          if (Buffer.from(tamper.kek).equals(Buffer.from(kek))) return;
          args = [tamper.kek, purpose, id, nonce, sealed];
        } else if (tamper.t === 'purpose') args = [kek, purpose === 'epoch' ? 'quota' : 'epoch', id, nonce, sealed];
        else if (tamper.t === 'id') {
          if (tamper.id === id) return;
          args = [kek, purpose, tamper.id, nonce, sealed];
        } else if (tamper.t === 'bit') {
          const flipped = sealed.slice();
          flipped[tamper.at % flipped.length] ^= 1 << tamper.bit;
          args = [kek, purpose, id, nonce, flipped];
        } else {
          const other = nonce.slice();
          other[tamper.at] ^= 1;
          args = [kek, purpose, id, other, sealed];
        }
        expect(() => openKey(...args)).toThrow(expect.objectContaining({ code: 'kek_mismatch' }));
      }),
      { numRuns: 200 },
    );
  });
});

describe('the key-encryption key', () => {
  it('comes from a 0600 file, or CONTACT_PSI_KEK; a readable, missing or malformed one is refused without quoting it', () => {
    const file = join(tmp, 'kek');
    createKekFile(file);
    const kek = loadKek({ file });
    expect(kek.length).toBe(32);
    expect(() => createKekFile(file)).toThrow(expect.objectContaining({ code: 'kek_exists' }));
    chmodSync(file, 0o640);
    expect(() => loadKek({ file })).toThrow(expect.objectContaining({ code: 'kek_permissions' }));
    chmodSync(file, 0o600);
    const hex = readFileSync(file, 'utf8').trim();
    expect(loadKek({ env: { [KEK_ENV]: hex } })).toEqual(kek);
    expect(() => loadKek({ env: {} })).toThrow(expect.objectContaining({ code: 'kek_missing' }));
    expect(() => loadKek({ file: join(tmp, 'none') })).toThrow(expect.objectContaining({ code: 'kek_missing' }));
    // One digit short (63), and one too many (65): refused, and the message does not echo the value.
    for (const bad of [hex.slice(1), `${hex}0`, 'zz'.repeat(32)]) {
      let message = '';
      try {
        loadKek({ env: { [KEK_ENV]: bad } });
      } catch (err) {
        expect(codeOf(err)).toBe('kek_invalid');
        message = (err as Error).message;
      }
      expect(message).not.toContain(bad);
    }
    const badFile = join(tmp, 'bad-kek');
    writeFileSync(badFile, `${hex.slice(2)}\n`, { mode: 0o600 });
    expect(() => loadKek({ file: badFile })).toThrow(expect.objectContaining({ code: 'kek_invalid' }));
  });
});

describe('store URLs', () => {
  it('a path or sqlite: is SQLite, postgres:// and postgresql:// are PostgreSQL; a printed URL hides the password', async () => {
    expect(sqlitePathOf('directory.sqlite')).toBe('directory.sqlite');
    expect(sqlitePathOf('sqlite:dir.db')).toBe('dir.db');
    expect(isPostgresUrl('postgres://u:p@h/db')).toBe(true);
    expect(isPostgresUrl('postgresql://u:p@h/db')).toBe(true);
    expect(redactStoreUrl('postgres://user:s3cret@host:5432/db')).toBe('postgres://user:***@host:5432/db');
    const store = await openStore(join(tmp, 'url.db'));
    expect(store).toBeInstanceOf(SqliteStore);
    expect(keyStorageFor(store)).toBeUndefined();
    await store.close();
    const pgStore = await openStore(await freshDatabase());
    expect(pgStore).toBeInstanceOf(PostgresStore);
    expect(() => keyStorageFor(pgStore, { env: {} })).toThrow(expect.objectContaining({ code: 'kek_missing' }));
    await pgStore.close();
  }, 120_000);
});

describe('the key vault in PostgreSQL', () => {
  const kek = new Uint8Array(32).fill(7);
  const open = async (url: string, key = kek) => {
    const store = await PostgresStore.open(url, { maxConnections: 3 });
    return Directory.open({ store, suite, keyStorage: new PostgresKeyVault(store.pool, key) });
  };

  it('nodes starting at once share one key; the database holds it only sealed; another KEK is refused', async () => {
    const url = await freshDatabase();
    const nodes = await Promise.all([open(url), open(url), open(url)]);
    const publicKeys = new Set(nodes.map((d) => Buffer.from(d.publicKey).toString('hex')));
    expect(publicKeys.size).toBe(1);
    expect(new Set(nodes.map((d) => d.currentEpoch))).toEqual(new Set([1]));
    const secret = Buffer.from(nodes[0].epochKeyPair().secretKey);
    // Every table, as text: the secret key appears nowhere, in binary or in hex.
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const tables = (await client.query<{ tablename: string }>(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)).rows.map((r) => r.tablename);
    let dump = '';
    for (const t of tables) dump += JSON.stringify((await client.query(`SELECT * FROM ${t}`)).rows) + '\n';
    expect(tables).toContain('sealed_keys');
    expect(dump).not.toContain(secret.toString('hex'));
    const sealed = await client.query<{ sealed: Buffer }>('SELECT sealed FROM sealed_keys');
    for (const r of sealed.rows) expect(r.sealed.includes(secret)).toBe(false);
    // A Directory printed (a log line) names where its keys are, not the keys.
    expect(JSON.stringify(nodes[0])).not.toContain(secret.toString('hex'));
    await client.end();
    await expect(open(url, new Uint8Array(32).fill(8))).rejects.toThrow(expect.objectContaining({ code: 'kek_mismatch' }));
    for (const d of nodes) await d.close();
  }, 120_000);

  it('a rotation by one node is sealed for all; a node with a stale view cannot overwrite it; the quota key is shared', async () => {
    const url = await freshDatabase();
    const leader = await open(url);
    const stale = await open(url);
    await leader.importUsers([{ userId: 'u1', identifiers: ['tel:+41790000001'] }]);
    const rotated = await leader.rotateEpoch({ graceMs: 1000, now: 10_000 });
    expect(rotated.epoch).toBe(2);
    // A node rotating from its old view would write [1, 3] and drop epoch 2's key: refused.
    await expect(stale.rotateEpoch({ graceMs: 1000, now: 12_000 })).rejects.toThrow(expect.objectContaining({ code: 'key_file_changed' }));
    const follower = await open(url);
    expect(follower.currentEpoch).toBe(2);
    expect(Buffer.from(follower.publicKey)).toEqual(Buffer.from(leader.publicKey));
    expect(follower.epochInfo(1)?.retiresAt).toBe(11_000);
    const a = new PostgresKeyVault((leader.store as PostgresStore).pool, kek);
    const b = new PostgresKeyVault((follower.store as PostgresStore).pool, kek);
    const [qa, qb] = await Promise.all([a.quotaKey(), b.quotaKey()]);
    expect(qa).toEqual(qb);
    expect(qa.length).toBe(32);
    for (const d of [leader, stale, follower]) await d.close();
  }, 180_000);
});
