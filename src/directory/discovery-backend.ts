/**
 * Serves a Directory to discovery sessions: the synchronous DiscoveryBackend the sans-I/O
 * server session needs. The snapshot of the epoch is built (and cached in the store)
 * before it is served; labels are read synchronously and sealed under the tag per request
 * (a fresh nonce each time), so the label table never leaves the server in the clear.
 */
import { randomBytes } from 'node:crypto';
import type { DiscoveryBackend, EpochView } from '../protocol/discovery/backend.js';
import { sealLabel } from '../protocol/discovery/labels.js';
import type { EncodingKind } from '../setenc/types.js';
import type { Directory } from './registry.js';

export class DirectoryDiscoveryBackend implements DiscoveryBackend {
  #view: EpochView | undefined;

  private constructor(
    private readonly directory: Directory,
    private readonly kind: EncodingKind,
  ) {}

  /** Precomputes what is missing and builds the snapshot before the first client arrives. */
  static async open(directory: Directory, kind: EncodingKind = 'fuse'): Promise<DirectoryDiscoveryBackend> {
    const backend = new DirectoryDiscoveryBackend(directory, kind);
    await backend.refresh();
    return backend;
  }

  /** Re-reads the snapshot after directory changes; sessions already running keep theirs. */
  async refresh(): Promise<EpochView> {
    const snap = await this.directory.snapshot(this.kind);
    this.#view = Object.freeze({
      epoch: snap.epoch,
      suite: this.directory.suite,
      keys: this.directory.epochKeyPair(),
      snapshot: Object.freeze({
        version: snap.version,
        digest: new Uint8Array(Buffer.from(snap.digest, 'hex')),
        encoding: snap.kind,
        count: snap.count,
        bytes: snap.bytes,
      }),
    });
    return this.#view;
  }

  current(): EpochView {
    if (!this.#view) throw new Error('backend used before open()');
    return this.#view;
  }

  epoch(epoch: number): EpochView | undefined {
    return this.#view?.epoch === epoch ? this.#view : undefined;
  }

  sealedLabels(epoch: number, keys: readonly Uint8Array[]): (Uint8Array | undefined)[] {
    if (this.#view?.epoch !== epoch) return keys.map(() => undefined);
    return this.directory
      .lookupLabelsSync(keys)
      .map((m) => (m ? sealLabel(m.tag, { userId: m.userId, label: m.label }, new Uint8Array(randomBytes(24))) : undefined));
  }
}
