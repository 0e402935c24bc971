/**
 * Issue 11 §4, a directory change reaching every node of a fleet: the leader builds the
 * changed view once (incremental pass over the changed users, its copy of the tag set moved
 * by the tag log) and stores it; the followers load the stored bytes, checked against their
 * digest, once the announcement is in the log. Against a real PostgreSQL (embedded, or
 * CONTACT_PSI_PG_URL), with three in-process nodes, each on its own pool. Every wait is on a
 * node's "serving" event, never a timer; how long propagation takes is measured in
 * `bench -- fleet`, not here.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { syncAddressBook } from '../src/client/sync.js';
import { serveDirectory, type RunningServer } from '../src/cli/commands/serve.js';
import { demoAddressBook } from '../src/cli/demo-data.js';
import { parseAddressBook } from '../src/contacts/index.js';
import { generateDirectory } from '../src/directory/generate.js';
import { createKekFile, loadKek } from '../src/directory/kek.js';
import { FLEET_CHANNEL, FleetNode, type FleetTraceEvent } from '../src/directory/postgres/fleet-node.js';
import { PostgresKeyVault } from '../src/directory/postgres/key-vault.js';
import { applyPrefixDelta, netPrefixes } from '../src/directory/postgres/leader-tag-set.js';
import { parseBinaryCopyRow } from '../src/directory/postgres/snapshot-read.js';
import { PostgresStore, type TagLogPrefix } from '../src/directory/postgres/store.js';
import { encodeSnapshot, snapshotDigest } from '../src/directory/snapshot.js';
import type { DirectoryUser } from '../src/directory/types.js';
import { voprfSuite } from './helpers/discovery.js';
import { freshDatabase, stopPostgres } from './helpers/postgres.js';
import { seededRng } from './helpers/rng.js';

const suite = voprfSuite();
const work = mkdtempSync(join(tmpdir(), 'contact-psi-fleet-propagation-'));
const kekFile = join(work, 'kek');
createKekFile(kekFile);
const kek = loadKek({ file: kekFile });
const users = generateDirectory(240, seededRng(911));

interface View {
  epoch: number;
  version: number;
  digest: string;
  count: number;
}

/** What a follower must never do: build tags or snapshots (spied on its own store). */
const BUILDING = ['readTagSet', 'readTagSetAt', 'putSnapshot', 'putTags', 'pruneTags', 'putSealedLabels', 'completeTags'] as const;

/** An in-process node: its store, its served views in order, and the store calls that would mean it built something. */
class TestNode {
  readonly views: View[] = [];
  readonly lines: string[] = [];
  /** The node's trace (FleetNodeOptions.trace): what it did with each change, in order. */
  readonly traces: FleetTraceEvent[] = [];
  #traceWaiters: { test: (e: FleetTraceEvent) => boolean; resolve: () => void }[] = [];
  readonly building = new Map<string, number>();
  #waiters: { test: (v: View) => boolean; resolve: (v: View) => void }[] = [];
  #lineWaiters: { pattern: RegExp; resolve: () => void }[] = [];
  node!: FleetNode;
  store!: PostgresStore;

  constructor(readonly name: string) {}

  async start(db: string): Promise<this> {
    this.store = await PostgresStore.open(db);
    for (const method of BUILDING) {
      const spy = vi.spyOn(this.store, method);
      spy.mockImplementation(((...args: unknown[]) => {
        this.building.set(method, (this.building.get(method) ?? 0) + 1);
        return (PostgresStore.prototype[method] as (...a: unknown[]) => unknown).apply(this.store, args);
      }) as never);
    }
    try {
      this.node = await FleetNode.start({
        store: this.store,
        vault: new PostgresKeyVault(this.store.pool, kek),
        suite,
        node: this.name,
        rangeSize: 64,
        log: (line) => this.#line(line),
        onServing: (v) => this.#served(v),
        trace: (e) => this.#traced(e),
      });
    } catch (err) {
      await this.store.close();
      throw err;
    }
    return this;
  }

