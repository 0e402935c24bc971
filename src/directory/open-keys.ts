/**
 * Loads (or creates) the epoch keys when a directory opens, and checks that they belong to
 * the store: a store keyed at epoch n needs the key of epoch n, with the public key the
 * store recorded. A keyed store whose key file is gone is refused (`key_file_missing`): a
 * silent new key would invalidate every tag and every client's pinned public key.
 */
import { ContactPsiError } from '../errors.js';
import type { Rng } from '../group/types.js';
import type { OprfSuite } from '../oprf/suite.js';
import { EpochKeyRing } from './epoch-keys.js';
import { type EpochKeyEntry } from './keyfile.js';
import { fileKeyStorage, type KeyStorage } from './key-storage.js';
import type { DirectoryStore } from './types.js';

export const META_SUITE = 'suite';
export const META_MODE = 'mode';
export const META_EPOCH = 'epoch';
export const META_PUBLIC_KEY = 'public_key';

export interface OpenKeysOptions {
  readonly store: DirectoryStore;
  readonly suite: OprfSuite;
  readonly keyPath: string | undefined;
  /** Where the keys live instead of `keyPath` (e.g. the PostgreSQL key vault). */
  readonly storage?: KeyStorage;
  readonly rng: Rng;
  readonly allowInsecureKeyFile?: boolean;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

export async function openKeys(options: OpenKeysOptions): Promise<{ keys: EpochKeyRing; current: number }> {
  const { store, suite, rng } = options;
  const storage = options.storage ?? (options.keyPath === undefined ? undefined : fileKeyStorage(options.keyPath, options.allowInsecureKeyFile === true));
  const keyPath = storage?.where;
  // In-memory keys on a shared database would give every node (and every restart) a new
  // epoch of its own: a PostgreSQL directory keeps its keys in the key vault.
  if (storage === undefined && store.backend === 'postgres') {
    throw new ContactPsiError('kek_missing', 'a PostgreSQL directory keeps its epoch keys in the key vault: open it with keyStorage (keyStorageFor(store, kek))');
  }
  const storedSuite = await store.getMeta(META_SUITE);
  const storedMode = await store.getMeta(META_MODE);
  if ((storedSuite !== undefined && storedSuite !== suite.id) || (storedMode !== undefined && storedMode !== String(suite.mode))) {
    throw new ContactPsiError('suite_mismatch', `the directory was built for suite ${storedSuite} mode ${storedMode}, not ${suite.id} mode ${suite.mode}`);
  }
  const storedEpochText = await store.getMeta(META_EPOCH);
  const storedEpoch = storedEpochText === undefined ? undefined : Number(storedEpochText);
  const known = await store.listEpochs();
  const now = Date.now();

  let entries: readonly EpochKeyEntry[];
  let current: number;
  if (storage === undefined) {
    // In memory: a fresh key. If the store already holds tags of earlier keys, they belong
    // to earlier epochs, so this key starts the next one.
    current = Math.max(storedEpoch ?? 0, ...known.map((e) => e.epoch)) + 1;
    entries = [{ epoch: current, secretKey: suite.generateKeyPair(rng).secretKey, createdAt: now }];
  } else {
    let file = await storage.load();
    if (file === undefined) {
      if (storedEpoch !== undefined) throw new ContactPsiError('key_file_missing', `the directory is keyed (epoch ${storedEpoch}) but ${keyPath} holds no key`);
      // Another process (an import beside a starting server, a second node) may create it
      // first: then its key wins.
      file = await storage.create({ suite: suite.id, epochs: [{ epoch: 1, secretKey: suite.generateKeyPair(rng).secretKey, createdAt: now }] });
    }
    if (file.suite !== suite.id) throw new ContactPsiError('suite_mismatch', `key file ${keyPath} is for suite ${file.suite}, not ${suite.id}`);
    if (storedEpoch !== undefined && !file.epochs.some((e) => e.epoch === storedEpoch)) {
      const held = file.epochs.map((e) => e.epoch).join(', ');
      throw new ContactPsiError('key_mismatch', `key file ${keyPath} holds epochs ${held}, the directory is at epoch ${storedEpoch}`);
    }
    // A store never keyed takes the newest key of the file (e.g. one made by `keygen`).
    current = storedEpoch ?? file.epochs[file.epochs.length - 1].epoch;
    entries = file.epochs;
  }
  const keys = new EpochKeyRing(suite, storage, entries);

  const storedPublicKey = await store.getMeta(META_PUBLIC_KEY);
  if (storedEpoch === current && storedPublicKey !== undefined && storedPublicKey !== hex(keys.publicKey(current)!)) {
    throw new ContactPsiError('key_mismatch', `the key in ${keyPath} is not the key the directory was built with`);
  }
  for (const record of known) {
    const publicKey = keys.publicKey(record.epoch);
    if (record.publicKey !== undefined && publicKey !== undefined && record.publicKey !== hex(publicKey)) {
      throw new ContactPsiError('key_mismatch', `the key of epoch ${record.epoch} in ${keyPath} is not the one the directory was built with`);
    }
  }
  await store.setMeta({
    [META_SUITE]: suite.id,
    [META_MODE]: String(suite.mode),
    [META_EPOCH]: String(current),
    [META_PUBLIC_KEY]: hex(keys.publicKey(current)!),
  });
  await store.registerEpoch(current, hex(keys.publicKey(current)!));
  return { keys, current };
}
