import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createIdentityKeyFile, identityKeyPath, loadIdentityKeyFile, loadOrCreateIdentityKey } from '../src/directory/identity-key.js';
import { identityPublicKey, openSigned, signStatement } from '../src/protocol/discovery/announcement.js';
import { codeOf } from './helpers/verify-log.js';

const dir = mkdtempSync(join(tmpdir(), 'cpsi-identity-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const posix = process.platform !== 'win32';

describe('directory identity key file', () => {
  it('is created beside the database with mode 0600, leaves no temporary file, and loads back', () => {
    const path = identityKeyPath(join(dir, 'a.db'));
    expect(path).toBe(join(dir, 'a.db.identity'));
    const created = createIdentityKeyFile(path);
    if (posix) expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const loaded = loadIdentityKeyFile(path);
    expect(loaded).toEqual(created);
    expect(loaded.publicKey).toEqual(identityPublicKey(loaded.secretKey));
    // The loaded key signs what clients verify.
    const signed = signStatement({ kind: 'epoch-key', seq: 0, prev: new Uint8Array(32), suite: 'ristretto255-SHA512', epoch: 1, publicKey: new Uint8Array(32) }, loaded.secretKey);
    expect(openSigned(signed.bytes, { identityKey: created.publicKey }).statement.kind).toBe('epoch-key');
  });

  it.runIf(posix)('refuses a group- or world-readable file (0644, 0640), unless allowed', () => {
    const path = join(dir, 'b.db.identity');
    createIdentityKeyFile(path);
    for (const mode of [0o644, 0o640, 0o604]) {
      chmodSync(path, mode);
      expect(codeOf(() => loadIdentityKeyFile(path))).toBe('identity_key_permissions');
    }
    expect(loadIdentityKeyFile(path, { allowInsecurePermissions: true }).secretKey.length).toBe(32);
    chmodSync(path, 0o600);
    expect(codeOf(() => loadIdentityKeyFile(path))).toBeUndefined();
  });

  it('never replaces an existing key; loadOrCreate creates once and then loads the same key', () => {
    const path = join(dir, 'c.db.identity');
    const first = loadOrCreateIdentityKey(path);
    expect(codeOf(() => createIdentityKeyFile(path))).toBe('identity_key_exists');
    expect(loadOrCreateIdentityKey(path)).toEqual(first);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('missing, invalid and oversized files get their codes, without quoting the content', () => {
    expect(codeOf(() => loadIdentityKeyFile(join(dir, 'none.identity')))).toBe('identity_key_missing');
    const bad = join(dir, 'bad.identity');
    for (const text of ['not json secret-ish', '{"identity":"rsa","secretKey":"00"}', `{"identity":"ed25519","secretKey":"${'a'.repeat(62)}"}`, 'x'.repeat(5000)]) {
      writeFileSync(bad, text, { mode: 0o600 });
      chmodSync(bad, 0o600);
      const code = codeOf(() => loadIdentityKeyFile(bad));
      expect(code).toBe('identity_key_invalid');
      try {
        loadIdentityKeyFile(bad);
      } catch (err) {
        expect((err as Error).message).not.toContain('secret-ish');
      }
    }
    expect(codeOf(() => loadIdentityKeyFile(dir))).toBe('identity_key_invalid');
    expect(codeOf(() => createIdentityKeyFile(join(dir, 'd.identity'), new Uint8Array(31)))).toBe('identity_key_invalid');
  });
});