  #traced(e: FleetTraceEvent): void {
    this.traces.push(e);
    for (const w of [...this.#traceWaiters]) {
      if (w.test(e)) {
        this.#traceWaiters.splice(this.#traceWaiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  /** Resolves when the node traces (from now on) a step `stage` at `version`. */
  traced(stage: string, version?: number): Promise<void> {
    return new Promise((resolve) => this.#traceWaiters.push({ test: (e) => e.stage === stage && (version === undefined || e.version === version), resolve }));
  }

  #line(line: string): void {
    this.lines.push(line);
    for (const w of [...this.#lineWaiters]) {
      if (w.pattern.test(line)) {
        this.#lineWaiters.splice(this.#lineWaiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  /** Resolves when the node has logged (or logs) a line matching `pattern`. */
  logged(pattern: RegExp): Promise<void> {
    return this.lines.some((l) => pattern.test(l)) ? Promise.resolve() : new Promise((resolve) => this.#lineWaiters.push({ pattern, resolve }));
  }

  #served(v: View): void {
    this.views.push(v);
    for (const w of [...this.#waiters]) {
      if (w.test(v)) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(v);
      }
    }
  }

  /** Resolves with the first served view (already served, or to come) at `version` or later. */
  serving(version: number): Promise<View> {
    const test = (v: View) => v.version >= version;
    const seen = this.views.find(test);
    return seen ? Promise.resolve(seen) : new Promise((resolve) => this.#waiters.push({ test, resolve }));
  }

  builds(): number {
    return [...this.building.values()].reduce((a, b) => a + b, 0);
  }

  async stop(): Promise<void> {
    await this.node?.close();
    await this.store?.close();
  }
}

let db = '';
let admin: pg.Pool;
let writer: PostgresStore;
const nodes: TestNode[] = [];
const servers: RunningServer[] = [];

const leader = () => nodes.find((n) => n.node.isLeader)!;
const followers = () => nodes.filter((n) => !n.node.isLeader);
const epochOf = async () => Number(await writer.getMeta('epoch'));

/** The snapshot digest of the tags as the table holds them now (a full read, as a fresh build would). */
async function digestFromScratch(): Promise<string> {
  const set = await writer.readTagSet(await epochOf(), 16);
  expect(set.missing + set.stale + set.unsealed).toBe(0);
  return snapshotDigest(encodeSnapshot('fuse', set.packed, set.tagLength));
}

/** Every node serves `version` (or later); their views are identical. */
async function allServe(version: number, among: readonly TestNode[] = nodes): Promise<View> {
  const views = await Promise.all(among.map((n) => n.serving(version)));
  for (const n of among) {
    const current = n.node.backend.current();
    expect({ version: current.snapshot.version, digest: Buffer.from(current.snapshot.digest).toString('hex') }).toEqual({ version: views[0]!.version, digest: views[0]!.digest });
    // What is served is what the digest names: never half-applied bytes.
    expect(snapshotDigest(current.snapshot.bytes)).toBe(views[0]!.digest);
  }
  expect(new Set(views.map((v) => JSON.stringify(v))).size).toBe(1);
  return views[0]!;
}

/** A user of its own (an e-mail address no generated user has), so concurrent writers never claim one identifier twice. */
const newUser = (tag: string, i: number): DirectoryUser => ({
  userId: `p-${tag}-${i}`,
  identifiers: [`mailto:p-${tag}-${i}@example.org`],
  label: new TextEncoder().encode(`label ${tag} ${i}`),
  discoverable: true,
});

beforeAll(async () => {
  db = await freshDatabase();
  admin = new pg.Pool({ connectionString: db, max: 2 });
  admin.on('error', () => {}); // an idle client ended by the server (nodes stopped, database dropped) is not a test failure
  writer = await PostgresStore.open(db, { maxConnections: 3 });
  await writer.upsertUsers(users.slice(0, 200));
  // The first node leads and builds the first view; the others load it.
  for (const name of ['a', 'b', 'c']) nodes.push(await new TestNode(name).start(db));
  for (const n of nodes.slice(0, 2)) servers.push(await serveDirectory(n.node.directory, { host: '127.0.0.1', port: 0, backendOf: () => n.node.backend }));
}, 300_000);

afterAll(async () => {
  for (const n of nodes) await n.stop().catch(() => {});
  for (const s of servers) await s.close().catch(() => {});
  await writer?.close();
  await admin?.end();
  await stopPostgres();
  rmSync(work, { recursive: true, force: true });
}, 120_000);

describe('a stored snapshot read by binary COPY', () => {
  /** One tuple of `COPY ... (FORMAT binary)`, as PostgreSQL writes it, then its trailer. */
  const binaryCopy = (fields: (Uint8Array | null)[], extension = 0): Buffer => {
    const parts: Buffer[] = [Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(4), Buffer.alloc(4), Buffer.alloc(extension)];
    parts[2]!.writeUInt32BE(extension);
    const count = Buffer.alloc(2);
    count.writeInt16BE(fields.length);
    parts.push(count);
    for (const f of fields) {
      const length = Buffer.alloc(4);
      length.writeInt32BE(f === null ? -1 : f.length);
      parts.push(length);
      if (f !== null) parts.push(Buffer.from(f));
    }
    parts.push(Buffer.from([0xff, 0xff]));
    return Buffer.concat(parts);
  };
  const fieldsArb = fc.array(fc.option(fc.uint8Array({ maxLength: 300 }), { nil: null }), { maxLength: 6 });

  it('parses any row PostgreSQL writes, and refuses any truncation of it as store_corrupt', () => {
    fc.assert(
      fc.property(fieldsArb, fc.nat({ max: 8 }), fc.nat(), (fields, extension, cut) => {
        const data = binaryCopy(fields, extension);
        expect(parseBinaryCopyRow(data)?.map((f) => (f === null ? null : [...f]))).toEqual(fields.map((f) => (f === null ? null : [...f])));
        const header = 19 + extension;
        const fieldsEnd = data.length - 2; // the trailer is not read: a row is one tuple
        const at = header + (cut % Math.max(1, fieldsEnd - header));
        if (at < fieldsEnd && fields.length > 0) expect(() => parseBinaryCopyRow(data.subarray(0, at))).toThrow(expect.objectContaining({ code: 'store_corrupt' }));
      }),
    );
    expect(parseBinaryCopyRow(Buffer.concat([binaryCopy([]).subarray(0, 19), Buffer.from([0xff, 0xff])]))).toBeUndefined();
    expect(() => parseBinaryCopyRow(Buffer.from('not a copy stream at all'))).toThrow(expect.objectContaining({ code: 'store_corrupt' }));
  });

  it('a snapshot stored and read back is the same record, at its version only (bytes of any length, versions past 2^32)', async () => {
    const epochs: number[] = [];
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 70_000 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER - 1 }), fc.nat(), async (bytes, version, count) => {
        const epoch = 70_000 + epochs.length;
        epochs.push(epoch);
        const record = { epoch, version, kind: 'fuse' as const, count, digest: snapshotDigest(bytes), bytes };
        await writer.putSnapshot(record);
        const read = await writer.getSnapshot(epoch, version, 'fuse');
        expect({ ...read!, bytes: [...read!.bytes] }).toEqual({ ...record, bytes: [...bytes] });
        expect(await writer.getSnapshot(epoch, version + 1, 'fuse')).toBeUndefined();
        expect((await writer.newestSnapshot(epoch, 'fuse'))?.version).toBe(version);
        expect(await writer.newestSnapshot(epoch, 'gcs')).toBeUndefined();
      }),
      { numRuns: 25, examples: [[new Uint8Array(0), 0, 0], [new Uint8Array(70_000).fill(255), 2 ** 40, 2 ** 33]] },
    );
    await admin.query('DELETE FROM snapshots WHERE epoch = ANY($1::bigint[])', [epochs]);
  }, 300_000);
});

describe('the leader\'s copy of the tag set, moved by the log', () => {
  const prefixArb = fc.integer({ min: 0, max: 40 }).map((k) => Uint8Array.from({ length: 16 }, (_, i) => (i === 0 ? k * 6 : i === 15 ? k : 0)));
  const caseArb = fc.record({
    start: fc.uniqueArray(prefixArb, { selector: (p) => p[0], maxLength: 25 }),
    steps: fc.array(prefixArb, { maxLength: 40 }),
  });

  it('applying the net log of any sequence of additions and removals gives the set the sequence ends with', () => {
    // Each step toggles a prefix (the store logs only real changes, so a tag's rows alternate).
    const samples = fc.sample(caseArb, { numRuns: 300, seed: 4 });
    expect(samples.some((c) => c.start.length === 0)).toBe(true);
    expect(samples.some((c) => new Set(c.steps.map((p) => p[0])).size < c.steps.length)).toBe(true); // a prefix toggled twice
    fc.assert(
      fc.property(caseArb, ({ start, steps }) => {
        const present = new Map(start.map((p) => [p[0]!, p]));
        const rows: TagLogPrefix[] = [];
        for (const p of steps) {
          const there = present.has(p[0]!);
          rows.push({ prefix: p, op: there ? 'removed' : 'added' });
          if (there) present.delete(p[0]!);
          else present.set(p[0]!, p);
        }
        const pack = (list: Uint8Array[]) => Buffer.concat([...list].sort(Buffer.compare));
        const { added, removed } = netPrefixes(rows, 16);
        const moved = applyPrefixDelta(pack(start), 16, added, removed);
        expect(moved && Buffer.from(moved).toString('hex')).toBe(pack([...present.values()]).toString('hex'));
      }),
    );
  });

  it('a log that disagrees with the copy is refused (the leader then reads the set whole)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(prefixArb, { selector: (p) => p[0], minLength: 1, maxLength: 20 }), fc.nat(), (set, pick) => {
        const sorted = [...set].sort(Buffer.compare);
        const packed = Buffer.concat(sorted);
        const member = sorted[pick % sorted.length]!;
        const absent = Uint8Array.from(member, (b, i) => (i === 15 ? b ^ 0x80 : b));
        expect(applyPrefixDelta(packed, 16, member, new Uint8Array(0))).toBeUndefined(); // added, already there
        expect(applyPrefixDelta(packed, 16, new Uint8Array(0), absent)).toBeUndefined(); // removed, not there
      }),
    );
  });
});

