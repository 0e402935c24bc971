/**
 * The browser / React Native entry (`contact-psi/browser`): the layers that use no Node
 * API (group, OPRF, set encodings, contacts, protocol) and the WebSocket client.
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
export * from './transport/client.js';
