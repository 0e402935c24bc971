/**
 * One node of a fleet: a Directory on the shared PostgreSQL store, kept in step with every
 * other node (spec/directory.md "PostgreSQL store").
 *
 * - Building once, loading everywhere: a committed directory change is announced by NOTIFY
 *   (store.watchChanges). Only the leader acts on it: it brings the tags of the changed users
 *   up to date (incremental-pass.ts; a change with more missing tags than one range is split
 *   across the nodes, shared-fill.ts), builds the snapshot from the tags complete at exactly
 *   that version, stores it, signs its announcement into the log (the commitment moved by the
 *   tag delta), and then announces `view:<epoch>:<version>` on FLEET_CHANNEL. Followers load
 *   the stored bytes, check them against their digest, and switch to them only once the
 *   announcement is in the log: they compute nothing, and every node serves the same
 *   (epoch, version, digest) within one load of the leader's announcement. A view is swapped
 *   whole (DirectoryDiscoveryBackend.refresh): never half-applied, never a version whose
 *   snapshot the node does not hold. A node that was down loads the newest stored view: it
 *   catches up to the newest version, not through the ones it missed.
 * - A timer calling `refresh()` is only a fallback for a lost notification.
 * - Leading: one node at a time holds a session-level advisory lock (LEADER_LOCK) on a
 *   connection of its own; it alone builds views, rotates epochs and retires expired ones.
 *   Others wait on the same lock, so when the leader dies its connection closes and the next
 *   node leads, and first builds the newest version.
 * - Rotating: the leader seals the next key into the vault, announces `fill:<epoch>` on
 *   FLEET_CHANNEL so every node helps evaluate it, switches (Directory.rotateEpoch, which
 *   then finds the tags complete), and announces `epoch:<epoch>`: the followers reload the
 *   keys from the vault and serve the new epoch.
 */
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { PoolClient } from 'pg';
import { ContactPsiError } from '../../errors.js';
import type { OprfSuite } from '../../oprf/suite.js';
import { KEY_BYTES } from '../../setenc/tags.js';
import type { EncodingKind } from '../../setenc/types.js';
import { DirectoryDiscoveryBackend } from '../discovery-backend.js';
import type { IdentityKey } from '../identity-key.js';
import { DEFAULT_PRECOMPUTE_BATCH, type TagEvaluator } from '../precompute.js';
import { Directory, type DirectorySnapshot, type RotationResult } from '../registry.js';
import { DIRECTORY_RAW_TAG_BYTES, encodeSnapshot } from '../snapshot.js';
import type { SnapshotRecord } from '../types.js';
import { incrementalPass, type IncrementalPass } from './incremental-pass.js';
import type { PostgresKeyVault } from './key-vault.js';
import { LeaderTagSet } from './leader-tag-set.js';
import { sharedFill, type SharedFillResult } from './shared-fill.js';
import type { PostgresStore } from './store.js';

/**
 * The NOTIFY channel of fleet events: `fill:<epoch>` (help precompute), `epoch:<epoch>`
 * (switched), `snapshot:<epoch>:<version>` (stored, its announcement not yet signed: read and
 * check it ahead), `view:<epoch>:<version>` (stored and announced: switch to it).
 */
export const FLEET_CHANNEL = 'contact_psi_fleet';
/** Session-level advisory lock held by the leader ("lead"). */
export const LEADER_LOCK = 0x6c656164;
/** Epoch switches take it exclusively, directory opens shared: a node opening never writes back an old epoch ("swch"). */
const SWITCH_LOCK = 0x73776368;
/** Tag bytes a snapshot is built from (registry.ts SNAPSHOT_TAG_BYTES: the most any encoding reads). */
const SNAPSHOT_TAG_BYTES = Math.max(KEY_BYTES, DIRECTORY_RAW_TAG_BYTES);
/** Builds attempted at the newest version while changes keep landing, before the Directory's own (slower, full) path. */
const BUILD_ATTEMPTS = 4;

