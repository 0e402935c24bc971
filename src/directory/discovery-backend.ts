/**
 * Serves a Directory to discovery sessions: the DiscoveryBackend the sans-I/O server
 * session needs. Every served epoch (the current one and those still in their grace
 * period) has its snapshot built before it is served and held in memory; labels come sealed
 * from the store (sealed at precompute, so the label table never holds them in the clear)
 * and deltas from the tag log, both asynchronously (the session's deferred work).
 */
import { randomBytes } from 'node:crypto';
import { ContactPsiError } from '../errors.js';
import { loadGroup } from '../group/index.js';
import { identityPublicKey } from '../protocol/discovery/announcement.js';
import type { DiscoveryBackend, EpochView, LogRange, TagDelta } from '../protocol/discovery/backend.js';
import type { CommitmentOptions } from '../protocol/discovery/commitment.js';
import { Announcer } from './announcer.js';
import { identityKeyPath, loadOrCreateIdentityKey, type IdentityKey } from './identity-key.js';
import { DownloadBudget, type DownloadBudgetOptions } from '../protocol/discovery/download-budget.js';
import type { EncodingKind } from '../setenc/types.js';
import type { Directory, DirectorySnapshot } from './registry.js';

export interface DiscoveryBackendOptions {
  /** The per-account snapshot download budget of this server's sessions (defaults: download-budget.ts). */
  readonly downloads?: DownloadBudgetOptions;
  /**
   * The directory identity that signs key statements and announcements. Default: the file
   * `<db>.identity` beside a file-backed store (created 0600 on first use); a fresh key in
   * memory for a store in memory. A PostgreSQL fleet passes the key sealed in its key vault
   * (`PostgresKeyVault.identityKey()`, as fleet-node.ts does), the same for every node: a node
   * whose key did not sign the log refuses to serve (`identity_mismatch`) rather than sign a
   * second history.
   */
  readonly identity?: IdentityKey;
  /**
   * Where served snapshots come from (default: `directory.snapshot`, which precomputes and
   * builds what is missing). A fleet follower passes the snapshots its leader stored and
   * announced (postgres/fleet-node.ts), so it builds nothing itself.
   */
  readonly snapshots?: (kind: EncodingKind, epoch?: number) => Promise<DirectorySnapshot>;
}

/** Snapshot and signature attempts when the directory or the log moves under a refresh. */
const SIGN_ATTEMPTS = 3;

/** The identity of a store: its file, or (a store in memory) a key that lives as long as the process. */
function defaultIdentity(directory: Directory): IdentityKey {
  const path = directory.store.path;
  if (path !== undefined) return loadOrCreateIdentityKey(identityKeyPath(path));
  const secretKey = new Uint8Array(randomBytes(32));
  return { secretKey, publicKey: identityPublicKey(secretKey) };
}

/** The sodium backend for the commitment arithmetic (~8x the default), if it loads here. */
async function commitmentBackend(): Promise<CommitmentOptions> {
  try {
    return { group: await loadGroup('ristretto255', 'sodium') };
  } catch {
    return {};
  }
}

export class DirectoryDiscoveryBackend implements DiscoveryBackend {
  #views = new Map<number, EpochView>();
  #current: number | undefined;
  /** One ledger for every session opened with this backend: the budget holds across sessions. */
  readonly downloads: DownloadBudget;
  /** Signs what is served and keeps the announcement log (spec/verifiability.md §9). */
  readonly announcer: Announcer;

  readonly #snapshots: (kind: EncodingKind, epoch?: number) => Promise<DirectorySnapshot>;

  private constructor(
    readonly directory: Directory,
    private readonly kind: EncodingKind,
    options: DiscoveryBackendOptions,
    commitment: CommitmentOptions,
  ) {
    this.#snapshots = options.snapshots ?? ((k, epoch) => directory.snapshot(k, epoch));
    this.downloads = new DownloadBudget(options.downloads);
    this.announcer = new Announcer({ store: directory.store, identity: options.identity ?? defaultIdentity(directory), commitment });
  }

  /** Precomputes what is missing and builds the snapshots before the first client arrives. */
  static async open(directory: Directory, kind: EncodingKind = 'fuse', now = Date.now(), options: DiscoveryBackendOptions = {}): Promise<DirectoryDiscoveryBackend> {
    const backend = new DirectoryDiscoveryBackend(directory, kind, options, await commitmentBackend());
    await backend.refresh(now);
    return backend;
  }

  /**
   * Re-reads the served epochs and their snapshots (after imports, a rotation or a grace
   * period ending). Sessions already running keep the views they hold; the previous
   * epoch's view stays until its grace period ends.
   */
  async refresh(now = Date.now()): Promise<EpochView> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#refresh(now);
      } catch (err) {
        // The tags or the log moved between the snapshot and its signature: read again.
        if (!(err instanceof ContactPsiError && err.code === 'announcement_stale') || attempt >= SIGN_ATTEMPTS) throw err;
      }
    }
  }

  async #refresh(now: number): Promise<EpochView> {
    const { directory, kind } = this;
    // Read the current snapshot first and take its epoch: a rotation may switch between calls.
    const current = await this.#snapshots(kind);
    const views = new Map<number, EpochView>();
    for (const epoch of new Set([...directory.servedEpochs(now), current.epoch])) {
      const snap = epoch === current.epoch ? current : await this.#snapshots(kind, epoch);
      views.set(epoch, Object.freeze({
        epoch,
        suite: directory.suite,
        keys: directory.epochKeyPair(epoch),
        snapshot: Object.freeze({
          version: snap.version,
          digest: new Uint8Array(Buffer.from(snap.digest, 'hex')),
          encoding: snap.kind,
          count: snap.count,
          bytes: snap.bytes,
        }),
      }));
    }
    // The current view is what dir.info announces: signed (and logged) before it is served.
    const view = views.get(current.epoch)!;
    const signed = await this.announcer.sign({
      suite: directory.suite.id,
      epoch: view.epoch,
      publicKey: view.keys.publicKey,
      validFrom: directory.epochInfo(view.epoch)?.createdAt,
      version: view.snapshot.version,
      count: view.snapshot.count,
      encoding: view.snapshot.encoding,
      digest: view.snapshot.digest,
    });
    views.set(current.epoch, Object.freeze({ ...view, signed }));
    this.#views = views;
    this.#current = current.epoch;
    return views.get(current.epoch)!;
  }

  current(): EpochView {
    if (this.#current === undefined) throw new Error('backend used before open()');
    return this.#views.get(this.#current)!;
  }

  epoch(epoch: number): EpochView | undefined {
    return this.#views.get(epoch);
  }

  async sealedLabels(epoch: number, keys: readonly Uint8Array[]): Promise<Uint8Array[][]> {
    if (!this.#views.has(epoch)) return keys.map(() => []);
    return this.directory.lookupSealedCandidates(epoch, keys);
  }

  log(from: number, limit: number): Promise<LogRange> {
    return this.announcer.log(from, limit);
  }

  announcements(epoch: number, version: number): Promise<Uint8Array[]> {
    return this.announcer.announcements(epoch, version);
  }

  async delta(epoch: number, fromVersion: number): Promise<TagDelta | undefined> {
    const d = await this.directory.servedTagDelta(epoch, fromVersion);
    return d ? { toVersion: d.toVersion, added: d.added, removed: d.removed, relabeled: d.relabeled } : undefined;
  }
}
