/**
 * The Node client's SyncCache: the files of one server's cache folder (snapshot-cache.ts:
 * snapshot, pins, key pin, receipt; output-cache.ts: OPRF outputs) and the device secret
 * beside them (0600), behind the interface the runtime-neutral sync (src/browser/sync-core.ts)
 * takes. One instance serves one server (the folder is named after it).
 */
import type { SyncCache, KeyPin } from '../browser/sync-cache.js';
import type { CachedSnapshot, QuotaReceipt } from '../protocol/discovery/client.js';
import type { PinState } from '../protocol/discovery/identity-pins.js';
import type { KnownOutputs } from '../protocol/discovery/known-outputs.js';
import { OutputCache } from './output-cache.js';
import { deviceSecret, SnapshotCache } from './snapshot-cache.js';

export class FileSyncCache implements SyncCache {
  readonly files: SnapshotCache;
  private readonly outputs: OutputCache;

  constructor(
    private readonly root: string,
    private readonly server: string,
  ) {
    this.files = new SnapshotCache(root, server);
    this.outputs = new OutputCache(this.files.dir, server);
  }

  /** A programming error, not a cache state: the folder is this server's. */
  private check(server: string): void {
    if (server !== this.server) throw new Error(`this FileSyncCache holds ${this.server}, not ${server}`);
  }

  async loadSnapshot(server: string, onDiscarded?: (reason: string) => void): Promise<CachedSnapshot | undefined> {
    this.check(server);
    const snapshot = this.files.load();
    if (this.files.discarded) onDiscarded?.(this.files.discarded);
    return snapshot;
  }
  async saveSnapshot(server: string, snapshot: CachedSnapshot): Promise<void> {
    this.check(server);
    this.files.save(snapshot);
  }
  async loadPin(server: string): Promise<KeyPin | undefined> {
    this.check(server);
    return this.files.pinned();
  }
  async savePin(server: string, pin: KeyPin): Promise<void> {
    this.check(server);
    this.files.pin(pin.epoch, pin.publicKey);
  }
  async loadPins(server: string): Promise<PinState | undefined> {
    this.check(server);
    return this.files.loadPins();
  }
  async savePins(server: string, pins: PinState): Promise<void> {
    this.check(server);
    this.files.savePins(pins);
  }
  async loadOutputs(server: string, identifiers: readonly string[], cacheKeyFor: (identity: Uint8Array | undefined) => Uint8Array, onDiscarded?: (reason: string) => void): Promise<KnownOutputs | undefined> {
    this.check(server);
    const outputs = this.outputs.load(identifiers, cacheKeyFor);
    if (this.outputs.discarded) onDiscarded?.(this.outputs.discarded);
    return outputs;
  }
  async saveOutputs(server: string, outputs: KnownOutputs, cacheKey: Uint8Array): Promise<void> {
    this.check(server);
    this.outputs.save(outputs, cacheKey);
  }
  async loadReceipt(server: string): Promise<QuotaReceipt | undefined> {
    this.check(server);
    return this.files.loadReceipt();
  }
  async saveReceipt(server: string, receipt: QuotaReceipt): Promise<void> {
    this.check(server);
    this.files.saveReceipt(receipt);
  }
  /** The secret of this cache root (device-secret, 0600), created from OS randomness on first use. */
  async deviceSecret(): Promise<Uint8Array> {
    return deviceSecret(this.root);
  }
  /** Deletes the server's folder (snapshot, pins, key pin, receipt, outputs). */
  async reset(server: string): Promise<void> {
    this.check(server);
    this.files.reset();
  }
}
