/**
 * Serves a Directory to discovery sessions: the DiscoveryBackend the sans-I/O server
 * session needs. Every served epoch (the current one and those still in their grace
 * period) has its snapshot built before it is served and held in memory; labels come sealed
 * from the store (sealed at precompute, so the label table never holds them in the clear)
 * and deltas from the tag log, both asynchronously (the session's deferred work).
 */
import type { DiscoveryBackend, EpochView, TagDelta } from '../protocol/discovery/backend.js';
import { DownloadBudget, type DownloadBudgetOptions } from '../protocol/discovery/download-budget.js';
import type { EncodingKind } from '../setenc/types.js';
import type { Directory } from './registry.js';

export interface DiscoveryBackendOptions {
  /** The per-account snapshot download budget of this server's sessions (defaults: download-budget.ts). */
  readonly downloads?: DownloadBudgetOptions;
}

export class DirectoryDiscoveryBackend implements DiscoveryBackend {
  #views = new Map<number, EpochView>();
  #current: number | undefined;
  /** One ledger for every session opened with this backend: the budget holds across sessions. */
  readonly downloads: DownloadBudget;

  private constructor(
    readonly directory: Directory,
    private readonly kind: EncodingKind,
    options: DiscoveryBackendOptions,
  ) {
    this.downloads = new DownloadBudget(options.downloads);
  }

  /** Precomputes what is missing and builds the snapshots before the first client arrives. */
  static async open(directory: Directory, kind: EncodingKind = 'fuse', now = Date.now(), options: DiscoveryBackendOptions = {}): Promise<DirectoryDiscoveryBackend> {
    const backend = new DirectoryDiscoveryBackend(directory, kind, options);
    await backend.refresh(now);
    return backend;
  }

  /**
   * Re-reads the served epochs and their snapshots (after imports, a rotation or a grace
   * period ending). Sessions already running keep the views they hold; the previous
   * epoch's view stays until its grace period ends.
   */
  async refresh(now = Date.now()): Promise<EpochView> {
    const { directory, kind } = this;
    // Read the current snapshot first and take its epoch: a rotation may switch between calls.
    const current = await directory.snapshot(kind);
    const views = new Map<number, EpochView>();
    for (const epoch of new Set([...directory.servedEpochs(now), current.epoch])) {
      const snap = epoch === current.epoch ? current : await directory.snapshot(kind, epoch);
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

  async sealedLabels(epoch: number, keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    if (!this.#views.has(epoch)) return keys.map(() => undefined);
    return this.directory.lookupSealed(epoch, keys);
  }

  async delta(epoch: number, fromVersion: number): Promise<TagDelta | undefined> {
    const d = await this.directory.servedTagDelta(epoch, fromVersion);
    return d ? { toVersion: d.toVersion, added: d.added, removed: d.removed } : undefined;
  }
}