export interface FleetNodeOptions {
  readonly store: PostgresStore;
  readonly vault: PostgresKeyVault;
  readonly suite: OprfSuite;
  /** This node's name in logs and in work_items.done_by. */
  readonly node: string;
  readonly evaluator?: TagEvaluator;
  readonly kind?: EncodingKind;
  /** Identifiers per claimed precompute range (default 4096); a change with more missing tags than this is split across the nodes. */
  readonly rangeSize?: number;
  /** Progress lines (no secret, no identifier): served views, fills, leadership. */
  readonly log?: (line: string) => void;
  /** Called after each refresh with the view now served. */
  readonly onServing?: (view: { epoch: number; version: number; digest: string; count: number }) => void;
  /**
   * The steps of a change through this node, as they happen (`bench -- fleet --timeline`):
   * stage names, versions, sizes and counts only, never an identifier, tag or key.
   */
  readonly trace?: (event: FleetTraceEvent) => void;
}

/** One step of a change through a node (FleetNodeOptions.trace). */
export interface FleetTraceEvent {
  readonly stage: string;
  /** Wall clock, ms since the Unix epoch with sub-ms precision (performance.timeOrigin + now): comparable across processes. */
  readonly at: number;
  /** CPU of the whole process (every thread) so far, ms. */
  readonly cpuMs: number;
  readonly version?: number;
  readonly bytes?: number;
  readonly count?: number;
}

/** A trace function that fills in time and CPU, or undefined when nobody listens (free then). */
export type FleetTrace = ((stage: string, detail?: Omit<FleetTraceEvent, 'stage' | 'at' | 'cpuMs'>) => void) | undefined;

export function fleetTrace(sink: ((event: FleetTraceEvent) => void) | undefined): FleetTrace {
  if (sink === undefined) return undefined;
  return (stage, detail) => {
    const cpu = process.cpuUsage();
    sink({ stage, at: performance.timeOrigin + performance.now(), cpuMs: (cpu.user + cpu.system) / 1000, ...detail });
  };
}

