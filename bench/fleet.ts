/**
 * The fleet (issue 11 §5), `serve` processes on one embedded PostgreSQL:
 *
 * 1. Contacts evaluated per second by 1, 2 and 3 nodes, the same concurrent load clients
 *    spread over them round-robin (1,024 pre-blinded contacts per session, as in
 *    `throughput`). CPU-normalised: contacts per second of the nodes' own CPU time (user +
 *    system, from /proc), the figure that scales with machines; wall-clock contacts/s cannot
 *    grow past the cores the nodes share (os.availableParallelism(): 2 where the figures in
 *    bench/results were made).
 * 3. A directory change reaching every node (run last: it changes the directories): users added or removed by a writer outside the
 *    fleet (as `directory import` is), from its commit to the moment every node serves the new
 *    (epoch, version, digest), at 100,000 and 1M users; the nodes' polling fallback is an hour,
 *    so what carries it is the change feed. With the CPU the leader (which builds the view)
 *    and each follower (which loads it) spent per change.
 * 2. Sync latency, PostgreSQL vs SQLite, against 1M users: one `serve` on each store, the
 *    same directory in both (bench/fleet-fixture.ts copies the cached SQLite fixture, so both
 *    serve the same snapshot bytes; the digests are checked), syncs with 1,024 and 10,000
 *    contacts, cold (snapshot downloaded) and cached, alternating the stores run by run so
 *    both see the same load. Importing 1M users into PostgreSQL is the import path's figure,
 *    not measured here.
 *
 * The machine is shared: the load average is recorded with every section.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { syncAddressBook } from '../src/client/sync.js';
import { startEmbeddedPostgres } from '../src/cli/embedded-postgres.js';
import { startNodeProcess, type NodeProcess } from '../src/cli/fleet-process.js';
import { createKekFile, loadKek } from '../src/directory/index.js';
import { PostgresStore } from '../src/directory/postgres/store.js';
import { loadGroup } from '../src/group/index.js';
import { createSuite, Modes } from '../src/oprf/index.js';
import { runClientSession } from '../src/transport/ws/index.js';
import { syntheticBook } from './address-book.js';
import { ensureFixture } from './child-process.js';
import { copySqliteToPostgres, type CopiedFixture } from './fleet-fixture.js';
import { LoadSession } from './load-client.js';
import type { Report, ReportSection, Row } from './report.js';
import { median, round } from './timing.js';

export interface FleetBenchOptions {
  /** Users of the directory the throughput runs on. */
  throughputUsers: number;
  nodes: readonly number[];
  clients: number;
  contactsPerSession: number;
  seconds: number;
  /** Directory sizes the change propagation is measured at. */
  changeUsers: readonly number[];
  /** Changes of each kind measured (after one warm-up change). */
  changeReps: number;
  /** Users of the directory the PostgreSQL vs SQLite syncs run against. */
  syncUsers: number;
  syncContacts: readonly number[];
  syncReps: number;
  smoke: boolean;
}

/** utime + stime of a process in seconds, every thread included (Linux /proc; 0 elsewhere). */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks, USER_HZ = 100 on Linux
  } catch {
    return 0;
  }
}

const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' / ');
const servingLine = (version: number) => new RegExp(`serving epoch \\d+ version ${version} digest ([0-9a-f]{64})`);

interface Store {
  /** The private copy of the SQLite fixture (served by the SQLite side, the source of the PostgreSQL copy). */
  sqlitePath: string;
  url: string;
  copied: CopiedFixture;
}

