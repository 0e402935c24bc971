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
export { ContactDiscoveryClient, type ContactDiscoveryClientOptions, type ContactSyncResult, type SyncTransport } from './client/sdk.js';
export { WorkerPool, prepareServerSetParallel, poolEvaluator, poolOffload } from './parallel/index.js';