export interface FleetWork {
  /** Precompute ranges this node completed, and the tags it computed in them. */
  ranges: number;
  computed: number;
  refreshes: number;
  /** Tags this node evaluated in incremental passes (as leader). */
  incremental: number;
  /** Snapshots this node built from the tags (as leader, or a node starting on a directory never built). */
  built: number;
  /** Views this node loaded as the leader stored them (as follower). */
  loaded: number;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/**
 * SHA-256 of snapshot bytes, hex: snapshotDigest's value, by node:crypto (3 ms for the 3.9 MB
 * of 1M users instead of 45 ms for the portable one, on the leader and on every follower).
 */
const digestOf = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export class FleetNode {
  readonly work: FleetWork = { ranges: 0, computed: 0, refreshes: 0, incremental: 0, built: 0, loaded: 0 };
  #directory: Directory;
  #backend: DirectoryDiscoveryBackend | undefined;
  #leader = false;
  #leaderClient: PoolClient | undefined;
  #unwatch: (() => Promise<void>)[] = [];
  /** Catch-ups and fleet events run one at a time; a change arriving meanwhile schedules one more. */
  #queue: Promise<unknown> = Promise.resolve();
  #catchUpPending = false;
  #closed = false;
  /** The leader's copy of the current tag set, moved by the tag log (leader-tag-set.ts). */
  readonly #tags: LeaderTagSet;
  readonly #trace: FleetTrace;
  /** The leader's store of the snapshot being signed: the followers hear of the view once both are done (#served). */
  #storing: Promise<void> | undefined;
  /** A follower's read of a stored snapshot ahead of its announcement (`snapshot:` event), digest checked. */
  #prefetched: { epoch: number; version: number; read: Promise<SnapshotRecord | undefined> } | undefined;
  /** The newest version a follower heard stored or announced, per epoch it serves. */
  #heard: { epoch: number; version: number } | undefined;

  private constructor(
    private readonly options: FleetNodeOptions,
    directory: Directory,
    private readonly identity: IdentityKey,
  ) {
    this.#directory = directory;
    this.#trace = fleetTrace(options.trace);
    this.#tags = new LeaderTagSet(options.store, SNAPSHOT_TAG_BYTES, this.#trace);
  }

  static async start(options: FleetNodeOptions): Promise<FleetNode> {
    const directory = await FleetNode.#open(options);
    const identity = await options.vault.identityKey();
    const node = new FleetNode(options, directory, identity);
    try {
      // Leading decides what opening means: the leader builds the newest view, a follower loads it.
      await node.#campaign();
      // A large import's fill may be under way on other nodes: help with it (never plans one).
      if (!node.#leader) await FleetNode.#fill(options, directory.currentEpoch, directory.epochKeyPair().secretKey, node.work, false);
      await node.#watch();
      await node.#run(() => node.#openBackend());
    } catch (err) {
      await node.close();
      throw err;
    }
    return node;
  }

  get directory(): Directory {
    return this.#directory;
  }

  get backend(): DirectoryDiscoveryBackend {
    if (this.#backend === undefined) throw new Error('fleet node used before start()');
    return this.#backend;
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  /** Picks up changes (the fallback of the change feed) and, on the leader, retires expired epochs. */
  refresh(): Promise<void> {
    return this.#run(async () => {
      if (this.#leader) await this.#directory.retireExpired();
      const stored = Number(await this.options.store.getMeta('epoch'));
      if (stored !== this.#directory.currentEpoch) await this.#reopen();
      else await this.#refreshBackend();
    });
  }

  /** Rotates the epoch key (the leader only: `not_leader` elsewhere); every node helps precompute. */
  rotate(graceMs: number, now: number = Date.now()): Promise<RotationResult> {
    return this.#run(async () => {
      if (!this.#leader) throw new ContactPsiError('not_leader', `node ${this.options.node} does not lead the fleet: the leader rotates`);
      const { vault, store, suite } = this.options;
      const current = this.#directory.currentEpoch;
      const file = await vault.load();
      if (file === undefined) throw new ContactPsiError('key_file_missing', 'the key vault holds no key');
      let entry = file.epochs.find((e) => e.epoch > current);
      if (entry === undefined) {
        const stored = (await store.listEpochs()).map((e) => e.epoch);
        const epoch = Math.max(current, ...file.epochs.map((e) => e.epoch), ...stored) + 1;
        entry = { epoch, secretKey: suite.generateKeyPair((n) => new Uint8Array(randomBytes(n))).secretKey, createdAt: now };
        await vault.replace({ suite: file.suite, epochs: [...file.epochs, entry] }, file);
      }
      const next = entry.epoch;
      const record = await store.getEpoch(next);
      const publicKey = hex(suite.publicKeyOf(entry.secretKey));
      if (record !== undefined && record.publicKey !== publicKey) await store.dropEpoch(next);
      await store.registerEpoch(next, publicKey);
      await this.#notify(`fill:${next}`);
      await this.#fillEpoch(next, entry.secretKey);
      const result = await this.#switchLocked(async () => {
        const directory = await FleetNode.#open(this.options, false);
        const rotated = await directory.rotateEpoch({ graceMs, now });
        this.#directory = directory;
        return rotated;
      });
      await this.#notify(`epoch:${result.epoch}`);
      // A backend on the new directory: the old one would go on serving the previous epoch.
      await this.#openBackend();
      return result;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const stop of this.#unwatch) await stop().catch(() => {});
    await this.#queue.catch(() => {});
    // Destroyed, not returned to the pool: the session ends, and with it the leader lock.
    this.#leaderClient?.release(true);
    this.#leaderClient = undefined;
    this.#leader = false;
  }

  static async #open(options: FleetNodeOptions, shared = true): Promise<Directory> {
    const open = () => Directory.open({ store: options.store, suite: options.suite, evaluator: options.evaluator, keyStorage: options.vault });
    if (!shared) return open();
    const c = await options.store.pool.connect();
    c.on('error', () => {}); // a dying connection fails the query below instead of crashing the node
    try {
      await c.query('SELECT pg_advisory_lock_shared($1)', [SWITCH_LOCK]);
      try {
        return await open();
      } finally {
        await c.query('SELECT pg_advisory_unlock_shared($1)', [SWITCH_LOCK]);
      }
    } finally {
      c.release(true); // not back to the pool with a stray listener
    }
  }

  static async #fill(options: FleetNodeOptions, epoch: number, secretKey: Uint8Array, work: FleetWork, plan = true): Promise<SharedFillResult> {
    const result = await sharedFill({
      pool: options.store.pool,
      store: options.store,
      suite: options.suite,
      secretKey,
      epoch,
      node: options.node,
      rangeSize: options.rangeSize,
      evaluator: options.evaluator,
      plan,
    });
    work.ranges += result.ranges;
    work.computed += result.computed;
    if (result.ranges > 0) options.log?.(`node ${options.node}: computed ${result.computed} tags of epoch ${epoch} in ${result.ranges} claimed ranges`);
    return result;
  }

  #fillEpoch(epoch: number, secretKey: Uint8Array): Promise<SharedFillResult> {
    return FleetNode.#fill(this.options, epoch, secretKey, this.work);
  }