export async function fleetScenario(o: FleetBenchOptions): Promise<Report> {
  const work = mkdtempSync(join(tmpdir(), 'contact-psi-bench-fleet-'));
  const server = await startEmbeddedPostgres();
  const kekFile = join(work, 'kek');
  createKekFile(kekFile);
  const kek = loadKek({ file: kekFile });
  const data: Record<string, unknown> = { loadAtStart: load() };
  const sections: ReportSection[] = [];
  const notes: string[] = [];
  const stores = new Map<number, Store>();
  const running: NodeProcess[] = [];
  const start = async (name: string, db: string, kekPath: string | undefined = kekFile, args: string[] = ['--refresh-seconds', '3600']) => {
    const node = await startNodeProcess({ name, db, kekFile: kekPath, args });
    running.push(node);
    return node;
  };
  const stop = async (nodes: readonly NodeProcess[]) => {
    for (const n of nodes) {
      await n.stop();
      running.splice(running.indexOf(n), 1);
    }
  };

  /**
   * The directory of `users` users on both stores: the cached SQLite fixture copied here
   * (its identity and announcement log made by one `serve` on it, which also migrates it),
   * then into a PostgreSQL database of its own.
   */
  const storeOf = async (users: number): Promise<Store> => {
    const held = stores.get(users);
    if (held) return held;
    const meta = await ensureFixture(users, o.smoke);
    const sqlitePath = join(work, `directory-${users}.db`);
    // The identity too: the announcement log in the file is signed by it (a new one would be refused).
    for (const ext of ['', '.key', '.identity']) if (ext === '' || existsSync(`${meta.path}${ext}`)) copyFileSync(`${meta.path}${ext}`, `${sqlitePath}${ext}`);
    const sqlite = await start(`sqlite-${users}`, sqlitePath, undefined, []);
    await stop([sqlite]);
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE fleet_${users}`);
    await admin.end();
    const url = new URL(server.url);
    url.pathname = `/fleet_${users}`;
    const copied = await copySqliteToPostgres(sqlitePath, url.toString(), kek);
    console.log(`fleet: ${users.toLocaleString('en-US')} users copied into PostgreSQL in ${(copied.copyMs / 1000).toFixed(1)} s`);
    const store = { sqlitePath, url: url.toString(), copied };
    stores.set(users, store);
    return store;
  };

  try {
    // 1. Throughput with 1, 2, 3 nodes.
    {
      const { url } = await storeOf(o.throughputUsers);
      const suite = createSuite('ristretto255-SHA512', Modes.VOPRF, await loadGroup('ristretto255', 'auto'));
      const { book } = syntheticBook(o.contactsPerSession, o.throughputUsers, 0.25);
      const blinded = suite.blind(book.contacts.map((c) => new TextEncoder().encode(c.identifiers[0]!.identifier)), (n) => new Uint8Array(randomBytes(n))).blinded;
      const rows: Row[] = [];
      for (const count of o.nodes) {
        const nodes: NodeProcess[] = [];
        try {
          for (let i = 1; i <= count; i++) nodes.push(await start(`tp${i}`, url));
          for (const n of nodes) await runClientSession(n.url, new LoadSession(suite.id, blinded)); // warm-up
          const loadBefore = load();
          const cpuBefore = nodes.map((n) => cpuSeconds(n.child.pid!));
          const t0 = performance.now();
          const deadline = t0 + o.seconds * 1000;
          let contacts = 0;
          let failures = 0;
          await Promise.all(
            Array.from({ length: o.clients }, async (_, c) => {
              let k = c;
              do {
                const node = nodes[k++ % nodes.length]!;
                try {
                  contacts += (await runClientSession(node.url, new LoadSession(suite.id, blinded))).evaluated;
                } catch {
                  failures++;
                }
              } while (performance.now() < deadline);
            }),
          );
          const wall = (performance.now() - t0) / 1000;
          const cpu = nodes.reduce((sum, n, i) => sum + cpuSeconds(n.child.pid!) - cpuBefore[i]!, 0);
          const row: Row = {
            nodes: count,
            clients: o.clients,
            'contacts/s': round(contacts / wall),
            'node CPU s': round(cpu),
            'contacts per node CPU-s': cpu > 0 ? round(contacts / cpu) : null,
            failed: failures,
            'load avg (1/5/15 min) before': loadBefore,
          };
          rows.push(row);
          data[`nodes${count}`] = row;
        } finally {
          await stop(nodes);
        }
      }
      sections.push({ title: `Contacts per second, ${o.clients} concurrent clients spread over the nodes (${o.contactsPerSession} contacts per session, ${o.throughputUsers.toLocaleString('en-US')} users)`, rows });
    }

    // 2. Sync latency, PostgreSQL vs SQLite, same directory (unchanged yet), same run.
    {
      const { sqlitePath, url, copied } = await storeOf(o.syncUsers);
      const sqlite = await start('sqlite', sqlitePath, undefined, []);
      const postgres = await start('postgres', url);
      const pgDigest = (await postgres.waitFor(/serving epoch \d+ version \d+ digest ([0-9a-f]{64})/))[1];
      // The leader reads its copy of the tag set in the background after starting: not during the syncs.
      let timer: NodeJS.Timeout | undefined;
      const held = await Promise.race([
        postgres.waitFor(/holds the tag set of epoch/).then(() => true),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), 300_000))),
      ]);
      clearTimeout(timer);
      if (!held) notes.push('The PostgreSQL node had not read its copy of the tag set within 5 minutes of starting: the syncs ran while it did.');
      if (pgDigest !== copied.digest) throw new Error(`PostgreSQL serves digest ${pgDigest}, SQLite ${copied.digest}: not the same directory`);
      const rows: Row[] = [];
      const sync: Record<string, unknown> = { digest: copied.digest };
      try {
        const sides = [
          { name: 'SQLite', node: sqlite },
          { name: 'PostgreSQL', node: postgres },
        ];
        const syncOnce = async (side: (typeof sides)[number], book: ReturnType<typeof syntheticBook>['book'], registered: number, cacheDir: string) => {
          const cpu0 = cpuSeconds(side.node.child.pid!);
          const t0 = performance.now();
          const outcome = await syncAddressBook({ server: side.node.url, book, cacheDir });
          const ms = performance.now() - t0;
          if (outcome.matches.length !== registered) throw new Error(`${side.name}: ${outcome.matches.length} matches, expected ${registered}`);
          return { ms, serverCpuMs: (cpuSeconds(side.node.child.pid!) - cpu0) * 1000 };
        };
        for (const side of sides) await syncOnce(side, syntheticBook(16, o.syncUsers, 0.25, 7).book, 4, mkdtempSync(join(work, 'warm-'))); // warm-up
        for (const contacts of o.syncContacts) {
          for (const cached of [false, true]) {
            const { book, registered } = syntheticBook(contacts, o.syncUsers, 0.25);
            const loadBefore = load();
            const caches = sides.map(() => mkdtempSync(join(work, 'cache-')));
            if (cached) for (const [i, side] of sides.entries()) await syncOnce(side, book, registered, caches[i]!);
            const runs = sides.map(() => [] as { ms: number; serverCpuMs: number }[]);
            for (let r = 0; r < o.syncReps; r++) {
              // Alternating which store goes first: both see the same load, on average.
              const order = r % 2 === 0 ? [0, 1] : [1, 0];
              for (const i of order) runs[i]!.push(await syncOnce(sides[i]!, book, registered, cached ? caches[i]! : mkdtempSync(join(work, 'cold-'))));
            }
            const [lite, post] = runs.map((list) => ({ ms: median(list.map((x) => x.ms)), cpu: median(list.map((x) => x.serverCpuMs)) }));
            const row: Row = {
              contacts,
              snapshot: cached ? 'cached' : 'downloaded',
              'SQLite ms (median)': round(lite!.ms),
              'PostgreSQL ms (median)': round(post!.ms),
              'PostgreSQL / SQLite': round(post!.ms / lite!.ms),
              'SQLite server CPU ms': round(lite!.cpu),
              'PostgreSQL server CPU ms': round(post!.cpu),
              'load avg (1/5/15 min) before': loadBefore,
            };
            rows.push(row);
            sync[`${contacts}:${cached ? 'cached' : 'cold'}`] = row;
          }
        }
      } finally {
        await stop([sqlite, postgres]);
      }
      data.syncPostgresVsSqlite = sync;
      sections.push({
        title: `Sync latency against ${o.syncUsers.toLocaleString('en-US')} users, PostgreSQL vs SQLite (one \`serve\` each, the same directory and snapshot digest; ${o.syncReps} syncs each, alternating; goal: PostgreSQL at most 1.3x SQLite)`,
        rows,
      });
    }
    // 3. A change reaching every node (last: it changes the directories).
    {
      const rows: Row[] = [];
      const propagation: Record<string, unknown> = {};
      for (const users of o.changeUsers) {
        const { url } = await storeOf(users);
        const nodes: NodeProcess[] = [];
        const writer = await PostgresStore.open(url, { maxConnections: 2 });
        try {
          for (const name of ['leader', 'follower1', 'follower2']) nodes.push(await start(`${name}-${users}`, url)); // the first one leads
          let serial = 0;
          const change = async (kind: 'add 1' | 'add 100' | 'remove 1') => {
            const t0 = performance.now();
            let version: number;
            if (kind === 'remove 1') {
              const victim = (await writer.pool.query<{ user_id: string }>("SELECT user_id FROM users WHERE user_id LIKE 'bench-change-%' LIMIT 1")).rows[0]!.user_id;
              await writer.removeUser(victim);
              version = await writer.version();
            } else {
              const n = kind === 'add 1' ? 1 : 100;
              ({ version } = await writer.upsertUsers(
                Array.from({ length: n }, () => {
                  const s = serial++;
                  return { userId: `bench-change-${s}`, identifiers: [`mailto:bench-change-${s}@example.org`], label: new Uint8Array(randomBytes(32)), discoverable: true };
                }),
              ));
            }
            const committed = performance.now();
            const seen = await Promise.all(nodes.map((n) => n.waitFor(servingLine(version)).then((m) => ({ at: performance.now(), digest: m[1]! }))));
            if (new Set(seen.map((s) => s.digest)).size !== 1) throw new Error(`nodes serve different digests for version ${version}`);
            return { commitMs: committed - t0, allMs: Math.max(...seen.map((s) => s.at)) - committed, leaderMs: seen[0]!.at - committed };
          };
          await change('add 1'); // warm-up: the leader's first build reads its copy of the tag set whole
          const loadBefore = load();
          const cpuBefore = nodes.map((n) => cpuSeconds(n.child.pid!));
          const kinds = ['add 1', 'add 100', 'remove 1'] as const;
          const results = new Map<string, Awaited<ReturnType<typeof change>>[]>(kinds.map((k) => [k, []]));
          for (let r = 0; r < o.changeReps; r++) for (const kind of kinds) results.get(kind)!.push(await change(kind));
          const cpu = nodes.map((n, i) => (cpuSeconds(n.child.pid!) - cpuBefore[i]!) * 1000 / (o.changeReps * kinds.length));
          for (const kind of kinds) {
            const runs = results.get(kind)!;
            const row: Row = {
              users,
              change: kind,
              changes: runs.length,
              'commit ms (median)': round(median(runs.map((r) => r.commitMs))),
              'commit -> leader serves it, ms (median)': round(median(runs.map((r) => r.leaderMs))),
              'commit -> every node serves it, ms (median)': round(median(runs.map((r) => r.allMs))),
              'every node, ms (max)': round(Math.max(...runs.map((r) => r.allMs))),
            };
            rows.push(row);
            propagation[`${users}:${kind}`] = row;
          }
          const cpuRow = { users, 'leader CPU ms per change': round(cpu[0]!), 'follower CPU ms per change (mean)': round((cpu[1]! + cpu[2]!) / 2), 'load avg (1/5/15 min) before': loadBefore };
          propagation[`${users}:cpu`] = cpuRow;
          notes.push(`Change propagation at ${users.toLocaleString('en-US')} users: the leader spent ${cpuRow['leader CPU ms per change']} ms of CPU per change (incremental pass, its copy of the tag set moved, snapshot encoded and stored, announcement signed), each follower ${cpuRow['follower CPU ms per change (mean)']} ms (stored snapshot loaded and checked); load average before: ${loadBefore}.`);
        } finally {
          await writer.close();
          await stop(nodes);
        }
      }
      data.changePropagation = propagation;
      sections.push({ title: 'A directory change reaching every node of 3 (change feed; polling fallback 1 h): commit by a writer outside the fleet -> every node serves the new (epoch, version, digest)', rows });
    }

  } finally {
    for (const n of [...running]) await n.stop().catch(() => {});
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
  data.loadAtEnd = load();
  const cores = availableParallelism();
  return {
    name: 'fleet',
    title: 'Fleet: serve processes on one PostgreSQL',
    smoke: o.smoke,
    parameters: { ...o, cores },
    notes: [
      `This machine has ${cores} cores, shared by the nodes, the load clients, PostgreSQL and (here) other jobs: wall-clock contacts/s cannot grow with nodes past the cores; "contacts per node CPU-s" is the CPU-normalised figure (what each node does per core it gets). Each node evaluates on its own worker pool (one thread per core), so even one node uses every core: on one machine more nodes add availability, not throughput; on separate machines throughput adds up per node.`,
      'The directories are the cached SQLite fixtures (user i holds tel:+4179 i), copied into PostgreSQL with their keys, tags, snapshot and announcement log (bench/fleet-fixture.ts): the stores serve the same snapshot bytes.',
      'A change is built once, by the leader: tags of the changed users only, its in-memory copy of the tag set moved by the tag log, snapshot encoded and stored, announcement signed; followers load the stored bytes (digest checked) once the announcement is in the log (spec/directory.md, PostgreSQL store).',
      ...notes,
    ],
    data,
    sections,
  };
}
