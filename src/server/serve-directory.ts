/**
 * `serveDirectory`: the discovery server exactly as `contact-psi serve` composes it, for
 * programs that embed it (spec/operations.md). One call gives the WebSocket server with the
 * transport's protective limits, per-account quotas and connection caps, the snapshot
 * download budget, one worker pool shared by every connection, the refresh loop that picks
 * up imports, scheduled epoch rotations, metrics, structured logs and an optional admin port.
 * `close()` stops all of it (server, admin port, timers, pool, directory it opened), so a
 * process that calls it exits on its own.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { Directory } from '../directory/registry.js';
import type { RotationResult } from '../directory/registry.js';
import { DirectoryDiscoveryBackend, type DiscoveryBackendOptions } from '../directory/discovery-backend.js';
import { lockDirectory, type DirectoryLock } from '../directory/directory-lock.js';
import { isPostgresUrl } from '../directory/open-store.js';
import type { DirectoryStore } from '../directory/types.js';
import { ContactPsiError } from '../errors.js';
import { poolEvaluator, poolOffload, WorkerPool } from '../parallel/index.js';
import type { EpochView } from '../protocol/discovery/backend.js';
import type { DownloadBudgetOptions } from '../protocol/discovery/download-budget.js';
import type { DiscoveryLimits } from '../protocol/discovery/messages.js';
import type { BucketPolicy } from '../protocol/discovery/quota.js';
import { DiscoveryServerSession } from '../protocol/discovery/server.js';
import type { OprfOffload } from '../protocol/offload.js';
import { startServer, type PsiServer, type ServerOptions } from '../transport/ws/index.js';
import type { SessionReport } from '../transport/ws/connection.js';
import { directorySuite, openStoreAndKeys } from '../cli/open-directory.js';
import { loadOrCreateQuotaKey } from '../cli/quota-key.js';
import { startAdminServer, type AdminServer, type AdminServerOptions } from './admin-server.js';
import { createServerLogger, type Logger, type LogLevel, logSession } from './server-log.js';
import { ServerMetrics } from './server-metrics.js';
import { emptyCounts, inlineOffload, observeResult, observedBackend, observedOffload, observedQuotaStore, outcomeOf, snapshotKindOf, type SessionCounts } from './session-observer.js';
import { TokenAccounts, type AccountSource } from './token-accounts.js';

/** How often the directory is re-read by default (imports by other processes, retired epochs): as `serve --refresh-seconds`. */
export const DEFAULT_REFRESH_MS = 60_000;
/** How long the previous epoch stays served after a rotation by default: as `serve --grace-hours`. */
export const DEFAULT_ROTATION_GRACE_MS = 24 * 3600_000;
/** The longest delay Node's timers take (2^31-1 ms); longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ServeQuotaOptions {
  /**
   * The key of quota receipts (32 bytes, kept across restarts or every client is charged
   * again). Default: `<db>.quota-key` beside a SQLite directory (created 0600), a fresh key
   * in memory for a store in memory.
   */
  key?: Uint8Array;
  /** Evaluations of an account's sync bucket and its refill (default DEFAULT_SYNC_POLICY: 50,000, 1,500 a day). */
  sync?: BucketPolicy;
  /** The one-off lookup bucket (default DEFAULT_LOOKUP_POLICY: 50, 50 a day). */
  lookup?: BucketPolicy;
}

export interface ServeRotationOptions {
  /** Rotate the epoch key this often (milliseconds; 0 = only when `rotate()` is called). */
  everyMs: number;
  /** How long the previous epoch stays served (default 24 h). */
  graceMs?: number;
}

