/**
 * Structured logs of the discovery server (spec/operations.md "Logs"): pino, one JSON line
 * per session and per directory event. What may appear is fixed here: counts, durations,
 * error codes, epochs and versions, and the account as a hash. Never a token, an identifier,
 * a blinded element or a label; error messages from the store are logged by code only.
 */
import { createHash } from 'node:crypto';
import { pino, type Logger, type LevelWithSilent } from 'pino';
import type { SessionReport } from '../transport/ws/connection.js';
import { outcomeOf, snapshotKindOf, type SessionCounts } from './session-observer.js';

export type { Logger } from 'pino';
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = LevelWithSilent;

/**
 * A logger writing JSON lines to the given file descriptor (stderr by default: stdout
 * stays the CLI's human lines, which scripts wait on).
 */
export function createServerLogger(options: { level?: LogLevel; fd?: number } = {}): Logger {
  return pino({ level: options.level ?? 'info', base: { service: 'contact-psi' } }, pino.destination({ fd: options.fd ?? 2, sync: true }));
}

/**
 * The account as logged: 16 hex digits of SHA-256 under a fixed label. Enough to follow one
 * account through the log; the account name itself (which may be an e-mail address or
 * derived from its token) is not written.
 */
export function accountHash(account: string): string {
  return createHash('sha256').update('contact-psi log account\0').update(account).digest('hex').slice(0, 16);
}

/** The one line for a session that ended. */
export function logSession(logger: Logger, report: SessionReport, counts: SessionCounts, account: string | undefined): void {
  const outcome = outcomeOf(report);
  const fields = {
    event: 'session',
    outcome,
    ...(report.remote !== undefined && report.outcome === 'failed' ? { remote: report.remote } : {}),
    ...(account !== undefined ? { account: accountHash(account) } : {}),
    evaluated: counts.evaluated,
    charged: counts.charged,
    labels: counts.labels,
    snapshot: counts.completed ? snapshotKindOf(counts) : undefined,
    snapshotBytes: counts.snapshotBytes,
    bytesIn: report.bytesIn,
    bytesOut: report.bytesOut,
    messagesIn: report.messagesIn,
    messagesOut: report.messagesOut,
    durationMs: report.durationMs,
  };
  if (report.outcome === 'result') logger.info(fields, 'session');
  else logger.warn(fields, 'session');
}
