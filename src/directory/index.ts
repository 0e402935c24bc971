/**
 * The directory (server side, Node): registered users, the epoch key, precomputed tags and
 * snapshots, on a memory or SQLite store (spec/directory.md).
 */
export { Directory, type DirectoryOpenOptions, type DirectorySnapshot } from './registry.js';
export { MemoryStore } from './memory-store.js';
export { SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
export { SCHEMA_VERSION } from './sqlite-schema.js';
export { createKeyFile, loadKeyFile, type EpochKey, type LoadKeyFileOptions } from './keyfile.js';
export { lookupKeyOf, LOOKUP_KEY_BYTES } from './lookup.js';
export { precomputeTags, DEFAULT_PRECOMPUTE_BATCH, type PrecomputeResult, type PrecomputeJob } from './precompute.js';
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
  type ChangeKind,
  type ChangeRecord,
  type DirectoryStore,
  type DirectoryUser,
  type DirectoryUserInput,
  type DiscoverableEntry,
  type LabelMatch,
  type Progress,
  type SnapshotRecord,
  type TagRecord,
  type TagSet,
  type UpsertResult,
} from './types.js';