describe('a fleet of three nodes on one PostgreSQL', () => {
  it('a change reaches every node: the leader built it once, the followers loaded it, a sync against one with another as witness succeeds', async () => {
    expect(nodes[0]!.node.isLeader).toBe(true);
    const first = await allServe(await writer.version());
    const before = followers().map((n) => n.builds());
    const { version } = await writer.upsertUsers(users.slice(200, 240));
    await writer.removeUser(users[0]!.userId);
    const removed = await writer.version();
    expect(removed).toBe(version + 1);
    const view = await allServe(removed);
    expect(view.version).toBe(removed);
    expect(view.count).toBeGreaterThan(first.count);
    expect(view.digest).toBe(await digestFromScratch());
    // Followers computed nothing: no tag, no snapshot, no completion of theirs.
    expect(followers().map((n) => n.builds())).toEqual(before);
    expect(followers().every((n) => n.node.work.loaded > 0 && n.node.work.built === 0)).toBe(true);
    expect(leader().node.work.built).toBeGreaterThan(0);

    const planted = demoAddressBook(users.slice(1, 240), 120, seededRng(12));
    const book = parseAddressBook(planted.vcard, { defaultRegion: 'CH' });
    const outcome = await syncAddressBook({ server: servers[1]!.server.url, witnesses: [servers[0]!.server.url], book, cacheDir: join(work, 'sync') });
    const found = new Set(outcome.matches.map((m) => m.identifier));
    expect([...planted.expected].every((id) => found.has(id))).toBe(true);
    expect([...planted.hidden].some((id) => found.has(id))).toBe(false);
  }, 300_000);

  it('changes from two nodes at once: every node ends on the newest version, one digest per version, never going back, followers building nothing', async () => {
    const opArb = fc.oneof(
      fc.record({ t: fc.constant('add' as const), n: fc.integer({ min: 1, max: 4 }) }),
      fc.record({ t: fc.constant('remove' as const), pick: fc.nat() }),
      fc.record({ t: fc.constant('hide' as const), pick: fc.nat() }),
      fc.record({ t: fc.constant('relabel' as const), pick: fc.nat() }),
    );
    const caseArb = fc.record({ a: fc.array(opArb, { minLength: 1, maxLength: 4 }), b: fc.array(opArb, { minLength: 1, maxLength: 4 }) });
    const kinds = new Set(fc.sample(caseArb, { numRuns: 100, seed: 8 }).flatMap((c) => [...c.a, ...c.b].map((o) => o.t)));
    expect(kinds).toEqual(new Set(['add', 'remove', 'hide', 'relabel']));
    let run = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ a, b }) => {
        run++;
        const built = followers().map((n) => n.builds());
        const apply = async (by: TestNode, ops: typeof a, side: string) => {
          for (const [i, op] of ops.entries()) {
            const tag = `r${run}${side}${i}`;
            if (op.t === 'add') {
              await by.node.directory.importUsers(Array.from({ length: op.n }, (_, k) => newUser(tag, k)));
              continue;
            }
            const existing = (await admin.query<{ user_id: string }>('SELECT user_id FROM users ORDER BY user_id')).rows.map((r) => r.user_id);
            const userId = existing[op.pick % existing.length]!;
            if (op.t === 'remove') {
              await by.node.directory.removeUser(userId);
              continue;
            }
            const user = await by.node.directory.getUser(userId);
            if (user === undefined) continue; // removed by the other side meanwhile
            const changed = op.t === 'hide' ? { ...user, discoverable: !user.discoverable } : { ...user, label: new TextEncoder().encode(`relabeled ${tag}`) };
            await by.node.directory.importUsers([changed]);
          }
        };
        // Two nodes (one may be the leader) write at once; the change feed wakes the leader for each.
        await Promise.all([apply(nodes[1]!, a, 'a'), apply(nodes[2]!, b, 'b')]);
        const final = await writer.version();
        const view = await allServe(final);
        expect(view.version).toBe(final);
        expect(view.digest).toBe(await digestFromScratch());
        expect(followers().map((n) => n.builds())).toEqual(built);
      }),
      { numRuns: 4 },
    );
    // One digest per (epoch, version) across every node, and no node ever went back.
    const digests = new Map<string, string>();
    for (const n of nodes) {
      for (const [i, v] of n.views.entries()) {
        const key = `${v.epoch}:${v.version}`;
        expect(digests.get(key) ?? v.digest).toBe(v.digest);
        digests.set(key, v.digest);
        if (i > 0) expect(v.version).toBeGreaterThanOrEqual(n.views[i - 1]!.version);
      }
    }
    // The incremental passes left exactly what a full pass would: nothing missing, stale or unsealed.
    const epoch = await epochOf();
    expect(await writer.countMissingTags(epoch)).toBe(0);
    expect(await writer.unsealedTags(epoch, undefined, 10)).toEqual([]);
    const stale = await admin.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM tags t WHERE t.epoch = $1 AND NOT EXISTS (SELECT 1 FROM identifiers i JOIN users u ON u.user_id = i.user_id
       WHERE i.identifier = t.identifier AND i.user_id = t.user_id AND u.discoverable)`,
      [epoch],
    );
    expect(stale.rows[0]!.n).toBe(0);
  }, 600_000);

  it('a node down during several changes comes back on the newest version (not one it missed), building nothing; bytes that do not match their digest are never served', async () => {
    const down = nodes[2]!;
    expect(down.node.isLeader).toBe(false);
    await down.stop();
    const up = nodes.slice(0, 2);
    const missed: number[] = [];
    for (let i = 0; i < 3; i++) {
      const { version } = await writer.upsertUsers([newUser(`down${i}`, 0)]);
      missed.push(version);
      await allServe(version, up);
    }
    const newest = missed[missed.length - 1]!;
    // The stored snapshot tampered with: a node starting now refuses it rather than serve it.
    const epoch = await epochOf();
    await admin.query("UPDATE snapshots SET bytes = set_byte(bytes, 39, (get_byte(bytes, 39) + 1) % 256) WHERE epoch = $1 AND kind = 'fuse'", [epoch]);
    const tampered = new TestNode('c-tampered');
    await expect(tampered.start(db)).rejects.toMatchObject({ code: 'store_corrupt' });
    await tampered.stop();
    // Restored (the leader's bytes, as it still serves them): the node starts on the newest version.
    await admin.query("UPDATE snapshots SET bytes = $2 WHERE epoch = $1 AND kind = 'fuse'", [epoch, Buffer.from(leader().node.backend.current().snapshot.bytes)]);
    const back = await new TestNode('c').start(db);
    nodes[2] = back;
    expect(back.views[0]!.version).toBe(newest);
    expect(back.views.some((v) => missed.slice(0, -1).includes(v.version))).toBe(false);
    expect(back.builds()).toBe(0);
    expect(back.node.work).toMatchObject({ built: 0, computed: 0, ranges: 0 });
    await allServe(newest);
  }, 300_000);

  it('a follower reads a stored snapshot ahead of its announcement but switches to it only once it is announced; bytes read ahead that do not match their digest are never served', async () => {
    const epoch = await epochOf();
    const view = await allServe(await writer.version());
    const f = followers()[0]!;
    const loaded = f.node.work.loaded;
    const ahead = view.version + 1;
    // A row at a version nobody announced (the leader's bytes, their digest right), and the
    // leader's two events for it: the follower reads it ahead, finds no announcement, stays.
    await admin.query("UPDATE snapshots SET version = $2 WHERE epoch = $1 AND kind = 'fuse'", [epoch, ahead]);
    const caughtUp = f.traced('caught up');
    const readAhead = f.traced('snapshot read ahead', ahead);
    await admin.query('SELECT pg_notify($1, $2)', [FLEET_CHANNEL, `snapshot:${epoch}:${ahead}`]);
    await readAhead;
    await admin.query('SELECT pg_notify($1, $2)', [FLEET_CHANNEL, `view:${epoch}:${ahead}`]);
    await caughtUp;
    expect(f.node.backend.current().snapshot.version).toBe(view.version);
    expect(f.node.work.loaded).toBe(loaded);
    // The same row tampered with: read ahead, refused (store_corrupt), read again, refused again; never served.
    await admin.query("UPDATE snapshots SET bytes = set_byte(bytes, 39, (get_byte(bytes, 39) + 1) % 256) WHERE epoch = $1 AND kind = 'fuse'", [epoch]);
    const refused = f.logged(/catch-up failed: the stored snapshot of epoch \d+ version \d+ does not match its digest/);
    await admin.query('SELECT pg_notify($1, $2)', [FLEET_CHANNEL, `snapshot:${epoch}:${ahead}`]);
    await admin.query('SELECT pg_notify($1, $2)', [FLEET_CHANNEL, `view:${epoch}:${ahead}`]);
    await refused;
    expect(f.node.backend.current().snapshot.version).toBe(view.version);
    expect(f.views.at(-1)!.version).toBe(view.version);
    // Restored: the next real change (the same version number, other bytes) is read ahead again and served by all.
    await admin.query("UPDATE snapshots SET version = $2, bytes = $3 WHERE epoch = $1 AND kind = 'fuse'", [epoch, view.version, Buffer.from(leader().node.backend.current().snapshot.bytes)]);
    const aheadAgain = f.traced('snapshot read ahead');
    const { version } = await writer.upsertUsers([newUser('ahead', 0)]);
    const next = await allServe(version);
    await aheadAgain;
    expect(next.digest).toBe(await digestFromScratch());
    expect(f.node.work.loaded).toBe(loaded + 1);
    expect(f.builds()).toBe(0);
  }, 300_000);

  it('a tag removed behind the log\'s back: the leader\'s moved copy is checked against the table after the view is out, dropped, and the next change reads the set whole', async () => {
    const epoch = await epochOf();
    const l = leader();
    const victim = newUser('behind', 0);
    await writer.upsertUsers([victim]);
    await allServe(await writer.version());
    // Deleted without a tag-log row: the leader's copy still holds the tag, the table does not.
    await admin.query('DELETE FROM tags WHERE epoch = $1 AND user_id = $2', [epoch, victim.userId]);
    const disagrees = l.logged(/the tag log disagrees with the tags of epoch/);
    const moved = await writer.upsertUsers([newUser('behind', 1)]);
    await allServe(moved.version);
    await disagrees;
    // The victim changed: its tag is evaluated and logged again; the leader, its copy dropped, reads the set whole.
    const readWhole = l.traced('tag set read whole');
    const healed = await writer.upsertUsers([{ ...victim, label: new TextEncoder().encode('label behind 0, again') }]);
    const view = await allServe(healed.version);
    await readWhole;
    expect(view.digest).toBe(await digestFromScratch());
  }, 300_000);

  it('the leader goes away: another node leads and builds the next change, which every remaining node serves', async () => {
    const old = leader();
    await old.stop();
    const rest = nodes.filter((n) => n !== old);
    // The lock passes when the old leader's session ends; the next node says so.
    await Promise.race(rest.map((n) => n.logged(/leads the fleet/)));
    const { version } = await writer.upsertUsers([newUser('after-leader', 0)]);
    const view = await allServe(version, rest);
    expect(view.digest).toBe(await digestFromScratch());
    expect(rest.filter((n) => n.node.isLeader)).toHaveLength(1);
    nodes.splice(nodes.indexOf(old), 1);
  }, 300_000);
});