export interface ServeDirectoryOptions {
  /** An open directory to serve (closed by `close()` only with `closeDirectory`). */
  directory?: Directory;
  /** Or the directory's store: a SQLite path, a postgres:// URL, or an open store; opened (and closed) here. */
  store?: string | DirectoryStore;
  /** With `directory`: close it in `close()` (default false: the caller opened it). */
  closeDirectory?: boolean;
  /** The key-encryption key file of a PostgreSQL store (default: CONTACT_PSI_KEK). */
  kekFile?: string;
  host?: string;
  /** 0 picks a free port (read it back from `url`). */
  port?: number;
  /**
   * Bearer token -> account: a Map, a function, or `tokensFile`. With accounts every
   * connection must present a token, and each account has quotas and a connection cap;
   * without, every client is accepted and nothing is charged.
   */
  accounts?: AccountSource;
  /** A tokens file (`<token> [<account>]` per line, see `serve --tokens`); `reloadTokens()` re-reads it. */
  tokensFile?: string;
  quota?: ServeQuotaOptions;
  /** The per-account snapshot download budget (default 1 GiB a day per account). */
  downloads?: DownloadBudgetOptions;
  /** Snapshot bytes one session may download, as a multiple of the snapshot (default 2). */
  snapshotDownloadFactor?: number;
  /**
   * Take partial dir.labels.get (label lookups overlap the evaluation; default false):
   * clients built before this option refuse its dir.info field, so turn it on once they
   * are updated (spec/discovery.md §9, rollout).
   */
  partialLabels?: boolean;
  /** Protocol limits (default DEFAULT_DISCOVERY_LIMITS). */
  limits?: Partial<DiscoveryLimits>;
  /**
   * Worker threads that evaluate the clients' chunks (and precompute a directory opened
   * here): a number (default `os.availableParallelism()`; 0 = on the event loop), or a pool
   * you own. One pool serves every connection; `close()` closes it when it was started here.
   */
  workers?: number | WorkerPool;
  /** Re-read the directory this often (default 60 s; 0 = only when `refresh()` is called). */
  refreshMs?: number;
  /** Scheduled epoch rotations (default none). */
  rotate?: ServeRotationOptions;
  /** Transport limits (default SERVER_DEFAULTS: payload, connections per address and per account, timeouts). */
  transport?: Omit<ServerOptions, 'host' | 'port' | 'createSession' | 'authenticate'>;
  /** A pino logger for the session and directory lines (default: one at `logLevel` on stderr). */
  logger?: Logger;
  /** Level of the default logger (default 'silent' for the library; the CLI passes 'info'). */
  logLevel?: LogLevel;
  /** Metrics to count into (default: a new ServerMetrics, read with `metrics.text()`). */
  metrics?: ServerMetrics;
  /** Start the admin HTTP port (/metrics, /healthz, /readyz), loopback by default. */
  admin?: AdminServerOptions;
  /**
   * Advanced (a fleet node): the backend each new session uses when it changes under the
   * server. The caller then refreshes and rotates (refreshMs and rotate are ignored).
   */
  backendOf?: () => DirectoryDiscoveryBackend;
  /** Advanced: evaluate on this offload instead of `workers`. */
  offload?: OprfOffload;
  /** Told of each session started. */
  onSession?: () => void;
}

export interface DirectoryRefreshEvent {
  epoch: number;
  version: number;
  entries: number;
  /** Epochs whose grace period ended and were dropped. */
  retired: number[];
  durationMs: number;
}

export interface ServedSessionEvent {
  report: SessionReport;
  counts: SessionCounts;
}

/** The running server. Events: 'refresh' (DirectoryRefreshEvent), 'rotation' (RotationResult), 'session' (ServedSessionEvent), 'error' is never emitted (failures are logged). */
export class DirectoryServer extends EventEmitter {
  #closing: Promise<void> | undefined;
  #ready = false;
  #busy: Promise<unknown> = Promise.resolve();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #cleanup: (() => Promise<void> | void)[];

  /** @internal use serveDirectory() */
  constructor(
    readonly server: PsiServer,
    readonly directory: Directory,
    readonly backend: DirectoryDiscoveryBackend,
    readonly metrics: ServerMetrics,
    readonly logger: Logger,
    readonly accounts: TokenAccounts | undefined,
    readonly pool: WorkerPool | undefined,
    cleanup: (() => Promise<void> | void)[],
    private readonly backendOf: () => DirectoryDiscoveryBackend,
    private readonly graceMs: number,
  ) {
    super();
    this.#cleanup = cleanup;
  }

  /** ws://host:port of the discovery server. */
  get url(): string {
    return this.server.url;
  }

  /** The admin port, when `admin` was given. */
  admin: AdminServer | undefined;

  /** True once the snapshot is built and the server listens, until close(). */
  get ready(): boolean {
    return this.#ready && this.#closing === undefined;
  }

  /** @internal */
  markReady(): void {
    this.#ready = true;
    this.metrics.ready.set(1);
    this.noteView(this.backendOf().current());
  }

