/**
 * The directory (server side, Node): registered users, the epoch key, precomputed tags and
 * snapshots, on a memory or SQLite store (spec/directory.md).
 */
export { Directory, DEFAULT_GRACE_MS, type DirectoryOpenOptions, type DirectorySnapshot, type RotateOptions, type RotationResult } from './registry.js';
export type { EpochKeyInfo } from './epoch-keys.js';
export { MemoryStore } from './memory-store.js';
export { SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
export { openStore, keyStorageFor, isPostgresUrl, redactStoreUrl, sqlitePathOf, type OpenStoreOptions } from './open-store.js';
export { PostgresStore, CHANGE_CHANNEL, type PostgresStoreOptions } from './postgres/store.js';
export { PostgresKeyVault } from './postgres/key-vault.js';
export { sharedFill, type SharedFillOptions, type SharedFillResult } from './postgres/shared-fill.js';
export { loadKek, createKekFile, KEK_ENV, KEK_BYTES, type KekSource } from './kek.js';
export { fileKeyStorage, type KeyStorage } from './key-storage.js';
export { SCHEMA_VERSION } from './sqlite-schema.js';
export { createKeyFile, loadKeyFile, writeKeyFile, type EpochKey, type EpochKeyEntry, type KeyFile, type LoadKeyFileOptions } from './keyfile.js';
export { lookupKeyOf, LOOKUP_KEY_BYTES } from './lookup.js';
export { precomputeTags, DEFAULT_PRECOMPUTE_BATCH, type PrecomputeResult, type PrecomputePass, type PrecomputeJob, type TagEvaluator } from './precompute.js';
export { netTagDelta, tagPrefix, TAG_PREFIX_BYTES, type TagLogRow, type TagOp } from './tag-delta.js';
export { MAX_ACCOUNT_LENGTH } from './buckets.js';
export { DIRECTORY_FALSE_POSITIVE_RATE, DIRECTORY_RAW_TAG_BYTES, snapshotParams, snapshotDigest } from './snapshot.js';
export {
  parseDirectoryFile,
  detectDirectoryFormat,
  DIRECTORY_CSV_HEADER,
  DEFAULT_MAX_IMPORT_USERS,
  type DirectoryFileOptions,
  type DirectoryFileResult,
  type DirectoryFileFormat,
  type DirectoryImportError,
} from './import-file.js';
export { parseLabel, BASE64_LABEL_PREFIX } from './label.js';
export { generateDirectory, type GenerateDirectoryOptions } from './generate.js';
export { MAX_LABEL_BYTES, MAX_USER_ID_LENGTH, MAX_IDENTIFIERS_PER_USER, compareCodePoints } from './users.js';
export {
  ChangeKinds,
  // Aliased: protocol/discovery has its own TagDelta and BucketState (the same shapes) for the sessions.
  type BucketState as DirectoryBucketState,
  type ChangeKind,
  type ChangeRecord,
  type DirectoryStore,
  type DirectoryUser,
  type DirectoryUserInput,
  type DiscoverableEntry,
  type EpochRecord,
  type LabelMatch,
  type LabelSource,
  type MissingTag,
  type SealedLabelRecord,
  type SealedMatch,
  type Progress,
  type SnapshotRecord,
  type TagDelta as DirectoryTagDelta,
  type TagRecord,
  type TagSet,
  type UnsealedTag,
  type UpsertResult,
} from './types.js';
