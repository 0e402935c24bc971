import { sha256 } from '@noble/hashes/sha2.js';
import { loadGroup } from '../../src/group/index.js';
import { createSuite, Modes, type KeyPair, type OprfSuite } from '../../src/oprf/index.js';
import type { DiscoveryBackend, EpochView } from '../../src/protocol/discovery/backend.js';
import type { BucketState, ChargedRecord, QuotaStore, QuotaWrite } from '../../src/protocol/discovery/quota.js';
import { sealLabel, wireLookupKeyOf } from '../../src/protocol/discovery/labels.js';
import { bytesKey } from '../../src/protocol/server-set.js';
import { buildEncoding, deriveParameters, type EncodingKind } from '../../src/setenc/index.js';
import { seededRng } from './rng.js';

export interface TestUser {
  userId: string;
  identifiers: string[];
  label: string;
  discoverable?: boolean;
}

const fastGroup = await loadGroup('ristretto255', 'sodium');
export const voprfSuite = (): OprfSuite => createSuite('ristretto255-SHA512', Modes.VOPRF, fastGroup);

/** A directory in a few lines, for protocol tests: the real one is src/directory. */
export function memoryBackend(users: TestUser[], opts: { suite?: OprfSuite; keys?: KeyPair; epoch?: number; encoding?: EncodingKind; seed?: number } = {}) {
  const suite = opts.suite ?? voprfSuite();
  const rng = seededRng(opts.seed ?? 5);
  const keys = opts.keys ?? suite.generateKeyPair(rng);
  const visible = users.filter((u) => u.discoverable !== false);
  const ids = visible.flatMap((u) => u.identifiers.map((id) => ({ id, u })));
  const tags = suite.evaluate(keys.secretKey, ids.map(({ id }) => new TextEncoder().encode(id)));
  const kind = opts.encoding ?? 'fuse';
  const encoding = buildEncoding(deriveParameters({ kind, serverSize: Math.max(1, tags.length), clientSize: 1, falsePositiveRate: 2 ** -29 }), tags);
  const bytes = encoding.serialize();
  const labels = new Map<string, Uint8Array>();
  tags.forEach((tag, i) => labels.set(bytesKey(wireLookupKeyOf(tag)), sealLabel(tag, { userId: ids[i].u.userId, label: new TextEncoder().encode(ids[i].u.label) })));
  const view: EpochView = {
    epoch: opts.epoch ?? 1,
    suite,
    keys,
    snapshot: { version: 1, digest: sha256(bytes), encoding: kind, count: encoding.count, bytes },
  };
  const backend: DiscoveryBackend = {
    current: () => view,
    epoch: (e) => (e === view.epoch ? view : undefined),
    sealedLabels: async (_e, keys) => keys.map((k) => labels.get(bytesKey(k))),
  };
  return { backend, view, suite, keys };
}

/**
 * A directory with versions and epochs, for delta, split-view and rotation tests: each
 * `publish(users)` makes a new version of the current epoch; `rotate()` starts a new epoch
 * with a new key and keeps the old one served (its grace period) until `retire()`.
 */
export class VersionedBackend implements DiscoveryBackend {
  private readonly views = new Map<number, ReturnType<typeof memoryBackend> & { version: number; tags: Set<string> }>();
  private history: { epoch: number; version: number; tags: Set<string> }[] = [];
  private currentEpoch = 1;
  private version = 0;
  private users: TestUser[] = [];
  readonly suite = voprfSuite();
  private readonly keysByEpoch = new Map<number, KeyPair>();

  constructor(users: TestUser[]) {
    this.keysByEpoch.set(1, this.suite.generateKeyPair(seededRng(1)));
    this.publish(users);
  }

  publish(users: TestUser[]): void {
    this.users = users;
    this.version++;
    this.build(this.currentEpoch);
  }

  rotate(): void {
    this.currentEpoch++;
    this.keysByEpoch.set(this.currentEpoch, this.suite.generateKeyPair(seededRng(this.currentEpoch * 1000)));
    this.build(this.currentEpoch);
  }

  retire(epoch: number): void {
    this.views.delete(epoch);
  }

  private build(epoch: number): void {
    const keys = this.keysByEpoch.get(epoch)!;
    const b = memoryBackend(this.users, { suite: this.suite, keys, epoch });
    const tags = new Set(
      this.suite
        .evaluate(keys.secretKey, this.users.filter((u) => u.discoverable !== false).flatMap((u) => u.identifiers).map((id) => new TextEncoder().encode(id)))
        .map((t) => bytesKey(t.subarray(0, 8))),
    );
    const view = { ...b, version: this.version, tags };
    (view.view.snapshot as { version: number }).version = this.version;
    this.views.set(epoch, view);
    this.history.push({ epoch, version: this.version, tags });
  }

  current(): EpochView {
    return this.views.get(this.currentEpoch)!.view;
  }

  epoch(e: number): EpochView | undefined {
    return this.views.get(e)?.view;
  }

  async sealedLabels(e: number, keys: readonly Uint8Array[]): Promise<readonly (Uint8Array | readonly Uint8Array[] | undefined)[]> {
    const v = this.views.get(e);
    return v ? v.backend.sealedLabels(e, keys) : keys.map(() => undefined);
  }

  async delta(e: number, fromVersion: number) {
    const from = this.history.find((h) => h.epoch === e && h.version === fromVersion);
    const to = this.views.get(e);
    if (!from || !to) return undefined;
    const pack = (keys: string[]) => {
      const out = new Uint8Array(keys.length * 8);
      keys.sort().forEach((k, i) => {
        for (let j = 0; j < 8; j++) out[i * 8 + j] = k.charCodeAt(j);
      });
      return out;
    };
    return {
      toVersion: to.version,
      added: pack([...to.tags].filter((t) => !from.tags.has(t))),
      removed: pack([...from.tags].filter((t) => !to.tags.has(t))),
    };
  }
}

/** Quota buckets in a Map: the store side of quotas, for protocol tests. */
export class MapQuotaStore implements QuotaStore {
  readonly buckets = new Map<string, BucketState>();
  async getBucket(account: string) {
    return this.buckets.get(account);
  }
  async putBucket(account: string, state: BucketState) {
    this.buckets.set(account, { ...state });
  }
  /** The charged records of receipt chains (spec/sync-failover.md §4), as the real stores keep them. */
  readonly records = new Map<string, ChargedRecord>();
  async writeQuota(write: QuotaWrite): Promise<BucketState[]> {
    const staged = new Map<string, BucketState>();
    const written = write.buckets.map(({ key, update }) => {
      const next = update(staged.get(key) ?? this.buckets.get(key));
      staged.set(key, next);
      return next;
    });
    for (const [key, state] of staged) this.buckets.set(key, { ...state });
    for (const record of write.records ?? []) {
      const stored = this.records.get(record.key);
      if (stored && stored.generation > record.generation) continue; // a newer session's (or epoch's) stays
      // (A copy per append: fine for a test store; the real stores append parts, buckets.ts recordAction.)
      const base = stored && stored.generation === record.generation ? stored.hashes : new Uint8Array(0);
      const hashes = new Uint8Array(base.length + record.hashes.length);
      hashes.set(base);
      hashes.set(record.hashes, base.length);
      this.records.set(record.key, { generation: record.generation, hashes });
    }
    return written;
  }
  async chargedRecord(key: string): Promise<ChargedRecord | undefined> {
    return this.records.get(key);
  }
}