  /** @internal */
  noteView(view: EpochView): void {
    this.metrics.directoryEpoch.set(view.epoch);
    this.metrics.directoryVersion.set(view.snapshot.version);
    this.metrics.directoryEntries.set(view.snapshot.count);
  }

  /** @internal */
  schedule(refreshMs: number, rotateMs: number): void {
    if (refreshMs > 0) this.#every(refreshMs, () => this.refresh());
    if (rotateMs > 0) this.#every(rotateMs, () => this.rotate());
  }

  /**
   * Runs `task` every `ms`, each run `ms` after the previous one ended. Node's timers take at
   * most 2^31-1 ms (24.8 days) and fire after 1 ms beyond it: a 30-day rotation is waited
   * for in steps. The timers never keep the process alive: close() is what ends the server.
   */
  #every(ms: number, task: () => Promise<unknown>): void {
    let due = performance.now() + ms;
    const arm = () => {
      if (this.#closing) return;
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        if (performance.now() < due) return arm();
        void task()
          .catch(() => undefined)
          .then(() => {
            due = performance.now() + ms;
            arm();
          });
      }, Math.min(Math.max(due - performance.now(), 1), MAX_TIMER_MS));
      timer.unref();
      this.#timers.add(timer);
    };
    arm();
  }

  /** One directory task at a time: a refresh never races a rotation. */
  #task<T>(event: 'refresh' | 'rotation', fn: () => Promise<T>): Promise<T> {
    const run = this.#busy.then(fn);
    this.#busy = run.catch(() => undefined);
    return run.then(
      (value) => {
        this.metrics.directoryEvents.inc({ event, outcome: 'ok' });
        return value;
      },
      (err: unknown) => {
        this.metrics.directoryEvents.inc({ event, outcome: 'failed' });
        // The code only: a store's message may quote SQL or a path, never needed to act.
        this.logger.error({ event, code: (err as { code?: unknown }).code ?? 'error' }, `${event} failed`);
        throw err;
      },
    );
  }

  /** Drops expired epochs and re-reads the directory (imports by other processes); what `refreshMs` runs. */
  refresh(): Promise<DirectoryRefreshEvent> {
    return this.#task('refresh', async () => {
      const started = performance.now();
      const retired = await this.directory.retireExpired();
      const view = await this.backend.refresh();
      this.noteView(view);
      const event: DirectoryRefreshEvent = { epoch: view.epoch, version: view.snapshot.version, entries: view.snapshot.count, retired, durationMs: Math.round(performance.now() - started) };
      this.logger.info({ event: 'refresh', ...event }, 'directory refresh');
      this.emit('refresh', event);
      return event;
    });
  }

  /** Rotates the epoch key now (what `rotate.everyMs` and SIGUSR2 of the CLI run). */
  rotate(): Promise<RotationResult> {
    return this.#task('rotation', async () => {
      const started = performance.now();
      const result = await this.directory.rotateEpoch({ graceMs: this.graceMs });
      this.noteView(await this.backend.refresh());
      this.logger.info({ event: 'rotation', epoch: result.epoch, previous: result.previous, retiresAt: new Date(result.retiresAt).toISOString(), durationMs: Math.round(performance.now() - started) }, 'directory rotation');
      this.emit('rotation', result);
      return result;
    });
  }

  /** Re-reads `tokensFile` (SIGHUP of the CLI). A file that fails to load leaves the accepted tokens as they were. */
  reloadTokens(): { tokens: number; accounts: number } {
    if (!this.accounts) throw new ContactPsiError('invalid_option', 'this server was started without tokensFile');
    try {
      const loaded = this.accounts.reload();
      this.logger.info({ event: 'tokens', tokens: loaded.tokens, accounts: loaded.accounts }, 'tokens reloaded');
      return loaded;
    } catch (err) {
      this.logger.error({ event: 'tokens', code: (err as { code?: unknown }).code ?? 'error' }, 'tokens reload failed; the previous tokens stay');
      throw err;
    }
  }

  /** Stops everything: new connections, open ones (5 s grace), the admin port, timers, the pool and what was opened here. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.metrics.ready.set(0);
      for (const t of this.#timers) clearTimeout(t);
      await this.#busy;
      await this.server.close({ graceMs: 5_000 });
      await this.admin?.close();
      for (const step of this.#cleanup) await step();
      this.logger.flush?.();
    })();
    return this.#closing;
  }
}

function nonNegativeInteger(value: number | undefined, fallback: number, name: string): number {
  const n = value ?? fallback;
  if (!(Number.isSafeInteger(n) && n >= 0)) throw new ContactPsiError('invalid_option', `${name} must be a non-negative integer, got ${String(value)}`);
  return n;
}

/** The worker pool: the caller's, one started here (owned), or none. */
function poolOf(workers: number | WorkerPool | undefined): { pool: WorkerPool | undefined; owned: boolean } {
  if (workers instanceof WorkerPool) return { pool: workers, owned: false };
  const size = nonNegativeInteger(workers, availableParallelism(), 'workers');
  return size === 0 ? { pool: undefined, owned: false } : { pool: new WorkerPool({ size }), owned: true };
}

