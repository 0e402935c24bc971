/**
 * The Node client's SyncCache: the files of one server's cache folder (snapshot-cache.ts:
 * snapshot, pins, key pin; output-cache.ts: OPRF outputs) and the device secret beside them
 * (0600), behind the interface the runtime-neutral sync (src/browser/sync-core.ts) takes. One
 * instance serves one server (the folder is named after it), and the folders of directory
 * identities (`identityScope`, named the same way after the scope): the OPRF outputs and the
 * quota receipt belong to the identity, so every node of a fleet finds them
 * (spec/sync-failover.md). A server folder of earlier versions may still hold outputs and a
 * receipt: they are read through the server's scope until the identity's are saved.
 */
import { isIdentityScope, type SyncCache, type KeyPin } from '../browser/sync-cache.js';
import type { CachedSnapshot, QuotaReceipt } from '../protocol/discovery/client.js';
import type { PinState } from '../protocol/discovery/identity-pins.js';
import type { KnownOutputs } from '../protocol/discovery/known-outputs.js';
import { EntryKeys, OutputCache } from './output-cache.js';
import { deviceSecret, SnapshotCache } from './snapshot-cache.js';

export class FileSyncCache implements SyncCache {
  readonly files: SnapshotCache;
  private readonly outputs: OutputCache;
  private readonly scopes = new Map<string, { files: SnapshotCache; outputs: OutputCache }>();
  /** The outputs files' entry keys, computed once per identifier for every scope (output-cache.ts EntryKeys). */
  private readonly entryKeys = new EntryKeys();

  constructor(
    private readonly root: string,
    private readonly server: string,
  ) {
    this.files = new SnapshotCache(root, server);
    this.outputs = new OutputCache(this.files.dir, server, this.entryKeys);
    this.scopes.set(server, { files: this.files, outputs: this.outputs });
  }

  /** A programming error, not a cache state: the folder is this server's. */
  private check(server: string): void {
    if (server !== this.server) throw new Error(`this FileSyncCache holds ${this.server}, not ${server}`);
  }

  /** The folder of this server, or of a directory identity (outputs, receipt and reset only). */
  private scope(scope: string): { files: SnapshotCache; outputs: OutputCache } {
    let found = this.scopes.get(scope);
    if (found) return found;
    if (!isIdentityScope(scope)) this.check(scope);
    const files = new SnapshotCache(this.root, scope);
    found = { files, outputs: new OutputCache(files.dir, scope, this.entryKeys) };
    this.scopes.set(scope, found);
    return found;
  }

  /** The folder of `scope` (this server's, or an identityScope's): where its files are. */
  dirOf(scope: string): string {
    return this.scope(scope).files.dir;
  }

  async loadSnapshot(server: string, onDiscarded?: (reason: string) => void): Promise<CachedSnapshot | undefined> {
    this.check(server);
    const snapshot = this.files.load();
    if (this.files.discarded) onDiscarded?.(this.files.discarded);
    return snapshot;
  }
  async saveSnapshot(server: string, snapshot: CachedSnapshot): Promise<void> {
    this.check(server);
    await this.files.saveAsync(snapshot);
  }
  async loadPin(server: string): Promise<KeyPin | undefined> {
    this.check(server);
    return this.files.pinned();
  }
  async savePin(server: string, pin: KeyPin): Promise<void> {
    this.check(server);
    await this.files.pinAsync(pin.epoch, pin.publicKey);
  }
  async loadPins(server: string): Promise<PinState | undefined> {
    this.check(server);
    return this.files.loadPins();
  }
  async savePins(server: string, pins: PinState): Promise<void> {
    this.check(server);
    await this.files.savePinsAsync(pins);
  }
  async loadOutputs(scope: string, identifiers: readonly string[], cacheKeyFor: (identity: Uint8Array | undefined) => Uint8Array, onDiscarded?: (reason: string) => void): Promise<KnownOutputs | undefined> {
    const { outputs } = this.scope(scope);
    const loaded = outputs.load(identifiers, cacheKeyFor);
    if (outputs.discarded) onDiscarded?.(outputs.discarded);
    return loaded;
  }
  async saveOutputs(scope: string, outputs: KnownOutputs, cacheKey: Uint8Array): Promise<void> {
    await this.scope(scope).outputs.saveAsync(outputs, cacheKey);
  }
  async loadReceipt(scope: string): Promise<QuotaReceipt | undefined> {
    return this.scope(scope).files.loadReceipt();
  }
  async saveReceipt(scope: string, receipt: QuotaReceipt): Promise<void> {
    await this.scope(scope).files.saveReceiptAsync(receipt);
  }
  /** The secret of this cache root (device-secret, 0600), created from OS randomness on first use. */
  async deviceSecret(): Promise<Uint8Array> {
    return deviceSecret(this.root);
  }
  /** Deletes the server's folder (snapshot, pins, key pin, and outputs and receipt of earlier versions), or an identity's (outputs, receipt). */
  async reset(scope: string): Promise<void> {
    this.scope(scope).files.reset();
  }
}
