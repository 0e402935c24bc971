/**
 * `bench -- resync`: what a daily re-sync costs after issue 10 §4 (incremental sync), on
 * the real code a user runs: the whole `contact-psi sync` process (dist/src/cli/main.js)
 * against a directory of N users (default 1M, the cached SQLite fixture), served in this
 * process by a DiscoveryServerSession per connection (the server's own count of blinded
 * elements evaluated and lookup keys asked is read from its result events), behind a
 * counting TCP proxy (bytes both ways, WebSocket upgrade included).
 *
 * Runs, each a fresh CLI process on the same cache folder:
 * 1. first sync of a 1,024-contact book (25% registered), empty cache;
 * 2. re-sync of the unchanged book (the OPRF outputs of the epoch cached): the new path;
 * 3. the same re-sync with the outputs cache deleted first: today's path before issue 10
 *    (snapshot cached, the whole book evaluated again), in the same run, for the ratios;
 * 4. the book plus 10 new contacts (3 registered), from the outputs of run 2 each time.
 * Targets (issue 10 §4): run 2 makes 0 evaluations, moves < 2 KiB, the process takes
 * <= 0.35 s; run 4 makes exactly 10 evaluations.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectoryDiscoveryBackend } from '../src/directory/discovery-backend.js';
import { DiscoveryServerSession, type DiscoveryServerResult } from '../src/protocol/discovery/server.js';
import { startServer, type SessionReport } from '../src/transport/ws/index.js';
import { syntheticBook } from './address-book.js';
import { ensureFixture } from './child-process.js';
import { runCli } from './cli-run.js';
import { absentIdentifier, fixturePath, openBenchDirectory, registeredIdentifier } from './directory-fixture.js';
import type { Report, Row } from './report.js';
import { median, round } from './timing.js';

export interface ResyncOptions {
  users: number;
  contacts: number;
  added: number;
  reps: number;
  smoke: boolean;
}

/** A TCP proxy that counts the bytes of each connection both ways. */
async function countingProxy(target: URL): Promise<{ url: string; bytes(): number; reset(): void; close(): Promise<void> }> {
  let total = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    const outbound = connect(Number(target.port), target.hostname);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    inbound.on('data', (d: Buffer) => {
      total += d.length;
      outbound.write(d);
    });
    outbound.on('data', (d: Buffer) => {
      total += d.length;
      inbound.write(d);
    });
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    bytes: () => total,
    reset: () => (total = 0),
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Spawn to exit of `node -e 0`: the floor any whole-process figure on this machine sits on. */
async function nodeFloorMs(): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await once(child, 'exit');
  return performance.now() - started;
}

function writeCsv(path: string, numbers: readonly string[]): void {
  writeFileSync(path, ['name,phone', ...numbers.map((n, i) => `Contact ${i},${n}`)].join('\n') + '\n');
}

interface RunFigures {
  wallMs: number;
  cpuMs: number;
  maxRssMiB: number;
  bytes: number;
  evaluated: number;
  labels: number;
  matches: number;
}

