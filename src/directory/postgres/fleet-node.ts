/**
 * One node of a fleet: a Directory on the shared PostgreSQL store, kept in step with every
 * other node (spec/directory.md "PostgreSQL store").
 *
 * - Following: every committed directory change is announced by NOTIFY (store.watchChanges);
 *   the node joins the fill of the missing tags (shared-fill.ts: claimed ranges), then
 *   refreshes its served snapshot. Snapshots are a pure function of the tag set, so every
 *   node serves the same (epoch, version, digest) within the time of one fill. A timer
 *   calling `refresh()` is only a fallback for a lost notification.
 * - Leading: one node at a time holds a session-level advisory lock (LEADER_LOCK) on a
 *   connection of its own; it alone rotates epochs and retires expired ones. Others wait on
 *   the same lock, so when the leader dies its connection closes and the next node leads.
 * - Rotating: the leader seals the next key into the vault, announces `fill:<epoch>` on
 *   FLEET_CHANNEL so every node helps evaluate it, switches (Directory.rotateEpoch, which
 *   then finds the tags complete), and announces `epoch:<epoch>`: the followers reload the
 *   keys from the vault and serve the new epoch.
 */
import { randomBytes } from 'node:crypto';
import type { PoolClient } from 'pg';
import { ContactPsiError } from '../../errors.js';
import type { OprfSuite } from '../../oprf/suite.js';
import type { EncodingKind } from '../../setenc/types.js';
import { DirectoryDiscoveryBackend } from '../discovery-backend.js';
import type { IdentityKey } from '../identity-key.js';
import type { TagEvaluator } from '../precompute.js';
import { Directory, type RotationResult } from '../registry.js';
import type { PostgresKeyVault } from './key-vault.js';
import { sharedFill, type SharedFillResult } from './shared-fill.js';
import type { PostgresStore } from './store.js';

/** The NOTIFY channel of fleet events: `fill:<epoch>` (help precompute) and `epoch:<epoch>` (switched). */
export const FLEET_CHANNEL = 'contact_psi_fleet';
/** Session-level advisory lock held by the leader ("lead"). */
export const LEADER_LOCK = 0x6c656164;
/** Epoch switches take it exclusively, directory opens shared: a node opening never writes back an old epoch ("swch"). */
const SWITCH_LOCK = 0x73776368;

export interface FleetNodeOptions {
  readonly store: PostgresStore;
  readonly vault: PostgresKeyVault;
  readonly suite: OprfSuite;
  /** This node's name in logs and in work_items.done_by. */
  readonly node: string;
  readonly evaluator?: TagEvaluator;
  readonly kind?: EncodingKind;
  /** Identifiers per claimed precompute range (default 4096). */
  readonly rangeSize?: number;
  /** Progress lines (no secret, no identifier): served views, fills, leadership. */
  readonly log?: (line: string) => void;
  /** Called after each refresh with the view now served. */
  readonly onServing?: (view: { epoch: number; version: number; digest: string; count: number }) => void;
}

