/** The library server (`serveDirectory`) and its operator surface: metrics, logs, the admin port. */
export {
  serveDirectory,
  DirectoryServer,
  DEFAULT_REFRESH_MS,
  DEFAULT_ROTATION_GRACE_MS,
  type ServeDirectoryOptions,
  type ServeQuotaOptions,
  type ServeRotationOptions,
  type DirectoryRefreshEvent,
  type ServedSessionEvent,
} from './serve-directory.js';
export { TokenAccounts, type AccountSource } from './token-accounts.js';
export { ServerMetrics, type SnapshotKind } from './server-metrics.js';
export { startAdminServer, DEFAULT_ADMIN_HOST, type AdminServer, type AdminServerOptions } from './admin-server.js';
export { createServerLogger, accountHash, LOG_LEVELS, type LogLevel, type Logger } from './server-log.js';
export type { SessionCounts } from './session-observer.js';
