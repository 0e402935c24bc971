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
import { resultsDir } from './paths.js';
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
  /**
   * Only the propagation section, with the timeline of each change (the nodes' trace of
   * every step, fleet-timeline-node.ts): written as `fleet-timeline`, and its propagation
   * rows into `fleet` beside the rows of the earlier full run.
   */
  timeline: boolean;
  /** A build of another commit's timeline node (its dist/bench/fleet-timeline-node.js), run in turn with this one on the same database. */
  timelineBaseline?: string;
  /** Turns of (baseline, this build) when a baseline is given. */
  timelineRounds: number;
}

/** The node process of --timeline (the CLI's `serve` with the node's trace printed). */
const TIMELINE_NODE = join(import.meta.dirname, 'fleet-timeline-node.js');
const CHANGE_PATH_NOTE =
  'A change is built once, by the leader: tags of the changed users only, its in-memory copy of the tag set moved by the tag log, snapshot encoded, then stored while its announcement is signed; followers read the stored bytes ahead (binary COPY, digest checked) when told they are stored, and switch once the announcement is in the log (spec/directory.md §11).';
const PROPAGATION_TITLE = 'A directory change reaching every node of 3 (change feed; polling fallback 1 h): commit by a writer outside the fleet -> every node serves the new (epoch, version, digest)';

interface TraceEvent {
  stage: string;
  at: number;
  cpuMs: number;
  version?: number;
  bytes?: number;
  count?: number;
}

const traceEvents = (lines: readonly string[]): TraceEvent[] =>
  lines.filter((l) => l.startsWith('trace {')).map((l) => JSON.parse(l.slice('trace '.length)) as TraceEvent);

/**
 * One row per step of a node (the leader, then the followers), in the order the change
 * took them: when it ended (ms after the commit), how long it took since the node's
 * previous step and the CPU the node spent in it (so wall minus CPU is waiting: on
 * PostgreSQL, the notification, the queue, or the machine's other jobs), medians over the
 * changes. Bytes where a step moves a snapshot.
 */
