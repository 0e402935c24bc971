/**
 * The key vault of a PostgreSQL directory (spec/directory.md "PostgreSQL store", key
 * sealing). Every node of a fleet needs the same epoch keys (to evaluate clients' queries
 * and precompute tags), the same quota receipt key (so a receipt issued by one node is
 * accepted by the others) and the same identity key (one signed history). They live in the `sealed_keys` table, each sealed with
 * XChaCha20-Poly1305 under the key-encryption key (kek.ts) the nodes hold outside the
 * database, with a fresh 24-byte random nonce per write (safe for random nonces: 192 bits).
 *
 * The associated data binds a row to its purpose and id ("epoch" n, or "quota" 0): a
 * database writer who moves a sealed epoch key to another epoch, or passes the quota key
 * off as an epoch key, makes it fail to open (`kek_mismatch`) instead of changing which key
 * serves which epoch. What a database thief gets: ciphertexts, public keys, nothing else.
 * Writers take one transaction-scoped advisory lock, so two nodes creating the first key
 * at once store one (the second gets the first's), and a stale writer is refused.
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { randomBytes } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { ContactPsiError } from '../../errors.js';
import { SuiteIds, type SuiteId } from '../../oprf/suite.js';
import type { KeyStorage } from '../key-storage.js';
import type { EpochKeyEntry, KeyFile } from '../keyfile.js';
import { KEK_BYTES, KEK_ENV } from '../kek.js';
import type { IdentityKey } from '../identity-key.js';
import { identityPublicKey, IDENTITY_SECRET_BYTES } from '../../protocol/discovery/announcement.js';

export type SealedKeyPurpose = 'epoch' | 'quota' | 'identity';

/** Any constant: the advisory lock of vault writes ("kvlt"). */
const VAULT_LOCK = 0x6b766c74;
const NONCE_BYTES = 24;
export const QUOTA_KEY_BYTES = 32;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/** What a sealed row is bound to: its purpose and id, and this format's version. */
export function sealedKeyAd(purpose: SealedKeyPurpose, id: number): Uint8Array {
  return utf8.encode(`contact-psi/key-vault/v1\u0000${purpose}\u0000${id}`);
}

export function sealKey(kek: Uint8Array, purpose: SealedKeyPurpose, id: number, plaintext: Uint8Array, nonce: Uint8Array = new Uint8Array(randomBytes(NONCE_BYTES))): { nonce: Uint8Array; sealed: Uint8Array } {
  return { nonce, sealed: xchacha20poly1305(kek, nonce, sealedKeyAd(purpose, id)).encrypt(plaintext) };
}

export function openKey(kek: Uint8Array, purpose: SealedKeyPurpose, id: number, nonce: Uint8Array, sealed: Uint8Array): Uint8Array {
  try {
    if (nonce.length !== NONCE_BYTES) throw new Error('nonce length');
    return xchacha20poly1305(kek, nonce, sealedKeyAd(purpose, id)).decrypt(sealed);
  } catch {
    throw new ContactPsiError(
      'kek_mismatch',
      `the ${purpose} key ${id} sealed in the database does not open with this key-encryption key (another --kek-file or ${KEK_ENV}, or the row was altered)`,
    );
  }
}

interface EpochPlaintext {
  suite: SuiteId;
  secretKey: string;
  createdAt: number;
  retiresAt?: number;
}

const corrupt = (why: string) => new ContactPsiError('store_corrupt', `the key vault holds a malformed key: ${why}`);

function encodeEpoch(suite: SuiteId, e: EpochKeyEntry): Uint8Array {
  const value: EpochPlaintext = { suite, secretKey: Buffer.from(e.secretKey).toString('hex'), createdAt: e.createdAt };
  if (e.retiresAt !== undefined) value.retiresAt = e.retiresAt;
  return utf8.encode(JSON.stringify(value));
}

function decodeEpoch(epoch: number, plaintext: Uint8Array): { suite: SuiteId; entry: EpochKeyEntry } {
  let value: Partial<EpochPlaintext>;
  try {
    value = JSON.parse(fromUtf8.decode(plaintext)) as Partial<EpochPlaintext>;
  } catch {
    throw corrupt(`epoch ${epoch} is not JSON`); // never quote it: it is a secret
  }
  const { suite, secretKey, createdAt, retiresAt } = value;
  if (typeof suite !== 'string' || !(SuiteIds as readonly string[]).includes(suite)) throw corrupt(`epoch ${epoch} names an unknown suite`);
  if (typeof secretKey !== 'string' || !/^(?:[0-9a-f]{2})+$/.test(secretKey)) throw corrupt(`epoch ${epoch} has no hex secret key`);
  if (!Number.isSafeInteger(createdAt)) throw corrupt(`epoch ${epoch} has no creation time`);
  if (retiresAt !== undefined && !Number.isSafeInteger(retiresAt)) throw corrupt(`epoch ${epoch} has a bad retirement time`);
  const entry: EpochKeyEntry = { epoch, secretKey: new Uint8Array(Buffer.from(secretKey, 'hex')), createdAt: createdAt! };
  return { suite: suite as SuiteId, entry: retiresAt === undefined ? entry : { ...entry, retiresAt } };
}