/** The directory to serve, and what closing it takes. */
async function directoryOf(options: ServeDirectoryOptions, pool: WorkerPool | undefined): Promise<{ directory: Directory; cleanup: (() => Promise<void> | void)[] }> {
  if (options.directory) {
    if (options.store !== undefined) throw new ContactPsiError('invalid_option', 'give either directory or store, not both');
    const directory = options.directory;
    return { directory, cleanup: options.closeDirectory ? [() => directory.close()] : [] };
  }
  if (options.store === undefined) throw new ContactPsiError('invalid_option', 'serveDirectory needs a directory or a store');
  const cleanup: (() => Promise<void> | void)[] = [];
  let lock: DirectoryLock | undefined;
  // The server owns the epoch keys of a SQLite directory (it rotates and retires them): no
  // `directory rotate` beside it (directory-lock.ts). Imports are not locked out: refresh picks them up.
  if (typeof options.store === 'string' && !isPostgresUrl(options.store)) lock = lockDirectory(options.store, 'serve');
  try {
    const suite = await directorySuite();
    const { store, keyStorage } =
      typeof options.store === 'string' ? await openStoreAndKeys(options.store, { kekFile: options.kekFile }) : { store: options.store, keyStorage: undefined };
    let directory: Directory;
    try {
      directory = await Directory.open({ store, suite, keyStorage, evaluator: pool ? poolEvaluator(pool, suite) : undefined });
    } catch (err) {
      await store.close();
      throw err;
    }
    cleanup.push(() => directory.close());
    if (lock) cleanup.push(() => lock.release());
    return { directory, cleanup };
  } catch (err) {
    lock?.release();
    throw err;
  }
}

/** The quota key: given, beside a SQLite file, or (a store in memory) fresh for this process. */
function quotaKeyOf(options: ServeDirectoryOptions, directory: Directory, logger: Logger): Uint8Array {
  if (options.quota?.key) {
    if (options.quota.key.length !== 32) throw new ContactPsiError('invalid_option', 'the quota key must be 32 bytes');
    return options.quota.key;
  }
  const path = directory.store.path;
  if (path !== undefined) return loadOrCreateQuotaKey(`${path}.quota-key`);
  logger.warn({ event: 'quota_key' }, 'no quota key given and the store is in memory: receipts are valid for this process only');
  return new Uint8Array(randomBytes(32));
}

