/** `contact-psi serve --db <path> --port <n> [--host 127.0.0.1]`: the discovery server. */
import { randomBytes } from 'node:crypto';
import { DirectoryDiscoveryBackend } from '../../directory/discovery-backend.js';
import type { Directory } from '../../directory/index.js';
import { DiscoveryServerSession } from '../../protocol/discovery/server.js';
import type { OprfOffload } from '../../protocol/offload.js';
import { poolOffload } from '../../parallel/index.js';
import { startServer, type PsiServer } from '../../transport/ws/index.js';
import type { BucketPolicy } from '../../protocol/discovery/quota.js';
import { loadOrCreateQuotaKey } from '../quota-key.js';
import { escapeControlChars } from '../terminal-text.js';
import { readTokensFile } from '../tokens-file.js';
import { openDirectory } from '../open-directory.js';
import { lockDirectory } from '../../directory/directory-lock.js';
import { isPostgresUrl } from '../../directory/open-store.js';
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
}

export interface RunningServer {
  server: PsiServer;
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
}

/** Starts a discovery server on an open directory (used by `serve`, `demo` and the tests). */
export async function serveDirectory(directory: Directory, options: ServeDirectoryOptions): Promise<RunningServer> {
  const backend = options.backendOf?.() ?? (await DirectoryDiscoveryBackend.open(directory, 'fuse'));
  const backendOf = options.backendOf ?? (() => backend);
  const rng = (n: number) => new Uint8Array(randomBytes(n));
  const { accounts, quotaKey } = options;
  if (accounts && !quotaKey) throw new Error('quotas need a quota key');
  const server = await startServer({
    host: options.host,
    port: options.port,
    authenticate: accounts ? ({ token }) => (token !== undefined ? accounts.get(token) : undefined) : undefined,
    createSession: ({ now, auth }) => {
      options.onSession?.();
      const current = backendOf();
      return new DiscoveryServerSession({
        backend: current,
        rng,
        now,
        offload: options.offload,
        // The Directory keeps the buckets durable (SQLite), so a restart does not reset quotas.
        quota: typeof auth === 'string' ? { account: auth, config: { store: current.directory, tokenKey: quotaKey!, ...options.quotaPolicy } } : undefined,
      });
    },
  });
  return {
    server,
    directory,
    backend,
    async close() {
      await server.close({ graceMs: 5_000 });
      await directory.close();
    },
  };
}

/** The tokens file's accounts, with what was loaded said on stderr (counts only, never a token). */
export function readAccounts(path: string): Map<string, string> {
  const file = readTokensFile(path);
  if (file.insecure) console.error(`warning: tokens file ${path} can be read by group or others (chmod 600): it holds every client's secret`);
  console.error(`loaded ${file.accounts.size} tokens for ${file.accountCount} accounts from ${path}`);
  return file.accounts;
}

export const numberOption = (value: string | undefined, name: string, fallback: number): number => {
  const n = value === undefined ? fallback : Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${value}`);
  return n;
};

export async function serve(options: ServeOptions): Promise<void> {
  if (isPostgresUrl(options.db)) return serveFleetNode(options);
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got ${options.port}`);
  const rotateMs = numberOption(options.rotateHours, '--rotate-hours', 0) * 3600_000;
  const graceMs = numberOption(options.graceHours, '--grace-hours', 24) * 3600_000;
  const refreshMs = numberOption(options.refreshSeconds, '--refresh-seconds', 60) * 1000;
  const accounts = options.tokens ? readAccounts(options.tokens) : undefined;
  // The server owns the epoch keys (it rotates and retires them): no `directory rotate`
  // beside it (directory-lock.ts). Imports are not locked out: they are picked up below.
  const lock = lockDirectory(options.db, 'serve');
  const opened = await openDirectory(options.db).catch((err: unknown) => {
    lock.release();
    throw err;
  });
  const { directory } = opened;
  const quotaKey = accounts ? loadOrCreateQuotaKey(`${options.db}.quota-key`) : undefined;
  // The pool that precomputes tags also evaluates the clients' chunks, on every core.
  const offload = opened.pool ? poolOffload(opened.pool) : undefined;
  const running = await serveDirectory(directory, { host: options.host, port, accounts, quotaKey, offload });
  const view = running.backend.current();
  console.log(`contact-psi listening on ${running.server.url} (epoch ${view.epoch}, ${view.snapshot.count} entries)`);

  // One task at a time: a refresh never races a rotation.
  let busy: Promise<unknown> = Promise.resolve();
  const task = (name: string, fn: () => Promise<unknown>) => {
    busy = busy.then(fn).catch((err: unknown) => console.error(escapeControlChars(`${name} failed: ${(err as Error).message}`)));
  };
  const rotate = () =>
    task('rotation', async () => {
      const r = await directory.rotateEpoch({ graceMs });
      await running.backend.refresh();
      console.error(`rotated to epoch ${r.epoch}; epoch ${r.previous} served until ${new Date(r.retiresAt).toISOString()}`);
    });
  const refresh = () =>
    task('refresh', async () => {
      await directory.retireExpired();
      await running.backend.refresh();
    });
  const timers = [setInterval(refresh, refreshMs || 60_000), ...(rotateMs > 0 ? [setInterval(rotate, rotateMs)] : [])];
  timers.forEach((t) => t.unref());
  process.on('SIGUSR2', rotate);

  const stop = () => {
    process.stderr.write('shutting down\n');
    timers.forEach(clearInterval);
    busy.then(() => running.close()).then(() => opened.pool?.close()).then(() => lock.release()).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
