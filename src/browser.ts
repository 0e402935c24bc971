/**
 * The browser / React Native entry (`contact-psi/browser`): the layers that use no Node
 * API (group, OPRF, set encodings, contacts, protocol), the WebSocket client, and the
 * one-shot `syncAddressBook` over a pluggable cache (IndexedDB by default).
 *
 * Its declarations need neither Node's types nor the DOM library: a DOM-only project and a
 * Node project both type-check them strictly (test/package-consumer.test.ts).
 */
export * from './errors.js';
export * from './group/index.js';
export * from './oprf/index.js';
export * from './setenc/index.js';
export * from './contacts/index.js';
export { ClientSession, type ClientSessionOptions, type ClientResult } from './protocol/client-session.js';
export { ServerSession, type ServerSessionOptions, type ServerResult } from './protocol/server-session.js';
export { prepareServerSet, type PreparedServerSet } from './protocol/server-set.js';
export { runSessionPair, runSessionPairAsync, type PairOutcome } from './protocol/session-pair.js';
export type { OprfOffload } from './protocol/offload.js';
export { ProtocolError, CodecError, ProtocolErrorCodes, type ProtocolErrorCode } from './protocol/errors.js';
export { DEFAULT_LIMITS, type SessionLimits } from './protocol/limits.js';
export type { DeferredWork, SansIoSession, SessionEvent } from './protocol/session-core.js';
export { DiscoveryClientSession, type DiscoveryClientOptions, type DiscoveryResult, type CachedSnapshot, type DiscoveryMatch } from './protocol/discovery/client.js';
export { DiscoveryServerSession, type DiscoveryServerOptions, type EvaluationGate } from './protocol/discovery/server.js';
export type { DiscoveryBackend, EpochView, SnapshotView } from './protocol/discovery/backend.js';
export { DEFAULT_DISCOVERY_LIMITS, type DiscoveryLimits } from './protocol/discovery/messages.js';
// The WebSocket client, named file by file rather than through transport/client.ts: that
// file also re-exports the bearer-token constants of ws/auth.ts, whose declarations import
// `node:http` types, which a DOM-only project cannot resolve (TS2307). The Node entry
// (index.ts) exports those constants.
export { runClientSession, CLIENT_DEFAULTS, type ClientOptions } from './transport/ws/client.js';
export { defaultWebSocket, type WebSocketConstructor, type WebSocketLike } from './transport/ws/client-socket.js';
export { closeCodeFor, errorCodeForClose, ErrorCloseCodes, StandardCloseCodes, type ErrorCloseCode } from './transport/ws/close-codes.js';
export { ConnectionClosedError, UpgradeRejectedError } from './transport/ws/errors.js';
export { ConnectFailedError, ConnectFailureCodes, type ConnectFailureCode } from './transport/ws/client-connect-error.js';
export { labelText, labelDisplay } from './protocol/discovery/label-text.js';
export { syncAddressBook, webCryptoRng, type BrowserSyncOptions, type BrowserSyncOutcome } from './browser/sync.js';
export { runSync, type SyncCoreOptions, type CoreSyncOutcome, type CoreSyncMatch } from './browser/sync-core.js';
export { identityScope, MemorySyncCache, type SyncCache, type KeyPin } from './browser/sync-cache.js';
export { IndexedDbSyncCache, type IndexedDbSyncCacheOptions } from './browser/indexeddb-cache.js';