/** Starts a discovery server on a directory, as `contact-psi serve` does. */
export async function serveDirectory(options: ServeDirectoryOptions): Promise<DirectoryServer> {
  const logger = options.logger ?? createServerLogger({ level: options.logLevel ?? 'silent' });
  const metrics = options.metrics ?? new ServerMetrics({ processMetrics: options.admin !== undefined });
  const refreshMs = nonNegativeInteger(options.refreshMs, DEFAULT_REFRESH_MS, 'refreshMs');
  const rotateMs = nonNegativeInteger(options.rotate?.everyMs, 0, 'rotate.everyMs');
  const graceMs = nonNegativeInteger(options.rotate?.graceMs, DEFAULT_ROTATION_GRACE_MS, 'rotate.graceMs');
  if (options.accounts && options.tokensFile) throw new ContactPsiError('invalid_option', 'give either accounts or tokensFile, not both');
  const accounts = options.tokensFile ? TokenAccounts.fromFile(options.tokensFile) : options.accounts ? TokenAccounts.of(options.accounts) : undefined;

  const { pool, owned } = options.offload ? { pool: undefined, owned: false } : poolOf(options.workers);
  const cleanup: (() => Promise<void> | void)[] = [];
  if (owned) cleanup.push(() => pool!.close());
  let admin: AdminServer | undefined;
  let handle: DirectoryServer | undefined;
  try {
    // The admin port first: /readyz answers 503 while the snapshot is being built.
    if (options.admin) admin = await startAdminServer(metrics, () => handle?.ready ?? false, options.admin);
    const opened = await directoryOf(options, pool);
    // The directory closes before the pool whose threads precompute for it.
    cleanup.unshift(...opened.cleanup);
    const { directory } = opened;
    const backendOptions: DiscoveryBackendOptions = { downloads: options.downloads };
    const backend = options.backendOf?.() ?? (await DirectoryDiscoveryBackend.open(directory, 'fuse', Date.now(), backendOptions));
    const backendOf = options.backendOf ?? (() => backend);
    const quotaKey = accounts ? quotaKeyOf(options, directory, logger) : undefined;
    const policies = { sync: options.quota?.sync, lookup: options.quota?.lookup };
    const offload = observedOffload(options.offload ?? (pool ? poolOffload(pool) : inlineOffload), metrics);
    const rng = (n: number) => new Uint8Array(randomBytes(n));
    const live = new Map<number, { counts: SessionCounts; account: string | undefined }>();

    const server = await startServer({
      ...options.transport,
      host: options.host,
      port: options.port,
      authenticate: accounts ? ({ token }) => (token !== undefined ? accounts.lookup(token) : undefined) : undefined,
      createSession: ({ now, auth, connectionId }) => {
        options.onSession?.();
        const current = backendOf();
        const account = typeof auth === 'string' ? auth : undefined;
        const counts = emptyCounts();
        live.set(connectionId, { counts, account });
        const quotaStore = observedQuotaStore(current.directory, policies, (purpose, tokens) => {
          counts.charged += tokens;
          metrics.tokensCharged.inc({ purpose }, tokens);
        });
        const session = new DiscoveryServerSession({
          backend: observedBackend(current, counts),
          rng,
          now,
          offload,
          limits: options.limits,
          snapshotDownloadFactor: options.snapshotDownloadFactor,
          partialLabels: options.partialLabels,
          // The Directory keeps the buckets durable (SQLite, PostgreSQL): a restart does not reset quotas.
          quota: account !== undefined ? { account, config: { store: quotaStore, tokenKey: quotaKey!, ...policies } } : undefined,
        });
        return observeResult(session, counts);
      },
    });
    handle = new DirectoryServer(server, directory, backend, metrics, logger, accounts, pool, cleanup, backendOf, graceMs);
    handle.admin = admin;
    const running = handle;
    metrics.connectionsOf = () => server.connections;
    server.on('session', (report) => {
      const entry = live.get(report.connectionId);
      live.delete(report.connectionId);
      const counts = entry?.counts ?? emptyCounts();
      const outcome = outcomeOf(report);
      metrics.sessions.inc({ outcome });
      if (outcome === 'rate_limited') metrics.rateLimited.inc({ stage: 'session' });
      metrics.bytesIn.inc(report.bytesIn);
      metrics.bytesOut.inc(report.bytesOut);
      metrics.sessionSeconds.observe(report.durationMs / 1000);
      metrics.identifiersEvaluated.inc(counts.evaluated);
      metrics.labelsServed.inc(counts.labels);
      if (counts.completed) metrics.snapshotSessions.inc({ kind: snapshotKindOf(counts) });
      logSession(logger, report, counts, entry?.account);
      running.emit('session', { report, counts } satisfies ServedSessionEvent);
    });
    server.on('rejected', (event) => {
      metrics.rejected.inc({ reason: event.reason });
      if (event.status === 429) metrics.rateLimited.inc({ stage: 'upgrade' });
      logger.debug({ event: 'rejected', status: event.status, reason: event.reason }, 'upgrade refused');
    });
    handle.markReady();
    if (!options.backendOf) handle.schedule(refreshMs, rotateMs);
    const view = backendOf().current();
    logger.info({ event: 'listening', url: server.url, epoch: view.epoch, version: view.snapshot.version, entries: view.snapshot.count, workers: pool?.size ?? 0 }, 'listening');
    return handle;
  } catch (err) {
    await admin?.close();
    for (const step of cleanup) await step();
    throw err;
  }
}
