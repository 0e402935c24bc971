/**
 * The directory's epoch keys: the current one, a previous one still served through its
 * grace period, and during a rotation the next one being prepared. Held in memory, and in
 * the key storage when there is one (a key file, or the PostgreSQL key vault: every change
 * is written there before it takes effect here, so memory is never ahead of storage). Secrets stay in this object: callers get
 * copies, and only on explicit request.
 */
import type { Rng } from '../group/types.js';
import type { OprfSuite } from '../oprf/suite.js';
import type { KeyStorage } from './key-storage.js';
import type { EpochKeyEntry } from './keyfile.js';

export interface EpochKeyInfo {
  readonly epoch: number;
  readonly publicKey: Uint8Array;
  readonly createdAt: number;
  readonly retiresAt: number | undefined;
}

interface Held extends EpochKeyInfo {
  readonly secretKey: Uint8Array;
}

export class EpochKeyRing {
  readonly #suite: OprfSuite;
  readonly #storage: KeyStorage | undefined;
  #held: ReadonlyMap<number, Held>;

  constructor(suite: OprfSuite, storage: KeyStorage | undefined, entries: readonly EpochKeyEntry[]) {
    this.#suite = suite;
    this.#storage = storage;
    this.#held = this.#derive(entries);
  }

  /** Ascending. */
  epochs(): number[] {
    return [...this.#held.keys()].sort((a, b) => a - b);
  }

  has(epoch: number): boolean {
    return this.#held.has(epoch);
  }

  info(epoch: number): EpochKeyInfo | undefined {
    const h = this.#held.get(epoch);
    return h === undefined ? undefined : { epoch: h.epoch, publicKey: h.publicKey.slice(), createdAt: h.createdAt, retiresAt: h.retiresAt };
  }

  publicKey(epoch: number): Uint8Array | undefined {
    return this.#held.get(epoch)?.publicKey;
  }

  /** A copy of the secret key: never log or persist it elsewhere. */
  secretKey(epoch: number): Uint8Array | undefined {
    return this.#held.get(epoch)?.secretKey.slice();
  }

  /** Generates and stores the key of `epoch`. */
  async generate(epoch: number, rng: Rng, now: number): Promise<void> {
    const { secretKey } = this.#suite.generateKeyPair(rng);
    await this.#commit([...this.#entries(), { epoch, secretKey, createdAt: now }]);
  }

  /** Sets (or clears) when an epoch stops being served. */
  async setRetiresAt(epoch: number, retiresAt: number | undefined): Promise<void> {
    await this.#commit(
      this.#entries().map((e) =>
        e.epoch !== epoch ? e : { epoch: e.epoch, secretKey: e.secretKey, createdAt: e.createdAt, ...(retiresAt === undefined ? {} : { retiresAt }) },
      ),
    );
  }

  async remove(epochs: readonly number[]): Promise<void> {
    if (epochs.length > 0) await this.#commit(this.#entries().filter((e) => !epochs.includes(e.epoch)));
  }

  #entries(): EpochKeyEntry[] {
    return [...this.#held.values()].map(({ epoch, secretKey, createdAt, retiresAt }) =>
      retiresAt === undefined ? { epoch, secretKey, createdAt } : { epoch, secretKey, createdAt, retiresAt },
    );
  }

  /** Storage first: if the write fails, nothing changes here. */
  async #commit(entries: readonly EpochKeyEntry[]): Promise<void> {
    const held = this.#derive(entries);
    // `expected`: what this ring last read or wrote; keys changed by another process since
    // are refused rather than overwritten (it would lose that process's epochs).
    if (this.#storage !== undefined) await this.#storage.replace({ suite: this.#suite.id, epochs: entries }, { suite: this.#suite.id, epochs: this.#entries() });
    this.#held = held;
  }

  #derive(entries: readonly EpochKeyEntry[]): ReadonlyMap<number, Held> {
    return new Map(
      entries.map((e) => [
        e.epoch,
        {
          epoch: e.epoch,
          secretKey: e.secretKey.slice(),
          publicKey: this.#suite.publicKeyOf(e.secretKey),
          createdAt: e.createdAt,
          retiresAt: e.retiresAt,
        },
      ]),
    );
  }
}
