export { runClientSession, CLIENT_DEFAULTS, type ClientOptions } from './client.js';
export { defaultWebSocket, type WebSocketConstructor, type WebSocketLike } from './client-socket.js';
export { closeCodeFor, errorCodeForClose, ErrorCloseCodes, StandardCloseCodes, type ErrorCloseCode } from './close-codes.js';
export { SUBPROTOCOL, BEARER_PROTOCOL_PREFIX, type AuthRequest } from './auth.js';
export { ConnectionClosedError, UpgradeRejectedError } from './errors.js';
export type { ConnectionStats, SessionReport } from './connection.js';
export { SERVER_DEFAULTS, type ServerOptions, type SessionContext } from './options.js';
export { startServer, PsiServer, DEFAULT_GRACE_MS, type BackpressureEvent, type CloseOptions, type RejectionEvent } from './server.js';
