/** `contact-psi serve --db <path> --port <n> [--host 127.0.0.1]`: the discovery server. */
import type { Command } from 'commander';
import type { DirectoryDiscoveryBackend } from '../../directory/discovery-backend.js';
import type { Directory } from '../../directory/index.js';
import { ContactPsiError } from '../../errors.js';
import type { OprfOffload } from '../../protocol/offload.js';
import type { PsiServer } from '../../transport/ws/index.js';
import { DEFAULT_SYNC_POLICY, type BucketPolicy } from '../../protocol/discovery/quota.js';
import { serveDirectory as serveLibrary, type DirectoryServer } from '../../server/serve-directory.js';
import { LOG_LEVELS, type LogLevel } from '../../server/server-log.js';
import { escapeControlChars } from '../terminal-text.js';
import { readTokensFile } from '../tokens-file.js';
import { startWorkerPool } from '../open-directory.js';
import { isPostgresUrl } from '../../directory/open-store.js';
import { serveSettingsOf } from '../config.js';
import { serveFleetNode } from './serve-fleet.js';

export interface ServeOptions {
  /** The store: a SQLite file, or postgres://... for a node of a fleet (serve-fleet.ts). */
  db: string;
  /** The key-encryption key file of a PostgreSQL directory (default: CONTACT_PSI_KEK). */
  kekFile?: string;
  /** This node's name in a fleet's logs and work records (default: host:pid). */
  node?: string;
  port: string;
  host: string;
  /**
   * File of accepted bearer tokens, one per line as `<token> [<account>]` (tokens-file.ts:
   * `#` comments, at least 16 characters, an account derived from a hash when none is
   * named). With it, each account has evaluation quotas; without it, every client is
   * accepted and nothing is charged.
   */
  tokens?: string;
  /** Rotate the epoch key every this many hours (0 = never; SIGUSR2 rotates on command). */
  rotateHours?: string;
  /** How long the previous epoch stays served after a rotation. */
  graceHours?: string;
  /** How often to pick up directory changes (imports by other processes) and retire epochs. */
  refreshSeconds?: string;
  /** Evaluations each account's sync bucket holds (default 50,000, refilled at 1,500 a day). */
  quota?: string;
  /** With PostgreSQL: identifiers per precompute range a node claims (default 4096). */
  fillRange?: string;
  /** A JSON file of these settings (camelCase keys); flags > CONTACT_PSI_* environment > file > defaults (config.ts). */
  config?: string;
  /** Port of the admin HTTP server: /metrics, /healthz, /readyz (default: none). */
  adminPort?: string;
  /** Interface of the admin port (default 127.0.0.1: loopback only). */
  adminHost?: string;
  /** Level of the JSON log lines on stderr (fatal, error, warn, info, debug, trace, silent; default info). */
  logLevel?: string;
  /** `on`: take partial dir.labels.get (default `off` until every client is updated; spec/discovery.md §9). */
  partialLabels?: string;
}

export interface RunningServer {
  server: PsiServer;
  /** The library server behind it (metrics, admin port, refresh()). */
  running: DirectoryServer;
  directory: Directory;
  backend: DirectoryDiscoveryBackend;
  close(): Promise<void>;
}

export interface ServeDirectoryOptions {
  host: string;
  port: number;
  /** Bearer token -> account. Without it every client is accepted and nothing is charged. */
  accounts?: Map<string, string>;
  /** Key for quota receipts; required with accounts. */
  quotaKey?: Uint8Array;
  quotaPolicy?: { sync?: BucketPolicy; lookup?: BucketPolicy };
  /** Evaluate query chunks on a worker pool (poolOffload), keeping the event loop free. */
  offload?: OprfOffload;
  /**
   * The backend each new session uses, when it changes under the server (a fleet node
   * reopens its directory after a rotation by the leader). Default: one opened here.
   */
  backendOf?: () => DirectoryDiscoveryBackend;
  /** Told of each session started (per-node work of a fleet). */
  onSession?: () => void;
  /** The admin port (/metrics, /healthz, /readyz; loopback by default), as `serve --admin-port`. */
  admin?: { port: number; host?: string };
  /** JSON log lines on stderr at this level (default silent), as `serve --log-level`. */
  logLevel?: LogLevel;
  /** Take partial dir.labels.get, as `serve --partial-labels on`. */
  partialLabels?: boolean;
}

/**
 * Starts a discovery server on an open directory (used by `demo`, a fleet node and the
 * tests): the library's serveDirectory (src/server/serve-directory.ts) with the directory
 * closed by close(), no refresh loop and no pool of its own (pass `offload`).
 */
export async function serveDirectory(directory: Directory, options: ServeDirectoryOptions): Promise<RunningServer> {
  const { accounts, quotaKey } = options;
  if (accounts && !quotaKey) throw new Error('quotas need a quota key');
  const running = await serveLibrary({
    directory,
    closeDirectory: true,
    host: options.host,
    port: options.port,
    accounts,
    quota: accounts ? { key: quotaKey, ...options.quotaPolicy } : undefined,
    workers: 0,
    offload: options.offload,
    refreshMs: 0,
    backendOf: options.backendOf,
    onSession: options.onSession,
    admin: options.admin,
    logLevel: options.logLevel,
    partialLabels: options.partialLabels,
  });
  return { server: running.server, directory, backend: running.backend, running, close: () => running.close() };
}