export async function resyncScenario(o: ResyncOptions): Promise<Report> {
  const meta = await ensureFixture(o.users, o.smoke);
  const path = fixturePath(o.users, o.smoke);
  const directory = await openBenchDirectory('sqlite', path);
  const backend = await DirectoryDiscoveryBackend.open(directory, 'fuse');
  const results: DiscoveryServerResult[] = [];
  const reports: SessionReport[] = [];
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    createSession: ({ now }) => {
      const session = new DiscoveryServerSession({ backend, rng: (n) => new Uint8Array(randomBytes(n)), now });
      const poll = session.pollEvent.bind(session);
      session.pollEvent = () => {
        const event = poll();
        if (event?.type === 'result') results.push(event.result);
        return event;
      };
      return session;
    },
  });
  server.on('session', (r: SessionReport) => reports.push(r));
  const proxy = await countingProxy(new URL(server.url));
  const work = mkdtempSync(join(tmpdir(), 'contact-psi-resync-'));
  const cache = join(work, 'cache');
  try {
    const { book, registered } = syntheticBook(o.contacts, o.users, 0.25);
    const numbers = book.contacts.map((c) => c.identifiers[0].raw);
    // New contacts: a few registered (from the end of the directory), the rest not.
    const newRegistered = Math.min(3, o.added);
    const extra = [
      ...Array.from({ length: newRegistered }, (_, k) => registeredIdentifier(o.users - 1 - k).slice(4)),
      ...Array.from({ length: o.added - newRegistered }, (_, k) => absentIdentifier(5_000_000 + k).slice(4)),
    ];
    const bookCsv = join(work, 'book.csv');
    const grownCsv = join(work, 'grown.csv');
    writeCsv(bookCsv, numbers);
    writeCsv(grownCsv, [...numbers, ...extra]);

    const run = async (csv: string): Promise<RunFigures> => {
      proxy.reset();
      const before = results.length;
      const sessionsBefore = reports.length;
      const r = await runCli(['sync', '--server', proxy.url, '--contacts', csv, '--cache', cache, '--json']);
      if (r.code !== 0) throw new Error(`contact-psi sync exited ${r.code}: ${r.stderrTail.slice(-1500)}`);
      // The server's session reports once the connection closed: wait for it, no timer.
      while (reports.length === sessionsBefore) await once(server, 'session');
      const result = results[before];
      if (!result || results.length !== before + 1) throw new Error('expected one completed server session per sync');
      return {
        wallMs: r.wallMs,
        cpuMs: r.cpuMs,
        maxRssMiB: r.maxRssMiB,
        bytes: proxy.bytes(),
        evaluated: result.evaluated,
        labels: result.labelsRequested,
        matches: (JSON.parse(r.stdout) as unknown[]).length,
      };
    };
    const outputsFile = (): string => {
      for (const d of readdirSync(cache)) {
        const p = join(cache, d, 'outputs.cache');
        if (existsSync(p)) return p;
      }
      throw new Error('no outputs.cache after a sync');
    };

    const first = await run(bookCsv);
    const saved = join(work, 'outputs.saved');
    copyFileSync(outputsFile(), saved);
    const fresh: RunFigures[] = [];
    const today: RunFigures[] = [];
    const grown: RunFigures[] = [];
    const floor: number[] = [];
    for (let rep = 0; rep < o.reps; rep++) {
      floor.push(await nodeFloorMs());
      // Interleaved, so the machine's load moves both alike.
      copyFileSync(saved, outputsFile());
      fresh.push(await run(bookCsv));
      rmSync(outputsFile());
      today.push(await run(bookCsv));
      copyFileSync(saved, outputsFile());
      grown.push(await run(grownCsv));
    }
    const med = (xs: RunFigures[], k: keyof RunFigures) => median(xs.map((x) => x[k]));
    const row = (name: string, xs: RunFigures[]): Row => ({
      run: name,
      'wall ms (median)': round(med(xs, 'wallMs')),
      'wall ms (min..max)': `${round(Math.min(...xs.map((x) => x.wallMs)))}..${round(Math.max(...xs.map((x) => x.wallMs)))}`,
      'CPU ms': round(med(xs, 'cpuMs')),
      'peak RSS MiB': round(med(xs, 'maxRssMiB')),
      'bytes (TCP, both ways)': med(xs, 'bytes'),
      'evaluations (server)': med(xs, 'evaluated'),
      'label keys (server)': med(xs, 'labels'),
      matches: med(xs, 'matches'),
    });
    const rows: Row[] = [
      row('first sync (empty cache)', [first]),
      row('re-sync, unchanged book (new: outputs cached)', fresh),
      row("re-sync, unchanged book, today's path (outputs deleted: whole book evaluated)", today),
      row(`book + ${o.added} new contacts (${newRegistered} registered)`, grown),
      { run: '`node -e 0` (process floor on this machine, same run)', 'wall ms (median)': round(median(floor)), 'wall ms (min..max)': `${round(Math.min(...floor))}..${round(Math.max(...floor))}` },
    ];
    const ratio = (a: number, b: number) => (b > 0 ? round(a / b, 3) : NaN);
    const data = {
      users: o.users,
      contacts: o.contacts,
      registered,
      resyncEvaluations: med(fresh, 'evaluated'),
      resyncLabelKeys: med(fresh, 'labels'),
      resyncBytes: med(fresh, 'bytes'),
      resyncWallMs: round(med(fresh, 'wallMs')),
      todayEvaluations: med(today, 'evaluated'),
      todayBytes: med(today, 'bytes'),
      todayWallMs: round(med(today, 'wallMs')),
      wallRatio: ratio(med(fresh, 'wallMs'), med(today, 'wallMs')),
      bytesRatio: ratio(med(fresh, 'bytes'), med(today, 'bytes')),
      addedEvaluations: med(grown, 'evaluated'),
      nodeFloorMs: round(median(floor)),
      targets: {
        zeroEvaluations: med(fresh, 'evaluated') === 0,
        under2KiB: med(fresh, 'bytes') < 2048,
        wallAtMost350ms: med(fresh, 'wallMs') <= 350,
        exactlyAddedEvaluations: grown.every((g) => g.evaluated === o.added),
      },
    };
    return {
      name: 'resync',
      title: `Re-sync: incremental sync of a ${o.contacts.toLocaleString('en-US')}-contact book against ${o.users.toLocaleString('en-US')} users (issue 10 §4)`,
      smoke: o.smoke,
      parameters: { users: o.users, contacts: o.contacts, added: o.added, reps: o.reps, fixtureSnapshotMiB: round(meta.snapshotBytes / 2 ** 20) },
      data,
      sections: [
        {
          title: 'Whole `contact-psi sync` processes (spawn to exit)',
          rows,
          notes: [
            `Ratios, new / today's path in the same run (medians of ${o.reps}): wall ${data.wallRatio}, bytes ${data.bytesRatio}; evaluations ${data.resyncEvaluations} vs ${data.todayEvaluations}.`,
            `Targets: 0 evaluations ${data.targets.zeroEvaluations ? 'met' : 'NOT met'}; < 2 KiB ${data.targets.under2KiB ? 'met' : 'NOT met'} (${data.resyncBytes} B); <= 0.35 s ${data.targets.wallAtMost350ms ? 'met' : 'NOT met'} (${data.resyncWallMs} ms); exactly ${o.added} evaluations for ${o.added} new contacts ${data.targets.exactlyAddedEvaluations ? 'met' : 'NOT met'}.`,
            'Evaluations and label keys are counted by the server session (its result event); bytes at a TCP proxy in front of the server (WebSocket upgrade and framing included). No token: no quota, random blinds.',
          ],
        },
      ],
    };
  } finally {
    await proxy.close();
    await server.close();
    await directory.close();
    rmSync(work, { recursive: true, force: true });
  }
}