export interface FleetWork {
  /** Precompute ranges this node completed, and the tags it computed in them. */
  ranges: number;
  computed: number;
  refreshes: number;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export class FleetNode {
  readonly work: FleetWork = { ranges: 0, computed: 0, refreshes: 0 };
  #directory: Directory;
  #backend: DirectoryDiscoveryBackend;
  #leader = false;
  #leaderClient: PoolClient | undefined;
  #unwatch: (() => Promise<void>)[] = [];
  /** Catch-ups and fleet events run one at a time; a change arriving meanwhile schedules one more. */
  #queue: Promise<unknown> = Promise.resolve();
  #catchUpPending = false;
  #closed = false;

  private constructor(
    private readonly options: FleetNodeOptions,
    directory: Directory,
    backend: DirectoryDiscoveryBackend,
    private readonly identity: IdentityKey,
  ) {
    this.#directory = directory;
    this.#backend = backend;
  }

  static async start(options: FleetNodeOptions): Promise<FleetNode> {
    const directory = await FleetNode.#open(options);
    // The first fill of a fresh import may be under way on other nodes: join it before serving.
    await FleetNode.#fill(options, directory.currentEpoch, directory.epochKeyPair().secretKey);
    const identity = await options.vault.identityKey();
    const backend = await DirectoryDiscoveryBackend.open(directory, options.kind ?? 'fuse', Date.now(), { identity });
    const node = new FleetNode(options, directory, backend, identity);
    node.#reportServing();
    await node.#watch();
    await node.#campaign();
    return node;
  }

  get directory(): Directory {
    return this.#directory;
  }

  get backend(): DirectoryDiscoveryBackend {
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
      await this.#catchUp();
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

  static async #fill(options: FleetNodeOptions, epoch: number, secretKey: Uint8Array, work?: FleetWork): Promise<SharedFillResult> {
    const result = await sharedFill({
      pool: options.store.pool,
      store: options.store,
      suite: options.suite,
      secretKey,
      epoch,
      node: options.node,
      rangeSize: options.rangeSize,
      evaluator: options.evaluator,
    });
    if (work) {
      work.ranges += result.ranges;
      work.computed += result.computed;
    }
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

  async #openBackend(): Promise<void> {
    this.#backend = await DirectoryDiscoveryBackend.open(this.#directory, this.options.kind ?? 'fuse', Date.now(), { identity: this.identity });
    this.work.refreshes++;
    this.#reportServing();
  }

  async #catchUp(): Promise<void> {
    const epoch = this.#directory.currentEpoch;
    await this.#fillEpoch(epoch, this.#directory.epochKeyPair(epoch).secretKey);
    await this.#refreshBackend();
  }

  async #refreshBackend(): Promise<void> {
    await this.#backend.refresh();
    this.work.refreshes++;
    this.#reportServing();
  }

  #reportServing(): void {
    const view = this.#backend.current();
    const served = { epoch: view.epoch, version: view.snapshot.version, digest: hex(view.snapshot.digest), count: view.snapshot.count };
    this.options.log?.(`node ${this.options.node}: serving epoch ${served.epoch} version ${served.version} digest ${served.digest} (${served.count} entries)`);
    this.options.onServing?.(served);
  }

  #run<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Coalesces a burst of change notifications into one catch-up after the running one. */
  #onChange(): void {
    if (this.#catchUpPending || this.#closed) return;
    this.#catchUpPending = true;
    void this.#run(async () => {
      this.#catchUpPending = false;
      await this.#catchUp();
    }).catch((err: unknown) => this.options.log?.(`node ${this.options.node}: catch-up failed: ${(err as Error).message}`));
  }

  #onFleetEvent(payload: string): void {
    const m = /^(fill|epoch):(\d+)$/.exec(payload);
    if (m === null || this.#closed) return;
    const epoch = Number(m[2]);
    void this.#run(async () => {
      if (m[1] === 'epoch') {
        if (epoch !== this.#directory.currentEpoch) await this.#reopen();
        return;
      }
      if (this.#leader) return; // the leader fills its own rotation
      const key = (await this.options.vault.load())?.epochs.find((e) => e.epoch === epoch);
      if (key !== undefined) await this.#fillEpoch(epoch, key.secretKey);
    }).catch((err: unknown) => this.options.log?.(`node ${this.options.node}: ${m[1]} event failed: ${(err as Error).message}`));
  }

  async #watch(): Promise<void> {
    const { store } = this.options;
    const lost = (err: Error) => this.options.log?.(`node ${this.options.node}: change feed lost (${err.message}); the refresh timer covers until restart`);
    this.#unwatch.push(await store.watchChanges(() => this.#onChange(), lost));
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
   * statement timeout), so the next node leads as soon as the leader's session ends.
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
    client.query('SELECT pg_advisory_lock($1)', [LEADER_LOCK]).then(lead, () => {});
  }
}