/** The tokens file's accounts, with what was loaded said on stderr (counts only, never a token). */
export function readAccounts(path: string): Map<string, string> {
  const file = readTokensFile(path);
  if (file.insecure) console.error(`warning: tokens file ${path} can be read by group or others (chmod 600): it holds every client's secret`);
  console.error(`loaded ${file.accounts.size} tokens for ${file.accountCount} accounts from ${path}`);
  return file.accounts;
}

/** The sync bucket of `--quota <n>`: n evaluations, refilled at the default rate. */
export function quotaPolicyOf(options: ServeOptions): { sync: BucketPolicy } | undefined {
  if (options.quota === undefined) return undefined;
  const capacity = Number(options.quota);
  if (!Number.isSafeInteger(capacity) || capacity < 1) throw new Error(`--quota must be a positive integer, got ${options.quota}`);
  return { sync: { capacity, refillPerMs: DEFAULT_SYNC_POLICY.refillPerMs } };
}

export const numberOption = (value: string | undefined, name: string, fallback: number): number => {
  const n = value === undefined ? fallback : Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${value}`);
  return n;
};

export async function serve(flags: ServeOptions, command?: Command): Promise<void> {
  // Flags > CONTACT_PSI_* environment > --config file > defaults (config.ts).
  const options = serveSettingsOf(flags, command, process.env) as ServeOptions;
  if (!options.db) throw new ContactPsiError('invalid_option', '--db is required (or CONTACT_PSI_DB, or "db" in the --config file)');
  if (isPostgresUrl(options.db)) return serveFleetNode(options);
  const port = portOf(options.port, '--port');
  const adminPort = options.adminPort === undefined ? undefined : portOf(options.adminPort, '--admin-port');
  const logLevel = logLevelOf(options.logLevel);
  const rotateMs = numberOption(options.rotateHours, '--rotate-hours', 0) * 3600_000;
  const graceMs = numberOption(options.graceHours, '--grace-hours', 24) * 3600_000;
  const refreshMs = numberOption(options.refreshSeconds, '--refresh-seconds', 60) * 1000;
  // The pool that precomputes tags also evaluates the clients' chunks, on every core.
  const pool = startWorkerPool();
  let running: DirectoryServer;
  try {
    running = await serveLibrary({
      store: options.db,
      host: options.host,
      port,
      tokensFile: options.tokens,
      quota: quotaPolicyOf(options),
      workers: pool ?? 0,
      refreshMs: Math.round(refreshMs) || 60_000,
      rotate: { everyMs: Math.round(rotateMs), graceMs: Math.round(graceMs) },
      logLevel,
      admin: adminPort === undefined ? undefined : { port: adminPort, host: options.adminHost },
      partialLabels: onOffOf(options.partialLabels, '--partial-labels'),
    });
  } catch (err) {
    await pool?.close();
    throw err;
  }
  if (running.accounts) {
    const { tokens, accounts } = running.accounts.counts;
    if (running.accounts.insecure) console.error(`warning: tokens file ${options.tokens} can be read by group or others (chmod 600): it holds every client's secret`);
    console.error(`loaded ${tokens} tokens for ${accounts} accounts from ${options.tokens}`);
  }
  const view = running.backend.current();
  console.log(`contact-psi listening on ${running.url} (epoch ${view.epoch}, ${view.snapshot.count} entries)`);
  if (running.admin) console.log(`admin listening on ${running.admin.url} (/metrics, /healthz, /readyz)`);

  const report = (what: string) => (err: unknown) => console.error(escapeControlChars(`${what} failed: ${(err as Error).message}`));
  process.on('SIGUSR2', () => {
    running.rotate().then((r) => console.error(`rotated to epoch ${r.epoch}; epoch ${r.previous} served until ${new Date(r.retiresAt).toISOString()}`), report('rotation'));
  });
  // SIGHUP re-reads the tokens file (a bad file keeps the tokens loaded before).
  process.on('SIGHUP', () => {
    if (!running.accounts) return void console.error('SIGHUP: no --tokens file to reload');
    try {
      const { tokens, accounts } = running.reloadTokens();
      console.error(`reloaded ${tokens} tokens for ${accounts} accounts from ${options.tokens}`);
    } catch (err) {
      report('tokens reload')(err);
    }
  });

  const stop = () => {
    process.stderr.write('shutting down\n');
    running.close().then(() => pool?.close()).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** A TCP port flag: 0..65535. */
export function portOf(value: string | undefined, name: string): number {
  const port = Number(value);
  if (value === undefined || !Number.isInteger(port) || port < 0 || port > 65535) throw new ContactPsiError('invalid_option', `${name} must be 0..65535, got ${value}`);
  return port;
}

/** An on/off setting (default off). */
export function onOffOf(value: string | undefined, name: string): boolean {
  const v = value ?? 'off';
  if (v !== 'on' && v !== 'off') throw new ContactPsiError('invalid_option', `${name} must be on or off, got ${v}`);
  return v === 'on';
}

export function logLevelOf(value: string | undefined): LogLevel {
  const level = value ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new ContactPsiError('invalid_option', `--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${level}`);
  return level as LogLevel;
}