  async #switchLocked<T>(fn: () => Promise<T>): Promise<T> {
    const c = await this.options.store.pool.connect();
    c.on('error', () => {}); // as in #open
    try {
      await c.query('SET statement_timeout = 0');
      await c.query('SELECT pg_advisory_lock($1)', [SWITCH_LOCK]);
      try {
        return await fn();
      } finally {
        await c.query('SELECT pg_advisory_unlock($1)', [SWITCH_LOCK]);
      }
    } finally {
      c.release(true);
    }
  }

  async #reopen(): Promise<void> {
    this.#directory = await FleetNode.#open(this.options);
    await this.#openBackend();
  }

  /** A backend on the current directory, its snapshots built (leader) or loaded (follower) by #snapshotOf. */
  async #openBackend(): Promise<void> {
    const directory = this.#directory;
    this.#backend = await DirectoryDiscoveryBackend.open(directory, this.options.kind ?? 'fuse', Date.now(), {
      identity: this.identity,
      snapshots: (kind, epoch) => this.#snapshotOf(directory, kind, epoch),
    });
    await this.#served();
  }

  async #refreshBackend(): Promise<void> {
    if (this.#backend === undefined || this.#backend.directory !== this.#directory) return this.#openBackend();
    const before = this.#backend.current();
    await this.#backend.refresh();
    const after = this.#backend.current();
    if (after.epoch !== before.epoch || after.snapshot.version !== before.snapshot.version) await this.#served();
    else {
      this.work.refreshes++;
      // The served version stored again (its first store had failed): the followers may load it now.
      if (this.#leader && (await this.#stored())) await this.#notify(`view:${after.epoch}:${after.snapshot.version}`);
    }
  }

  /** Reports the view now served; the leader tells the followers to load it. */
  async #served(): Promise<void> {
    this.work.refreshes++;
    const view = this.backend.current();
    const served = { epoch: view.epoch, version: view.snapshot.version, digest: hex(view.snapshot.digest), count: view.snapshot.count };
    this.#trace?.('serving', { version: served.version, count: served.count, bytes: view.snapshot.bytes.length });
    this.options.log?.(`node ${this.options.node}: serving epoch ${served.epoch} version ${served.version} digest ${served.digest} (${served.count} entries)`);
    this.options.onServing?.(served);
    if (this.#leader) {
      await this.#stored();
      await this.#notify(`view:${served.epoch}:${served.version}`);
      this.#trace?.('view notified', { version: served.version });
    }
  }

  /** Waits for the leader's pending store of a snapshot (if any); true if there was one. */
  async #stored(): Promise<boolean> {
    const storing = this.#storing;
    if (storing === undefined) return false;
    this.#storing = undefined;
    await storing;
    return true;
  }

  /**
   * Where the backend's snapshots come from. The current epoch: built by the leader at the
   * newest version (#build), loaded by a follower (#load). A previous epoch in its grace
   * period: the snapshot stored at its switch (Directory.snapshot, frozen: nothing to build).
   */
  #snapshotOf(directory: Directory, kind: EncodingKind, epoch?: number): Promise<DirectorySnapshot> {
    if (epoch !== undefined && epoch !== directory.currentEpoch) return directory.snapshot(kind, epoch);
    return this.#leader ? this.#build(directory, kind) : this.#load(directory, kind);
  }

  /**
   * The leader's build: tags of the changed users brought up to date, then the snapshot of
   * the tags complete at exactly that version, stored for the followers. A change landing
   * meanwhile sends it round again; past BUILD_ATTEMPTS, or for more changes than an
   * incremental pass takes, the Directory's own full path (which also stores what it builds).
   */
  async #build(directory: Directory, kind: EncodingKind): Promise<DirectorySnapshot> {
    const { store } = this.options;
    const epoch = directory.currentEpoch;
    const secretKey = directory.epochKeyPair(epoch).secretKey;
    for (let attempt = 0; attempt < BUILD_ATTEMPTS; attempt++) {
      this.#trace?.('build');
      let pass = await this.#incremental(epoch, secretKey);
      if (pass === undefined) {
        // Many tags missing (a large import): evaluated by every node, in claimed ranges.
        await this.#notify(`fill:${epoch}`);
        await this.#fillEpoch(epoch, secretKey);
        pass = await this.#incremental(epoch, secretKey);
        if (pass === undefined) break;
      }
      if (!pass.complete) continue;
      const stored = await store.getSnapshot(epoch, pass.version, kind);
      // Built before (by this node, a CLI import, or the leader before): reused if intact.
      if (stored !== undefined && digestOf(stored.bytes) === stored.digest) {
        void this.#tags.prefetch(epoch, pass.version).then((set) => {
          if (set !== undefined) this.options.log?.(`node ${this.options.node}: holds the tag set of epoch ${epoch} version ${set.version} (${set.count} tags)`);
        });
        return stored;
      }
      this.#trace?.('stored snapshot looked up', { version: pass.version });
      const set = await this.#tags.at(epoch, pass.version);
      if (set === undefined) continue;
      // The moved set's count against the table (leader-tag-set.ts), counted by PostgreSQL
      // while this process encodes: not waited for, and done before the followers read.
      void this.#tags.verify().then(
        (ok) => ok || this.options.log?.(`node ${this.options.node}: the tag log disagrees with the tags of epoch ${epoch} at version ${pass.version}; the next change reads the tag set whole`),
        () => {},
      );
      this.#trace?.('tag set at version', { version: pass.version, count: set.count });
      const bytes = encodeSnapshot(kind, set.packed, set.tagLength);
      this.#trace?.('encoded', { version: pass.version, bytes: bytes.length });
      const record = { epoch, version: pass.version, kind, count: set.count, digest: digestOf(bytes), bytes };
      this.#trace?.('digest', { version: pass.version });
      // Stored while the backend signs its announcement (neither needs the other: the
      // announcement names the digest, not the row); the followers may read it ahead once
      // stored, and switch to it only once it is announced too (#served, `view:`).
      const storing = store.putSnapshot(record).then(async () => {
        this.#trace?.('snapshot stored', { version: record.version, bytes: bytes.length });
        await this.#notify(`snapshot:${epoch}:${record.version}`);
      });
      storing.catch(() => {}); // awaited, and its failure reported, by #served
      this.#storing = storing;
      this.work.built++;
      return record;
    }
    this.work.built++;
    return directory.snapshot(kind);
  }

  async #incremental(epoch: number, secretKey: Uint8Array): Promise<IncrementalPass | undefined> {
    const { store, suite, evaluator, rangeSize } = this.options;
    const pass = await incrementalPass({ store, suite, secretKey, epoch, evaluator, maxMissing: rangeSize ?? DEFAULT_PRECOMPUTE_BATCH, trace: this.#trace });
    if (pass !== undefined) this.work.incremental += pass.computed;
    return pass;
  }

  /**
   * A follower's view of the current epoch: the newest snapshot the leader stored, checked
   * against its digest, once its announcement is in the log; until then the view it serves
   * stays. A node with nothing served yet takes what is stored (its announcement, if missing,
   * is the same bytes the leader would sign), or builds it if nothing ever was.
   */
  async #load(directory: Directory, kind: EncodingKind): Promise<DirectorySnapshot> {
    const { store } = this.options;
    const epoch = directory.currentEpoch;
    const view = this.#backend?.directory === directory ? this.#backend.current() : undefined;
    const served = view?.epoch === epoch ? snapshotOfView(view) : undefined;
    this.#trace?.('load');
    // Read ahead when the leader stored it (while it signed), if it is the newest heard of:
    // else (a change landed since, or nothing was read ahead) the newest stored, read now.
    const ahead = this.#prefetched;
    const heard = this.#heard?.epoch === epoch ? this.#heard.version : -1;
    let stored = ahead?.epoch === epoch && ahead.version >= heard ? await ahead.read.catch(() => undefined) : undefined;
    // Still the stored row (a leader that took over may have stored that version again): else read it now.
    if (stored !== undefined && (await this.#storedDigest(epoch, kind, stored.version)) !== stored.digest) stored = undefined;
    if (stored === undefined) {
      stored = await store.newestSnapshot(epoch, kind);
      this.#trace?.('snapshot read', { version: stored?.version, bytes: stored?.bytes.length });
      if (stored === undefined) {
        if (served !== undefined) return served;
        this.work.built++;
        return directory.snapshot(kind);
      }
      if (served !== undefined && served.version >= stored.version) return served;
      checkDigest(stored);
    } else this.#trace?.('read ahead taken', { version: stored.version, bytes: stored.bytes.length });
    if (served !== undefined && served.version >= stored.version) return served;
    this.#trace?.('digest checked', { version: stored.version });
    if (served !== undefined && (await store.findLogEntry('announcement', epoch, stored.version)) === undefined) {
      // Not announced (yet): read again when it is, not kept (what is stored at that version may change until then).
      if (this.#prefetched === ahead) this.#prefetched = undefined;
      return served;
    }
    this.#trace?.('announcement found', { version: stored.version });
    if (this.#prefetched === ahead) this.#prefetched = undefined;
    this.work.loaded++;
    return stored;
  }

  async #storedDigest(epoch: number, kind: EncodingKind, version: number): Promise<string | undefined> {
    const row = await this.options.store.pool.query<{ digest: string }>('SELECT digest FROM snapshots WHERE epoch = $1 AND kind = $2 AND version = $3', [epoch, kind, version]);
    return row.rows[0]?.digest;
  }

  /** A follower reads a snapshot the leader stored, and checks it, before its announcement arrives. */
  #readAhead(epoch: number, version: number): void {
    const served = this.#backend?.current();
    if (this.#leader || served === undefined || served.epoch !== epoch || served.snapshot.version >= version) return;
    if (this.#prefetched !== undefined && this.#prefetched.epoch === epoch && this.#prefetched.version >= version) return;
    const read = this.options.store.getSnapshot(epoch, version, this.options.kind ?? 'fuse').then((stored) => {
      if (stored !== undefined) checkDigest(stored);
      this.#trace?.('snapshot read ahead', { version, bytes: stored?.bytes.length });
      return stored;
    });
    // A failed read ahead is read again, and reported, by #load; the next event may read ahead again.
    read.catch(() => {
      if (this.#prefetched?.read === read) this.#prefetched = undefined;
    });
    this.#prefetched = { epoch, version, read };
  }

  #hear(epoch: number, version: number): void {
    if (this.#heard === undefined || this.#heard.epoch !== epoch || this.#heard.version < version) this.#heard = { epoch, version };
  }

  #run<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Coalesces a burst of change notifications into one catch-up after the running one (the leader builds, a follower loads). */
  #onChange(): void {
    if (this.#catchUpPending || this.#closed) return;
    this.#catchUpPending = true;
    void this.#run(async () => {
      this.#catchUpPending = false;
      if (this.#closed) return;
      this.#trace?.('catch-up');
      await this.#refreshBackend();
      this.#trace?.('caught up', { version: this.#backend?.current().snapshot.version });
    }).catch((err: unknown) => this.options.log?.(`node ${this.options.node}: catch-up failed: ${(err as Error).message}`));
  }

  #onFleetEvent(payload: string): void {
    const m = /^(fill|epoch|view|snapshot):(\d+)(?::(\d+))?$/.exec(payload);
    if (m === null || this.#closed) return;
    const epoch = Number(m[2]);
    if (m[1] === 'snapshot' && m[3] !== undefined) {
      // Stored, not yet announced: read and checked now, switched to on its `view:` event.
      this.#trace?.('snapshot heard', { version: Number(m[3]) });
      this.#hear(epoch, Number(m[3]));
      this.#readAhead(epoch, Number(m[3]));
      return;
    }
    if (m[1] === 'view') {
      // The leader built and announced a view: a follower loads it (coalesced like changes).
      const version = Number(m[3]);
      this.#trace?.('view heard', { version });
      this.#hear(epoch, version);
      const served = this.#backend?.current();
      if (!this.#leader && (served === undefined || epoch !== served.epoch || version > served.snapshot.version)) this.#onChange();
      return;
    }
    void this.#run(async () => {
      if (m[1] === 'epoch') {
        if (epoch !== this.#directory.currentEpoch) await this.#reopen();
        return;
      }
      if (this.#leader) return; // the leader fills its own rotation and large changes
      const key = (await this.options.vault.load())?.epochs.find((e) => e.epoch === epoch);
      if (key !== undefined) await this.#fillEpoch(epoch, key.secretKey);
    }).catch((err: unknown) => this.options.log?.(`node ${this.options.node}: ${m[1]} event failed: ${(err as Error).message}`));
  }

  async #watch(): Promise<void> {
    const { store } = this.options;
    const lost = (err: Error) => this.options.log?.(`node ${this.options.node}: change feed lost (${err.message}); the refresh timer covers until restart`);
    // Directory changes: the leader builds on them; followers wait for its `view:` event.
    this.#unwatch.push(
      await store.watchChanges((version) => {
        if (!this.#leader) return;
        this.#trace?.('change heard', { version });
        this.#onChange();
      }, lost),
    );
    const client = await store.pool.connect();
    const onNotification = (message: { channel: string; payload?: string }) => {
      if (message.channel === FLEET_CHANNEL && message.payload !== undefined) this.#onFleetEvent(message.payload);
    };
    client.on('notification', onNotification);
    client.on('error', lost);
    await client.query(`LISTEN ${FLEET_CHANNEL}`);
    this.#unwatch.push(async () => {
      client.off('notification', onNotification);
      client.release(true);
    });
  }

  async #notify(payload: string): Promise<void> {
    await this.options.store.pool.query('SELECT pg_notify($1, $2)', [FLEET_CHANNEL, payload]);
  }

  /**
   * Takes the leader lock if free; otherwise waits for it on a connection of its own (no
   * statement timeout), so the next node leads as soon as the leader's session ends, and
   * then builds the newest version (changes may have landed while nobody led).
   */
  async #campaign(): Promise<void> {
    const client = await this.options.store.pool.connect();
    client.on('error', () => {
      if (this.#leader) this.options.log?.(`node ${this.options.node}: lost the leader lock's connection`);
      this.#leader = false;
    });
    this.#leaderClient = client;
    await client.query('SET statement_timeout = 0');
    const got = (await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [LEADER_LOCK])).rows[0]!.ok;
    const lead = () => {
      if (this.#closed) return;
      this.#leader = true;
      this.options.log?.(`node ${this.options.node}: leads the fleet`);
    };
    if (got) return lead();
    this.options.log?.(`node ${this.options.node}: follows the leader`);
    client.query('SELECT pg_advisory_lock($1)', [LEADER_LOCK]).then(() => {
      lead();
      this.#onChange();
    }, () => {});
  }
}

/** A served view's snapshot, as the Directory hands snapshots out. */
function snapshotOfView(view: { epoch: number; snapshot: { version: number; encoding: EncodingKind; count: number; digest: Uint8Array; bytes: Uint8Array } }): DirectorySnapshot {
  const s = view.snapshot;
  return { epoch: view.epoch, version: s.version, kind: s.encoding, count: s.count, digest: hex(s.digest), bytes: s.bytes };
}

/** `store_corrupt` unless the bytes are the ones the leader stored (their SHA-256 is the stored digest). */
function checkDigest(stored: SnapshotRecord): void {
  if (digestOf(stored.bytes) !== stored.digest) {
    throw new ContactPsiError('store_corrupt', `the stored snapshot of epoch ${stored.epoch} version ${stored.version} does not match its digest`);
  }
}
