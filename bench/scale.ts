/**
 * `bench -- scale`: the whole path across directory sizes (10^4, 10^5, 10^6; 10^7 with
 * `--max 7`), each on the real code an operator and a user run:
 *
 * 1. a CSV of N users (~1.4 identifiers each: every user a phone number, 40% also an
 *    e-mail address; a 32-byte label each) is imported by the real `contact-psi directory
 *    import` process into a fresh SQLite file: wall, CPU and peak RSS of that process,
 *    and the snapshot it reports;
 * 2. that file is served by `serveDirectory` in a child process, and `syncAddressBook`
 *    syncs 1,024 and 10,000 contacts (25% registered): first sync (empty cache: the
 *    snapshot is downloaded), a new address book with the snapshot cached (a first sync in
 *    the epoch for those contacts), and a re-sync of that same book: wall, bytes both ways,
 *    the server's CPU per sync;
 * 3. at the largest size: server evaluation (8 load clients, VOPRF with proofs) per server
 *    CPU-second, and the start-up of a whole `contact-psi sync` process up to its first
 *    byte on the wire (through a counting TCP proxy);
 * 4. @openmined/psi.js's setup per element in the same run, against our import per
 *    identifier;
 * 5. rows for 10^7 (when not measured) and 10^8 from the measured per-entry costs of the
 *    largest size, marked "model".
 */
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { syncAddressBook } from '../src/client/sync.js';
import { poolOffload, WorkerPool } from '../src/parallel/index.js';
import { loadGroup } from '../src/group/index.js';
import { createSuite, Modes } from '../src/oprf/index.js';
import { runClientSession } from '../src/transport/ws/index.js';
import { syntheticBook } from './address-book.js';
import { serveInChild, type ServingChild } from './child-process.js';
import { cliBin, runCli } from './cli-run.js';
import { registeredIdentifier, removeSqlite } from './directory-fixture.js';
import { LoadSession } from './load-client.js';
import { cacheDir } from './paths.js';
import { loadOpenMined, openMinedSession, OPENMINED_INSTALL } from './peers/openmined.js';
import { seriesFromRows } from './plot.js';
import type { Report, Row } from './report.js';
import { median, round } from './timing.js';
import { summarize } from './cpuprofile-summary.js';
import { firstByteProxy } from './first-byte-proxy.js';
import { readdirSync, readFileSync } from 'node:fs';
import Database from 'better-sqlite3';

export interface ScaleOptions {
  sizes: readonly number[];
  /** Sizes reported by model only (from the largest measured size). */
  modelSizes: readonly number[];
  contactSizes: readonly number[];
  reps: number;
  /** Elements of the @openmined/psi.js setup measured in the same run. */
  peerElements: number;
  /** Seconds of the 8-client evaluation load at the largest size. */
  loadSeconds: number;
  /** Whole-process `contact-psi sync` runs for the start-up figure. */
  startupRuns: number;
  smoke: boolean;
  pool: boolean;
  /**
   * Sizes whose directory was already imported by `bench -- import` (the same generated CSV,
   * bench/scale.ts writeDirectoryCsv): its SQLite file is served as is and its import row
   * takes that run's measured wall, CPU and peak RSS from its import.json, so 10^7 users
   * cost one import of machine time, not two.
   */
  imported?: ReadonlyMap<number, ImportedDirectory>;
}

/** A directory imported by another bench run: `--imported=<users>:<sqlite file>:<import.json>`. */
export interface ImportedDirectory {
  db: string;
  importJson: string;
}

/** Every 5th and 5th+1 user also has an e-mail address: 1.4 identifiers per user. */
const hasEmail = (i: number) => i % 5 < 2;
export const IDENTIFIERS_PER_USER = 1.4;
const REGISTERED_SHARE = 0.25;