/** A canonical text of a key set, to compare what a writer expects with what is stored. */
function canonical(file: KeyFile | undefined): string {
  if (file === undefined) return '';
  const epochs = [...file.epochs].sort((a, b) => a.epoch - b.epoch);
  return JSON.stringify([file.suite, epochs.map((e) => [e.epoch, Buffer.from(e.secretKey).toString('hex'), e.createdAt, e.retiresAt ?? null])]);
}

export class PostgresKeyVault implements KeyStorage {
  readonly where = 'the key vault of the PostgreSQL directory';
  readonly #pool: Pool;
  readonly #kek: Uint8Array;

  constructor(pool: Pool, kek: Uint8Array) {
    if (kek.length !== KEK_BYTES) throw new ContactPsiError('kek_invalid', `a key-encryption key is ${KEK_BYTES} bytes`);
    this.#pool = pool;
    this.#kek = kek.slice();
  }

  async load(): Promise<KeyFile | undefined> {
    return this.#read(this.#pool);
  }

  async create(file: KeyFile): Promise<KeyFile> {
    return this.#locked(async (c) => {
      const stored = await this.#read(c);
      if (stored !== undefined) return stored;
      await this.#write(c, file);
      return file;
    });
  }

  async replace(file: KeyFile, expected: KeyFile): Promise<void> {
    await this.#locked(async (c) => {
      if (canonical(await this.#read(c)) !== canonical(expected)) {
        throw new ContactPsiError('key_file_changed', 'the epoch keys in the database were changed by another node (a rotation by the leader?); nothing was written: reload them');
      }
      await c.query(`DELETE FROM sealed_keys WHERE purpose = 'epoch'`);
      await this.#write(c, file);
    });
  }

  /**
   * The fleet's quota receipt key, created by the first node that asks. Shared, so that a
   * receipt issued by one node is accepted by every other and a client retrying elsewhere is
   * not charged again for what it was charged before.
   */
  quotaKey(): Promise<Uint8Array> {
    return this.#secret('quota', QUOTA_KEY_BYTES);
  }

  /**
   * The directory identity (Ed25519) that signs key statements and announcements
   * (spec/verifiability.md): one for the fleet, or each node would sign another history and
   * pinned clients would refuse all but one.
   */
  async identityKey(): Promise<IdentityKey> {
    const secretKey = await this.#secret('identity', IDENTITY_SECRET_BYTES);
    return { secretKey, publicKey: identityPublicKey(secretKey) };
  }

  /** A random secret of `bytes` bytes under (purpose, 0), created by the first node that asks. */
  async #secret(purpose: 'quota' | 'identity', bytes: number): Promise<Uint8Array> {
    return this.#locked(async (c) => {
      const row = (await c.query<{ nonce: Buffer; sealed: Buffer }>('SELECT nonce, sealed FROM sealed_keys WHERE purpose = $1 AND id = 0', [purpose])).rows[0];
      if (row !== undefined) {
        const key = openKey(this.#kek, purpose, 0, new Uint8Array(row.nonce), new Uint8Array(row.sealed));
        if (key.length !== bytes) throw corrupt(`the ${purpose} key is not ${bytes} bytes`);
        return key;
      }
      const key = new Uint8Array(randomBytes(bytes));
      const { nonce, sealed } = sealKey(this.#kek, purpose, 0, key);
      await c.query('INSERT INTO sealed_keys (purpose, id, nonce, sealed) VALUES ($1, 0, $2, $3)', [purpose, Buffer.from(nonce), Buffer.from(sealed)]);
      return key;
    });
  }

  /** Only where the keys are: a vault handed to a logger prints no key. */
  toJSON(): object {
    return { where: this.where };
  }

  async #read(c: Pool | PoolClient): Promise<KeyFile | undefined> {
    const rows = await c.query<{ id: number; nonce: Buffer; sealed: Buffer }>(`SELECT id, nonce, sealed FROM sealed_keys WHERE purpose = 'epoch' ORDER BY id`);
    if (rows.rows.length === 0) return undefined;
    const opened = rows.rows.map((r) => decodeEpoch(r.id, openKey(this.#kek, 'epoch', r.id, new Uint8Array(r.nonce), new Uint8Array(r.sealed))));
    const suite = opened[0].suite;
    if (opened.some((o) => o.suite !== suite)) throw corrupt('epochs of different suites');
    return { suite, epochs: opened.map((o) => o.entry) };
  }

  async #write(c: PoolClient, file: KeyFile): Promise<void> {
    for (const e of file.epochs) {
      const { nonce, sealed } = sealKey(this.#kek, 'epoch', e.epoch, encodeEpoch(file.suite, e));
      await c.query(`INSERT INTO sealed_keys (purpose, id, nonce, sealed) VALUES ('epoch', $1, $2, $3)`, [e.epoch, Buffer.from(nonce), Buffer.from(sealed)]);
    }
  }

  async #locked<T>(work: (c: PoolClient) => Promise<T>): Promise<T> {
    const c = await this.#pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('SELECT pg_advisory_xact_lock($1)', [VAULT_LOCK]);
      const result = await work(c);
      await c.query('COMMIT');
      return result;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.release();
    }
  }
}
