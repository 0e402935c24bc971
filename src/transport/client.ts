/**
 * Browser-safe entry: the client side only (no node:http, no ws server), for bundles that
 * run in browsers and React Native. The `ws` import in client-socket.ts is dynamic and
 * only taken in Node.
 */
export { runClientSession, CLIENT_DEFAULTS, type ClientOptions } from './ws/client.js';
export { defaultWebSocket, type WebSocketConstructor, type WebSocketLike } from './ws/client-socket.js';
export { closeCodeFor, errorCodeForClose, ErrorCloseCodes, StandardCloseCodes, type ErrorCloseCode } from './ws/close-codes.js';
export { SUBPROTOCOL, BEARER_PROTOCOL_PREFIX } from './ws/auth.js';
export { ConnectionClosedError, UpgradeRejectedError } from './ws/errors.js';
export { ConnectFailedError, ConnectFailureCodes, type ConnectFailureCode } from './ws/client-connect-error.js';