/** Writes the directory CSV of `users` users as a stream (no array of all rows). */
export async function writeDirectoryCsv(path: string, users: number): Promise<number> {
  const out = createWriteStream(path);
  out.write('user_id,phones,emails,label,discoverable\n');
  let identifiers = 0;
  const batch = 10_000;
  for (let start = 0; start < users; start += batch) {
    const count = Math.min(batch, users - start);
    const labels = randomBytes(32 * count);
    const lines: string[] = [];
    for (let k = 0; k < count; k++) {
      const i = start + k;
      const email = hasEmail(i) ? `u${i}@example.org` : '';
      identifiers += email ? 2 : 1;
      lines.push(`u${i},${registeredIdentifier(i).slice(4)},${email},base64:${labels.subarray(32 * k, 32 * k + 32).toString('base64')},\n`);
    }
    if (!out.write(lines.join(''))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return identifiers;
}

interface ImportFigures {
  wallMs: number;
  cpuMs: number;
  maxRssMiB: number;
  identifiers: number;
  snapshotBytes: number;
  snapshotEntries: number;
  /** The SQLite file (with its WAL) after the import: what the server stores. */
  dbBytes: number;
}

/**
 * The import row of a directory that `bench -- import` built: that run's figures (its
 * import.json, `data.sqlite`), the snapshot read from the file itself.
 */
function importedFigures(users: number, reuse: ImportedDirectory): ImportFigures & { measuredAt: string } {
  const report = JSON.parse(readFileSync(reuse.importJson, 'utf8')) as {
    parameters?: { users?: number };
    machine?: { date?: string };
    data?: { sqlite?: { wallMs: number; cpuMs: number; maxRssMiB: number; identifiers: number } };
  };
  const run = report.data?.sqlite;
  if (report.parameters?.users !== users || run === undefined) {
    throw new Error(`${reuse.importJson} is not a SQLite import of ${users} users`);
  }
  const db = new Database(reuse.db, { readonly: true, fileMustExist: true });
  try {
    const snap = db.prepare('SELECT count, length(bytes) AS bytes FROM snapshots ORDER BY epoch DESC, version DESC LIMIT 1').get() as
      | { count: number; bytes: number }
      | undefined;
    if (snap === undefined) throw new Error(`${reuse.db} holds no snapshot`);
    const dbBytes = ['', '-wal'].map((x) => `${reuse.db}${x}`).filter((f) => existsSync(f)).reduce((n, f) => n + statSync(f).size, 0);
    return {
      wallMs: run.wallMs,
      cpuMs: run.cpuMs,
      maxRssMiB: run.maxRssMiB,
      identifiers: run.identifiers,
      snapshotEntries: snap.count,
      snapshotBytes: snap.bytes,
      dbBytes,
      measuredAt: report.machine?.date ?? 'unknown time',
    };
  } finally {
    db.close();
  }
}

async function importWithCli(csv: string, db: string, users: number, identifiers: number): Promise<ImportFigures> {
  removeSqlite(db);
  const run = await runCli(['directory', 'import', csv, '--db', db]);
  if (run.code !== 0) throw new Error(`contact-psi directory import of ${users} users exited ${run.code}: ${run.stderrTail.slice(-1500)}`);
  // "snapshot <count> entries, <bytes> bytes, digest ..." (src/cli/commands/directory-import.ts)
  const m = /snapshot (\d+) entries, (\d+) bytes/.exec(run.stdout);
  if (!m) throw new Error(`could not read the snapshot size from the import's output: ${run.stdout.slice(-500)}`);
  const dbBytes = ['', '-wal'].map((x) => `${db}${x}`).filter((f) => existsSync(f)).reduce((n, f) => n + statSync(f).size, 0);
  return { wallMs: run.wallMs, cpuMs: run.cpuMs, maxRssMiB: run.maxRssMiB, identifiers, snapshotEntries: Number(m[1]), snapshotBytes: Number(m[2]), dbBytes };
}

type Variant = 'first' | 'cached-new' | 'resync';
const VARIANT_LABEL: Record<Variant, string> = {
  first: 'first sync (snapshot downloaded)',
  'cached-new': 'new contacts, snapshot cached',
  resync: 're-sync (same contacts, same cache)',
};

interface SyncFigures {
  wallMs: number;
  serverCpuMs: number;
  /** This process's CPU over the sync (the client, its worker pool included). */
  clientCpuMs: number;
  bytesUp: number;
  bytesDown: number;
  snapshotBytes: number;
  matches: number;
}

export function contactsCsv(path: string, book: ReturnType<typeof syntheticBook>['book']): void {
  writeFileSync(path, ['name,phone', ...book.contacts.map((c) => `${c.name},${c.identifiers[0].raw}`)].join('\n') + '\n');
}

export async function scaleScenario(o: ScaleOptions): Promise<Report> {
  const work = mkdtempSync(join(tmpdir(), 'contact-psi-scale-'));
  const dbDir = join(cacheDir(o.smoke), 'scale');
  mkdirSync(dbDir, { recursive: true });
  const rows: Row[] = [];
  const importRows: Row[] = [];
  const data: Record<string, number | string> = {};
  const notes: string[] = [];
  const clientPool = o.pool ? new WorkerPool() : undefined;
  const offload = clientPool ? poolOffload(clientPool) : undefined;
  const largest = Math.max(...o.sizes);
  const extraSections: Report['sections'][number][] = [];
  try {
    for (const users of [...o.sizes].sort((a, b) => a - b)) {
      const reuse = o.imported?.get(users);
      const db = reuse?.db ?? join(dbDir, `scale-${users}.db`);
      let imp: ImportFigures;
      let source = 'measured';
      if (reuse !== undefined) {
        const figures = importedFigures(users, reuse);
        imp = figures;
        source = `measured by \`bench -- import\` (${figures.measuredAt})`;
        notes.push(`${users.toLocaleString('en-US')} users: the directory that \`bench -- import --users=${users}\` built at ${figures.measuredAt} (the same generated CSV), served as is; its import row is that run's wall, CPU and peak RSS (${reuse.importJson}).`);
      } else {
        const csv = join(work, `directory-${users}.csv`);
        console.log(`scale: ${users.toLocaleString('en-US')} users: writing the CSV ...`);
        const identifiers = await writeDirectoryCsv(csv, users);
        console.log(`scale: contact-psi directory import (${identifiers.toLocaleString('en-US')} identifiers) ...`);
        imp = await importWithCli(csv, db, users, identifiers);
        rmSync(csv, { force: true });
      }
      const identifiers = imp.identifiers;
      const usPerId = (imp.wallMs * 1000) / identifiers;
      importRows.push({
        users,
        identifiers,
        source,
        'import wall s': round(imp.wallMs / 1000),
        'µs per identifier (wall)': round(usPerId),
        'CPU s (all threads)': round(imp.cpuMs / 1000),
        'peak RSS MiB': round(imp.maxRssMiB),
        'snapshot entries': imp.snapshotEntries,
        'snapshot bytes': imp.snapshotBytes,
        'snapshot bits/entry': round((imp.snapshotBytes * 8) / Math.max(1, imp.snapshotEntries)),
        'SQLite file MiB': round(imp.dbBytes / 2 ** 20),
      });
      console.log(JSON.stringify(importRows.at(-1)));
      Object.assign(data, {
        [`${users}/import/wallMs`]: imp.wallMs,
        [`${users}/import/cpuMs`]: imp.cpuMs,
        [`${users}/import/maxRssMiB`]: imp.maxRssMiB,
        [`${users}/import/identifiers`]: identifiers,
        [`${users}/import/usPerIdentifier`]: usPerId,
        [`${users}/snapshotBytes`]: imp.snapshotBytes,
        [`${users}/snapshotEntries`]: imp.snapshotEntries,
        [`${users}/dbBytes`]: imp.dbBytes,
      });

      const server = await serveInChild(db, [], o.pool);
      try {
        await syncsAt(users, server);
        if (users === largest) {
          await evaluationLoad(users, server);
          await startup(users, server);
        }
      } finally {
        await server.child.stop();
      }
      if (users === largest) await peerSetup(largest);
      if (!process.env.BENCH_KEEP_SCALE && reuse === undefined) removeSqlite(db);
    }
  } finally {
    await clientPool?.close();
    rmSync(work, { recursive: true, force: true });
  }

  async function syncsAt(users: number, server: ServingChild): Promise<void> {
    let sessionsSeen = server.child.sessions.length;
    const syncOnce = async (book: ReturnType<typeof syntheticBook>['book'], dir: string) => {
      const before = await server.child.usage();
      const clientCpu = process.cpuUsage();
      const t0 = performance.now();
      const outcome = await syncAddressBook({ server: server.url, book, cacheDir: dir, offload });
      const ms = performance.now() - t0;
      const clientCpuUsed = process.cpuUsage(clientCpu);
      sessionsSeen++;
      await server.child.sessionsAtLeast(sessionsSeen);
      const after = await server.child.usage();
      const report = server.child.sessions[sessionsSeen - 1] ?? {};
      return {
        ms,
        outcome,
        serverCpuMs: (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1000,
        clientCpuMs: (clientCpuUsed.user + clientCpuUsed.system) / 1000,
        bytesUp: Number(report.bytesIn ?? NaN),
        bytesDown: Number(report.bytesOut ?? NaN),
      };
    };
    // Warm-up: JIT and WASM on both sides, as an app that has synced before.
    await syncOnce(syntheticBook(16, users, REGISTERED_SHARE, 7).book, mkdtempSync(join(work, 'warm-')));
    for (const contacts of o.contactSizes) {
      const runs: Record<Variant, SyncFigures[]> = { first: [], 'cached-new': [], resync: [] };
      for (let r = 0; r < o.reps; r++) {
        const a = syntheticBook(contacts, users, REGISTERED_SHARE, 1 + 2 * r);
        const b = syntheticBook(contacts, users, REGISTERED_SHARE, 2 + 2 * r);
        const cache = mkdtempSync(join(work, 'cache-'));
        const plan: [Variant, typeof a, boolean][] = [
          ['first', a, false],
          ['cached-new', b, true],
          ['resync', b, true],
        ];
        for (const [variant, { book, registered }, cached] of plan) {
          const run = await syncOnce(book, cache);
          if (run.outcome.result.cacheHit !== cached) throw new Error(`${variant}: expected cacheHit=${cached}`);
          if (run.outcome.matches.length !== registered) throw new Error(`${variant}: expected ${registered} matches, got ${run.outcome.matches.length}`);
          runs[variant].push({
            wallMs: run.ms,
            serverCpuMs: run.serverCpuMs,
            clientCpuMs: run.clientCpuMs,
            bytesUp: run.bytesUp,
            bytesDown: run.bytesDown,
            snapshotBytes: run.outcome.result.downloadedBytes,
            matches: run.outcome.matches.length,
          });
        }
        rmSync(cache, { recursive: true, force: true });
      }
      for (const variant of ['first', 'cached-new', 'resync'] as const) {
        const rs = runs[variant];
        const wall = median(rs.map((r) => r.wallMs));
        const bytes = median(rs.map((r) => r.bytesUp + r.bytesDown));
        const snap = median(rs.map((r) => r.snapshotBytes));
        const cpu = median(rs.map((r) => r.serverCpuMs));
        rows.push({
          users,
          contacts,
          sync: VARIANT_LABEL[variant],
          source: 'measured',
          'wall ms': round(wall),
          'server CPU ms': round(cpu),
          'client CPU ms': round(median(rs.map((r) => r.clientCpuMs))),
          'bytes up': round(median(rs.map((r) => r.bytesUp))),
          'bytes down': round(median(rs.map((r) => r.bytesDown))),
          'snapshot bytes': snap,
          'bytes/contact (excl. snapshot)': round((bytes - snap) / contacts),
          matches: rs[0].matches,
          runs: rs.length,
        });
        console.log(JSON.stringify(rows.at(-1)));
        const key = `${users}/${contacts}/${variant}`;
        Object.assign(data, {
          [`${key}/wallMs`]: wall,
          [`${key}/serverCpuMs`]: cpu,
          [`${key}/clientCpuMs`]: median(rs.map((r) => r.clientCpuMs)),
          [`${key}/bytes`]: bytes,
          [`${key}/snapshotBytes`]: snap,
          [`${key}/bytesPerContact`]: (bytes - snap) / contacts,
        });
      }
    }
  }

  async function evaluationLoad(users: number, server: ServingChild): Promise<void> {
    // VOPRF evaluation with proofs, per server CPU-second: 8 load clients that send
    // pre-blinded elements and ask for no labels (load-client.ts), back to back.
    const suite = createSuite('ristretto255-SHA512', Modes.VOPRF, await loadGroup('ristretto255', 'auto'));
    const { book } = syntheticBook(o.smoke ? 32 : 1024, users, REGISTERED_SHARE, 11);
    const blinded = suite.blind(
      book.contacts.map((c) => new TextEncoder().encode(c.identifiers[0].identifier)),
      (n) => new Uint8Array(randomBytes(n)),
    ).blinded;
    await runClientSession(server.url, new LoadSession(suite.id, blinded));
    const before = await server.child.usage();
    const start = performance.now();
    const deadline = start + o.loadSeconds * 1000;
    let contacts = 0;
    let failed = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        do {
          try {
            contacts += (await runClientSession(server.url, new LoadSession(suite.id, blinded))).evaluated;
          } catch {
            failed++;
          }
        } while (performance.now() < deadline);
      }),
    );
    const wallS = (performance.now() - start) / 1000;
    const after = await server.child.usage();
    const cpuS = (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1e6;
    data['evaluation/contactsPerCpuSecond'] = contacts / cpuS;
    data['evaluation/users'] = users;
    extraSections.push({
      title: `Server evaluation at ${users.toLocaleString('en-US')} users: VOPRF with proofs, 8 load clients, ${o.pool ? 'server on its worker pool' : 'server on its event loop'}`,
      rows: [{ users, contacts, 'wall s': round(wallS), 'server CPU s': round(cpuS), 'contacts per server CPU-second': round(contacts / cpuS), 'failed sessions': failed }],
      notes: ['Each session: dir.hello, pre-blinded 1,024-contact chunks, evaluations with one DLEQ proof per chunk, an empty label request (bench/load-client.ts). Server CPU is the process\'s (all threads).'],
    });
  }

  async function startup(users: number, server: ServingChild): Promise<void> {
    // `contact-psi sync` as a user runs it, snapshot already cached: time from spawn to the
    // first byte the proxy receives (module load, WASM compile, cache read, connect), and to
    // exit. `node -e 0` beside it is Node's own start-up on this machine at this load.
    const proxy = await firstByteProxy(server.url);
    const { book } = syntheticBook(1024, users, REGISTERED_SHARE, 21);
    const csvPath = join(work, 'contacts.csv');
    contactsCsv(csvPath, book);
    const cache = mkdtempSync(join(work, 'cli-cache-'));
    const args = ['sync', '--server', proxy.url, '--contacts', csvPath, '--cache', cache, '--json'];
    // The bin (the bundled CLI), as a user runs it; `bench -- startup` sets it beside the unbundled and the old path.
    const bin = [cliBin()];
    try {
      const fill = await runCli(args, undefined, [], bin);
      if (fill.code !== 0) throw new Error(`contact-psi sync exited ${fill.code}: ${fill.stderrTail.slice(-1000)}`);
      const firstByte: number[] = [];
      const total: number[] = [];
      const cpu: number[] = [];
      const node: number[] = [];
      for (let r = 0; r < o.startupRuns; r++) {
        proxy.reset();
        let spawnedAt = 0;
        const run = await runCli(args, (t) => (spawnedAt = t), [], bin);
        if (run.code !== 0) throw new Error(`contact-psi sync exited ${run.code}: ${run.stderrTail.slice(-1000)}`);
        const fb = proxy.firstByteAt();
        if (fb !== undefined) firstByte.push(fb - spawnedAt);
        total.push(run.wallMs);
        cpu.push(run.cpuMs);
        const t0 = performance.now();
        const { spawnSync } = await import('node:child_process');
        spawnSync(process.execPath, ['-e', '0']);
        node.push(performance.now() - t0);
      }
      data['startup/firstByteMs'] = median(firstByte);
      data['startup/firstByteMinMs'] = Math.min(...firstByte);
      data['startup/totalMs'] = median(total);
      data['startup/nodeMs'] = median(node);
      data['startup/cpuMs'] = median(cpu);
      // One more run under --cpu-prof: where the main thread's time goes, by package and
      // by function (the whole run; the first byte comes after module load and set-up).
      const profDir = mkdtempSync(join(work, 'prof-'));
      await runCli(args, undefined, ['--cpu-prof', `--cpu-prof-dir=${profDir}`], bin);
      const profFile = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
      let profileSection: Report['sections'][number] | undefined;
      if (profFile) {
        type Profile = Parameters<typeof summarize>[0] & { nodes: { id: number; callFrame: { url: string } }[] };
        const profile = JSON.parse(readFileSync(join(profDir, profFile), 'utf8')) as Profile;
        const urlOf = new Map(profile.nodes.map((n) => [n.id, n.callFrame.url]));
        const bucketOf = (url: string) => {
          if (url === '') return '(V8: program, GC, WASM compile and code)';
          if (url.startsWith('node:')) return 'node: internals (module loader, fs, net)';
          const m = /\/(node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(url) ?? /\/dist\/(src\/[^/]+)\//.exec(url);
          return m ? m[1] : url.replace(/^file:\/\/.*\//, '');
        };
        const buckets = new Map<string, number>();
        let total = 0;
        profile.samples.forEach((id, i) => {
          const dt = profile.timeDeltas[i] ?? 0;
          total += dt;
          const b = bucketOf(urlOf.get(id) ?? '');
          buckets.set(b, (buckets.get(b) ?? 0) + dt);
        });
        profileSection = {
          title: 'Start-up profile: `contact-psi sync` main thread, self time by package (one run under --cpu-prof)',
          rows: [...buckets].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([where, us]) => ({ where, 'self ms': round(us / 1000), '%': round((100 * us) / Math.max(1, total), 3) })),
          notes: [`${round(total / 1000)} ms sampled in all (the whole run, sync included; the profiler itself slows it). Top functions: ${summarize(profile, 8).rows.map((r) => `${r.fn} (${r.where || 'V8'}) ${r.ms} ms`).join('; ')}.`],
        };
      }
      extraSections.push({
        title: `Whole-process \`contact-psi sync\` start-up, 1,024 contacts, snapshot cached, ${users.toLocaleString('en-US')}-user directory`,
        rows: [
          {
            runs: firstByte.length,
            'spawn → first byte sent, ms (median)': round(median(firstByte)),
            'spawn → first byte sent, ms (min)': round(Math.min(...firstByte)),
            'spawn → exit, ms (median)': round(median(total)),
            'CPU ms of the whole run (median)': round(median(cpu)),
            '`node -e 0`, ms (median)': round(median(node)),
          },
        ],
        notes: ['First byte = the first TCP data (the WebSocket upgrade request) from the CLI process at a counting proxy in front of the server; everything before it is module load, WASM compile, reading and checking the cached snapshot, parsing the address book.'],
      });
      if (profileSection) extraSections.push(profileSection);
    } finally {
      await proxy.close();
    }
  }

  async function peerSetup(users: number): Promise<void> {
    const peer = await loadOpenMined();
    if (!peer) {
      notes.push(`@openmined/psi.js not installed (${OPENMINED_INSTALL}): no same-run import comparison.`);
      return;
    }
    const server = Array.from({ length: o.peerElements }, (_, i) => registeredIdentifier(i));
    const client = Array.from({ length: 1024 }, (_, i) => registeredIdentifier(i * 3));
    const f = openMinedSession(peer, server, client, 1e-6, 'GCS');
    const peerUs = (f.setupMs * 1000) / o.peerElements;
    // The peer's setup alone once more, timed in CPU as well: on a loaded machine wall time
    // measures the load, and our import ran minutes earlier than this.
    const s = peer.psi.server.createWithNewKey(true);
    const cpu0 = process.cpuUsage();
    s.createSetupMessage(1e-6, 1024, server, peer.psi.dataStructure.GCS).serializeBinary();
    const cpu1 = process.cpuUsage(cpu0);
    s.delete();
    const peerCpuUs = (cpu1.user + cpu1.system) / o.peerElements;
    const ourCpuUs = (Number(data[`${users}/import/cpuMs`]) * 1000) / Number(data[`${users}/import/identifiers`]);
    data['peer/openminedSetupCpuUsPerElement'] = peerCpuUs;
    data['peer/importCpuRatio'] = peerCpuUs / ourCpuUs;
    data['peer/openminedSetupUsPerElement'] = peerUs;
    data['peer/openminedVersion'] = peer.version;
    const ourUs = Number(data[`${users}/import/usPerIdentifier`]);
    data['peer/importRatio'] = peerUs / ourUs;
    extraSections.push({
      title: `Import per identifier vs ${peer.label} setup per element, same run`,
      rows: [
        {
          'ours: `directory import` µs per identifier (wall, whole process)': round(ourUs),
          'at users': users,
          'peer: setup µs per element (GCS, fpr 1e-6, one thread)': round(peerUs),
          'peer elements': o.peerElements,
          'peer / ours (wall)': round(peerUs / ourUs, 3),
          'ours: CPU µs per identifier (all threads)': round(ourCpuUs),
          'peer: CPU µs per element': round(peerCpuUs),
          'peer / ours (CPU)': round(peerCpuUs / ourCpuUs, 3),
        },
      ],
      notes: [
        'Ours: the whole `contact-psi directory import` process (parse the CSV, normalize, store users, F_k of every identifier, seal every label, build the fuse snapshot) divided by identifiers; the peer: CreateSetupMessage (hash, multiply, GCS encode) divided by elements, right after our import. CPU: ours is the import process\'s CPU over all its threads (so a pool of 2 does not count as faster), the peer\'s is this thread\'s during its setup; the CPU ratio is the steadier one on a loaded machine.',
      ],
    });
  }

  // Model rows: per-entry costs of the largest measured size scaled to N (linear in N for
  // import, snapshot and the snapshot's download; the per-contact part of a sync held).
  const base = largest;
  const baseIds = Number(data[`${base}/import/identifiers`]);
  const modelImport = (users: number): Row => {
    const ids = Math.round(users * IDENTIFIERS_PER_USER);
    const snap = (Number(data[`${base}/snapshotBytes`]) / Number(data[`${base}/snapshotEntries`])) * ids;
    return {
      users,
      identifiers: ids,
      source: `model (from ${base.toLocaleString('en-US')})`,
      'import wall s': round((Number(data[`${base}/import/wallMs`]) / baseIds) * ids / 1000),
      'µs per identifier (wall)': round(Number(data[`${base}/import/usPerIdentifier`])),
      'CPU s (all threads)': round((Number(data[`${base}/import/cpuMs`]) / baseIds) * ids / 1000),
      'peak RSS MiB': null,
      'snapshot entries': ids,
      'snapshot bytes': Math.round(snap),
      'snapshot bits/entry': round((Number(data[`${base}/snapshotBytes`]) * 8) / Number(data[`${base}/snapshotEntries`])),
      'SQLite file MiB': round(((Number(data[`${base}/dbBytes`]) / base) * users) / 2 ** 20),
    };
  };
  for (const users of o.modelSizes.filter((n) => !o.sizes.includes(n))) {
    importRows.push(modelImport(users));
    data[`${users}/model/importWallMs`] = Number(importRows.at(-1)!['import wall s']) * 1000;
    data[`${users}/model/snapshotBytes`] = Number(importRows.at(-1)!['snapshot bytes']);
    const snap = Number(importRows.at(-1)!['snapshot bytes']);
    for (const contacts of o.contactSizes) {
      const k = (v: Variant, f: string) => Number(data[`${base}/${contacts}/${v}/${f}`]);
      // The snapshot's marginal cost (first minus cached-new) per byte at the base size.
      const baseSnap = k('first', 'snapshotBytes');
      const wallPerByte = Math.max(0, k('first', 'wallMs') - k('cached-new', 'wallMs')) / baseSnap;
      const cpuPerByte = Math.max(0, k('first', 'serverCpuMs') - k('cached-new', 'serverCpuMs')) / baseSnap;
      for (const variant of ['first', 'cached-new', 'resync'] as const) {
        const s = variant === 'first' ? snap : 0;
        rows.push({
          users,
          contacts,
          sync: VARIANT_LABEL[variant],
          source: `model (from ${base.toLocaleString('en-US')})`,
          'wall ms': round(k(variant, 'wallMs') + wallPerByte * s),
          'server CPU ms': round(k(variant, 'serverCpuMs') + cpuPerByte * s),
          'client CPU ms': round(k(variant, 'clientCpuMs')),
          'bytes up': null,
          'bytes down': null,
          'snapshot bytes': s,
          'bytes/contact (excl. snapshot)': round(k(variant, 'bytesPerContact')),
          matches: null,
          runs: 0,
        });
        data[`${users}/${contacts}/${variant}/model/wallMs`] = Number(rows.at(-1)!['wall ms']);
        data[`${users}/${contacts}/${variant}/model/bytes`] = s + k(variant, 'bytesPerContact') * contacts;
      }
    }
  }

  const modelTag = (r: Row) => (String(r.source).startsWith('model') ? ' (model)' : '');
  const allImport = importRows;
  return {
    name: 'scale',
    title: `Scale: the whole path at ${o.sizes.map((n) => n.toLocaleString('en-US')).join(', ')} users${o.modelSizes.filter((n) => !o.sizes.includes(n)).length ? ` (and ${o.modelSizes.filter((n) => !o.sizes.includes(n)).map((n) => n.toLocaleString('en-US')).join(', ')} by model)` : ''}`,
    smoke: o.smoke,
    parameters: { ...o, registeredShare: REGISTERED_SHARE, identifiersPerUser: IDENTIFIERS_PER_USER },
    data,
    notes: [
      'Import: the real `contact-psi directory import <csv> --db <file>` process (its default worker pool for precompute), fresh SQLite file; wall from spawn to exit, CPU and peak RSS of the whole process. Every user has a phone number and a 32-byte label, 40% also an e-mail address.',
      `Syncs: syncAddressBook (VOPRF, proofs checked, labels opened)${o.pool ? ' with a warm client worker pool, the server evaluating on its own pool' : ' on one thread'}, against serveDirectory serving that same file in a child process over loopback WebSocket; ${REGISTERED_SHARE * 100}% of the contacts registered; bytes = message payloads both ways as the server counted them (snapshot included where downloaded); server CPU = the serving process's CPU over the sync (all threads). Median of ${o.reps} run(s).`,
      'The machine is shared (see the load average): wall times stretch with the load, CPU times much less; client CPU = this process (the client and its worker pool), server CPU = the serving process.',
      'first = empty cache (dir.info, snapshot download, OPRF, labels); new contacts, snapshot cached = another address book with the same cache (what a first sync in an epoch costs once the snapshot is held); re-sync = that same book again.',
      'model rows: the largest measured size\'s per-identifier import cost and bits per snapshot entry times N; a sync\'s per-contact part held, plus the snapshot\'s marginal wall and server CPU per byte (first minus new-contacts-cached at that size) times the larger snapshot. Not measured: marked "model".',
      ...notes,
    ],
    sections: [
      { title: 'Import and snapshot', rows: allImport },
      { title: 'Syncs', rows },
      ...extraSections,
    ],
    plots: [
      {
        title: 'Scale: `directory import` wall time vs directory size',
        xLabel: 'users',
        yLabel: 'import wall s',
        logY: true,
        series: seriesFromRows(allImport, (r) => `import${modelTag(r) ? ' (model)' : ' (measured)'}`, (r) => Number(r.users), (r) => Number(r['import wall s'])),
      },
      {
        suffix: 'sync',
        title: 'Scale: sync wall time vs directory size',
        xLabel: 'users',
        yLabel: 'wall ms',
        logY: true,
        series: seriesFromRows(rows, (r) => `${Number(r.contacts).toLocaleString('en-US')} contacts, ${String(r.sync).split(' (')[0]}${modelTag(r)}`, (r) => Number(r.users), (r) => Number(r['wall ms'])),
      },
      {
        suffix: 'bytes',
        title: 'Scale: snapshot and first-sync bytes vs directory size',
        xLabel: 'users',
        yLabel: 'bytes',
        logY: true,
        series: [
          ...seriesFromRows(allImport, (r) => `snapshot${modelTag(r)}`, (r) => Number(r.users), (r) => Number(r['snapshot bytes'])),
          ...seriesFromRows(
            rows.filter((r) => String(r.sync).startsWith('first')),
            (r) => `first sync, ${Number(r.contacts).toLocaleString('en-US')} contacts, excl. snapshot${modelTag(r)}`,
            (r) => Number(r.users),
            (r) => Number(r['bytes/contact (excl. snapshot)']) * Number(r.contacts),
          ),
        ],
      },
    ],
  };
}
