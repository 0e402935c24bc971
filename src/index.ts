/**
 * The Node entry (`contact-psi`): everything in `contact-psi/browser`, plus the directory
 * (SQLite, key files), the WebSocket server and the Node client with its snapshot cache.
 */
export * from './browser.js';
export * from './directory/index.js';
export { DirectoryDiscoveryBackend } from './directory/discovery-backend.js';
export { startServer, PsiServer, SERVER_DEFAULTS, type ServerOptions, type SessionContext } from './transport/ws/index.js';
export { SUBPROTOCOL, BEARER_PROTOCOL_PREFIX } from './transport/ws/auth.js';
export { syncAddressBook, type SyncOptions, type SyncOutcome, type SyncMatch } from './client/sync.js';
export { SnapshotCache } from './client/snapshot-cache.js';
export { FileSyncCache } from './client/file-sync-cache.js';
export { ContactDiscoveryClient, type ContactDiscoveryClientOptions, type ContactSyncResult, type SyncTransport } from './client/sdk.js';
export { WorkerPool, prepareServerSetParallel, poolEvaluator, poolOffload } from './parallel/index.js';
// The server as `contact-psi serve` composes it (issue 12 §1), its operator surface, and the
// quota and download-budget types its options take.
export * from './server/index.js';
export { DEFAULT_SYNC_POLICY, DEFAULT_LOOKUP_POLICY, type BucketPolicy, type BucketState, type QuotaConfig, type QuotaStore } from './protocol/discovery/quota.js';
export { DownloadBudget, DEFAULT_DOWNLOAD_POLICY, DEFAULT_DOWNLOAD_ACCOUNTS, type DownloadBudgetOptions } from './protocol/discovery/download-budget.js';
export { DEFAULT_SNAPSHOT_DOWNLOAD_FACTOR, MIN_SNAPSHOT_DOWNLOAD_BYTES } from './protocol/discovery/server.js';