function timelineRows(runs: readonly { committedAt: number; steps: TraceEvent[][] }[]): Row[] {
  const out: Row[] = [];
  const roles = [{ name: 'leader', nodes: [0] }, { name: 'follower', nodes: [1, 2] }];
  const push = (m: Map<string, number[]>, k: string, v: number) => (m.get(k) ?? m.set(k, []).get(k)!).push(v);
  for (const role of roles) {
    const at = new Map<string, number[]>();
    const step = new Map<string, number[]>();
    const cpu = new Map<string, number[]>();
    const bytes = new Map<string, number>();
    for (const r of runs) {
      for (const i of role.nodes) {
        const events = r.steps[i] ?? [];
        const seen = new Set<string>();
        events.forEach((e, k) => {
          if (seen.has(e.stage)) return; // the first time a step ends in this change
          seen.add(e.stage);
          const prev = events[k - 1];
          push(at, e.stage, e.at - r.committedAt);
          push(step, e.stage, prev === undefined ? e.at - r.committedAt : e.at - prev.at);
          push(cpu, e.stage, prev === undefined ? 0 : e.cpuMs - prev.cpuMs);
          if (e.bytes !== undefined) bytes.set(e.stage, e.bytes);
        });
      }
    }
    const ordered = [...at.keys()].sort((a, b) => median(at.get(a)!) - median(at.get(b)!));
    for (const stage of ordered) {
      out.push({
        node: role.name,
        step: stage,
        'ends at, ms after commit': round(median(at.get(stage)!)),
        'step ms': round(median(step.get(stage)!)),
        'step CPU ms': round(median(cpu.get(stage)!)),
        bytes: bytes.get(stage) ?? null,
      });
    }
  }
  return out;
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

export async function fleetScenario(o: FleetBenchOptions): Promise<Report | Report[]> {
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
  const start = async (name: string, db: string, kekPath: string | undefined = kekFile, args: string[] = ['--refresh-seconds', '3600'], cli?: string) => {
    const node = await startNodeProcess({ name, db, kekFile: kekPath, args, cli });
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
    if (!o.timeline) {
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
    if (!o.timeline) {
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
      const timelineSections: ReportSection[] = [];
      const propagation: Record<string, unknown> = {};
      // Variants run in turn on the same database (a baseline build first, when given), each with nodes of its own.
      const variants = o.timelineBaseline === undefined ? [{ name: 'this build', cli: o.timeline ? TIMELINE_NODE : undefined }] : [
        { name: 'baseline', cli: o.timelineBaseline },
        { name: 'this build', cli: TIMELINE_NODE },
      ];
      for (const users of o.changeUsers) {
        const { url } = await storeOf(users);
        const writer = await PostgresStore.open(url, { maxConnections: 2 });
        let serial = 0;
        try {
          for (let turn = 0; turn < o.timelineRounds; turn++) {
            for (const variant of variants) {
              const nodes: NodeProcess[] = [];
              try {
                for (const name of ['leader', 'follower1', 'follower2']) nodes.push(await start(`${name}-${users}`, url, kekFile, ['--refresh-seconds', '3600'], variant.cli)); // the first one leads
                const traced = nodes.map(() => 0);
                const change = async (kind: 'add 1' | 'add 100' | 'remove 1') => {
                  traced.forEach((_, i) => (traced[i] = nodes[i]!.lines.length));
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
                  // The nodes' steps of this change: every trace line printed since it began (changes run one at a time).
                  const steps = nodes.map((n, i) => traceEvents(n.lines.slice(traced[i])));
                  return { commitMs: committed - t0, allMs: Math.max(...seen.map((s) => s.at)) - committed, leaderMs: seen[0]!.at - committed, committedAt: performance.timeOrigin + committed, steps };
                };
                await change('add 1'); // warm-up: the leader's first build reads its copy of the tag set whole
                const loadBefore = load();
                const cpuBefore = nodes.map((n) => cpuSeconds(n.child.pid!));
                const kinds = ['add 1', 'add 100', 'remove 1'] as const;
                const results = new Map<string, Awaited<ReturnType<typeof change>>[]>(kinds.map((k) => [k, []]));
                for (let r = 0; r < o.changeReps; r++) for (const kind of kinds) results.get(kind)!.push(await change(kind));
                const cpu = nodes.map((n, i) => (cpuSeconds(n.child.pid!) - cpuBefore[i]!) * 1000 / (o.changeReps * kinds.length));
                const label = variants.length > 1 ? `${variant.name}, round ${turn + 1}` : undefined;
                for (const kind of kinds) {
                  const runs = results.get(kind)!;
                  const row: Row = {
                    ...(label === undefined ? {} : { build: label }),
                    users,
                    change: kind,
                    changes: runs.length,
                    'commit ms (median)': round(median(runs.map((r) => r.commitMs))),
                    'commit -> leader serves it, ms (median)': round(median(runs.map((r) => r.leaderMs))),
                    'commit -> every node serves it, ms (median)': round(median(runs.map((r) => r.allMs))),
                    'every node, ms (max)': round(Math.max(...runs.map((r) => r.allMs))),
                  };
                  rows.push(row);
                  propagation[`${label ?? ''}${users}:${kind}`] = row;
                  if (o.timeline) {
                    timelineSections.push({
                      title: `Timeline of one change, ${kind} at ${users.toLocaleString('en-US')} users${label === undefined ? '' : ` (${label})`}: median of ${runs.length} changes, ms after the writer's commit`,
                      rows: timelineRows(runs),
                      notes: [`load average before: ${loadBefore}`],
                    });
                  }
                }
                const cpuRow = { users, 'leader CPU ms per change': round(cpu[0]!), 'follower CPU ms per change (mean)': round((cpu[1]! + cpu[2]!) / 2), 'load avg (1/5/15 min) before': loadBefore };
                propagation[`${label ?? ''}${users}:cpu`] = cpuRow;
                notes.push(`Change propagation at ${users.toLocaleString('en-US')} users${label === undefined ? '' : ` (${label})`}: the leader spent ${cpuRow['leader CPU ms per change']} ms of CPU per change (incremental pass, its copy of the tag set moved, snapshot encoded and stored, announcement signed), each follower ${cpuRow['follower CPU ms per change (mean)']} ms (stored snapshot loaded and checked); load average before: ${loadBefore}.`);
              } finally {
                await stop(nodes);
              }
            }
          }
        } finally {
          await writer.close();
        }
      }
      data.changePropagation = propagation;
      sections.push({ title: PROPAGATION_TITLE, rows });
      sections.push(...timelineSections);
    }

  } finally {
    for (const n of [...running]) await n.stop().catch(() => {});
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
  data.loadAtEnd = load();
  const cores = availableParallelism();
  const common = [
    'The directories are the cached SQLite fixtures (user i holds tel:+4179 i), copied into PostgreSQL with their keys, tags, snapshot and announcement log (bench/fleet-fixture.ts): the stores serve the same snapshot bytes.',
    CHANGE_PATH_NOTE,
  ];
  if (o.timeline) {
    const timeline: Report = {
      // One file per set of sizes (a 1M run in its own slot does not replace the 100,000 one).
      name: `fleet-timeline-${o.changeUsers.map((u) => (u % 1_000_000 === 0 ? `${u / 1_000_000}m` : u % 1000 === 0 ? `${u / 1000}k` : String(u))).join('-')}`,
      title: 'Fleet: the timeline of a directory change through the leader and the followers',
      smoke: o.smoke,
      parameters: { ...o, cores },
      notes: [
        'Command: `npm run bench -- fleet --timeline [--timeline-baseline=<dist/bench/fleet-timeline-node.js of another build>] [--change-users=] [--change-reps=]`. The nodes are fleet-timeline-node.ts: what `serve --db postgres://` runs, without its WebSocket server, with the FleetNode trace hook printed (steps, versions, sizes; no identifiers). Wall clocks of the writer and the nodes are one machine\'s (performance.timeOrigin + now).',
        '"step ms" is the wall time since the node\'s previous step, "step CPU ms" what the node\'s process (every thread) spent in it: the rest is waiting (PostgreSQL working, a notification in flight, the machine\'s other jobs).',
        ...common,
        ...notes,
      ],
      data,
      sections,
    };
    return [timeline, mergedFleetReport(o, sections.find((x) => x.title === PROPAGATION_TITLE)!, notes, data)];
  }
  return {
    name: 'fleet',
    title: 'Fleet: serve processes on one PostgreSQL',
    smoke: o.smoke,
    parameters: { ...o, cores },
    notes: [
      `This machine has ${cores} cores, shared by the nodes, the load clients, PostgreSQL and (here) other jobs: wall-clock contacts/s cannot grow with nodes past the cores; "contacts per node CPU-s" is the CPU-normalised figure (what each node does per core it gets). Each node evaluates on its own worker pool (one thread per core), so even one node uses every core: on one machine more nodes add availability, not throughput; on separate machines throughput adds up per node.`,
      ...common,
      ...notes,
    ],
    data,
    sections,
  };
}

/**
 * The `fleet` report of a --timeline run: the propagation rows of this build from this run,
 * the throughput and sync rows (and their notes) of the last full run kept as they were, and
 * said to be from then.
 */
function mergedFleetReport(o: FleetBenchOptions, propagation: ReportSection, notes: readonly string[], data: Record<string, unknown>): Report {
  const file = join(resultsDir(o.smoke), 'fleet.json');
  const earlier = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as { machine?: { date?: string; loadAverageAtStart?: number[] }; notes?: string[]; data?: Record<string, unknown>; sections?: ReportSection[]; parameters?: Record<string, unknown> })
    : {};
  const ours = (r: Row) => r.build === undefined || String(r.build).startsWith('this build');
  // The throughput and sync rows' run: the file's own, or (merged before) the one it names.
  const full = (earlier.data?.fullRun as { date?: string; loadAverageAtStart?: number[] } | undefined) ?? earlier.machine ?? {};
  const from = full.date ?? 'an earlier run';
  // When each size's propagation rows were measured (kept across merges).
  const runs: Record<string, string> = { ...((earlier.data?.propagationRuns as Record<string, string> | undefined) ?? {}) };
  for (const u of o.changeUsers) runs[String(u)] = new Date().toISOString();
  const propagationFrom = (users: number) => runs[String(users)] ?? earlier.machine?.date ?? 'an earlier run';
  // Sizes not measured in this run keep their rows from the file (said so in a note).
  const earlierRows = (earlier.sections ?? []).find((x) => x.title === PROPAGATION_TITLE)?.rows ?? [];
  const keptRows = earlierRows.filter((r) => !o.changeUsers.includes(Number(r.users)));
  // This build's rows, by round when there were several (the baseline's are in the timeline file).
  const thisRun = propagation.rows.filter(ours).map(({ build, ...rest }) => (o.timelineRounds > 1 && build !== undefined ? { round: String(build).replace(/^this build, /, ''), ...rest } : rest));
  const rows = [...keptRows, ...thisRun].sort((a, b) => Number(a.users) - Number(b.users));
  const kept = (earlier.sections ?? []).filter((x) => x.title !== PROPAGATION_TITLE);
  return {
    name: 'fleet',
    title: 'Fleet: serve processes on one PostgreSQL',
    smoke: o.smoke,
    parameters: { ...(earlier.parameters ?? {}), propagation: { changeUsers: o.changeUsers, changeReps: o.changeReps, timeline: true } },
    notes: [
      ...(earlier.notes ?? []).filter((n) => !n.startsWith('The propagation rows') && !n.startsWith('A change is built once') && !o.changeUsers.some((u) => n.startsWith(`Change propagation at ${u.toLocaleString('en-US')} users`))),
      CHANGE_PATH_NOTE,
      `The propagation rows and notes are from \`npm run bench -- fleet --timeline\` (steps in fleet-timeline-<sizes>.md); ${kept.map((x) => `"${x.title.split(',')[0]}"`).join(' and ')} are from the full run of ${from} (load average ${full.loadAverageAtStart?.join(' / ') ?? 'not recorded'} at its start).`,
      ...notes.filter((n) => !/\((baseline|this build), round/.test(n) || n.includes('(this build')),
    ],
    data: { ...(earlier.data ?? {}), fullRun: full, propagationRuns: runs, changePropagation: { ...((earlier.data?.changePropagation as object | undefined) ?? {}), ...(data.changePropagation as object) } },
    sections: [
      ...kept.map((x) => ({ ...x, notes: [...(x.notes ?? []).filter((n) => !n.startsWith('From the full run of')), `From the full run of ${from}.`] })),
      {
        ...propagation,
        rows,
        notes: [
          ...[...new Set(keptRows.map((r) => Number(r.users)))].map((u) => `The rows at ${u.toLocaleString('en-US')} users are from the run of ${propagationFrom(u)} (its note above).`),
        ],
      },
    ],
  };
}
