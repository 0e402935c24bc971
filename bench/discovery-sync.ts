/**
 * Discovery sync over loopback WebSocket: syncAddressBook (the client SDK) against a
 * `serveDirectory` server in a child process (its own core), with the snapshot cached on
 * the client or not. Wall time is the client's, from the call to the outcome; bytes are
 * the server's count of message payloads both ways (WebSocket framing not included).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { syncAddressBook } from '../src/client/sync.js';
import { poolOffload, WorkerPool } from '../src/parallel/index.js';
import { loadGroup } from '../src/group/index.js';
import { createSuite, Modes } from '../src/oprf/index.js';
import { runClientSession } from '../src/transport/ws/index.js';
import { LoadSession } from './load-client.js';
import { syntheticBook } from './address-book.js';
import { ensureFixture, serveInChild } from './child-process.js';
import type { Report, Row } from './report.js';
import { median, round, timeMsAsync } from './timing.js';
import { seriesFromRows } from './plot.js';

export interface DiscoverySyncOptions {
  directoryUsers: number;
  contactSizes: readonly number[];
  reps: number;
  registeredShare: number;
  smoke: boolean;
  /** Worker pools on both sides: the server evaluates chunks on one, the client blinds and finalizes on another. */
  pool: boolean;
}

export async function discoverySyncScenario(o: DiscoverySyncOptions): Promise<Report> {
  const meta = await ensureFixture(o.directoryUsers, o.smoke);
  const server = await serveInChild(meta.path, [], o.pool);
  // Started before timing, as an app keeps its pool between syncs.
  const clientPool = o.pool ? new WorkerPool() : undefined;
  const offload = clientPool ? poolOffload(clientPool) : undefined;
  const rows: Row[] = [];
  const data: Record<string, number> = {};
  const tmpRoot = mkdtempSync(join(tmpdir(), 'contact-psi-sync-'));
  let sessionsSeen = 0;
  try {
    const syncOnce = async (book: ReturnType<typeof syntheticBook>['book'], cacheDir: string) => {
      const before = await server.child.usage();
      const clientBefore = process.cpuUsage(); // this process: the client and its worker pool
      const t = await timeMsAsync(() => syncAddressBook({ server: server.url, book, cacheDir, offload }));
      const clientCpu = process.cpuUsage(clientBefore);
      sessionsSeen++;
      await server.child.sessionsAtLeast(sessionsSeen);
      const after = await server.child.usage();
      const report = server.child.sessions[sessionsSeen - 1] ?? {};
      return {
        ms: t.ms,
        outcome: t.value,
        serverCpuMs: (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1000,
        clientCpuMs: (clientCpu.user + clientCpu.system) / 1000,
        bytesUp: Number(report.bytesIn ?? NaN),
        bytesDown: Number(report.bytesOut ?? NaN),
      };
    };
    // Warm-up: loads the WASM backend and JITs both sides (a client app pays this once).
    await syncOnce(syntheticBook(16, o.directoryUsers, 0.25, 7).book, mkdtempSync(join(tmpRoot, 'warm-')));

    for (const contacts of o.contactSizes) {
      for (const cached of [false, true]) {
        const { book, registered } = syntheticBook(contacts, o.directoryUsers, o.registeredShare);
        const runs: Awaited<ReturnType<typeof syncOnce>>[] = [];
        const warmCache = mkdtempSync(join(tmpRoot, 'cache-'));
        if (cached) await syncOnce(book, warmCache); // fills the cache
        for (let r = 0; r < o.reps; r++) {
          const dir = cached ? warmCache : mkdtempSync(join(tmpRoot, 'cold-'));
          // Cached: a new address book each run with the snapshot held (a first sync in the
          // epoch, every contact evaluated: issue 13's client figure). The same book again
          // would be a re-sync, which evaluates nothing since issue 10 (bench -- resync).
          const run = await syncOnce(cached ? syntheticBook(contacts, o.directoryUsers, o.registeredShare, 1 + r).book : book, dir);
          if (cached && run.outcome.identifiersChecked !== contacts) throw new Error(`expected ${contacts} contacts evaluated, got ${run.outcome.identifiersChecked}`);
          if (run.outcome.result.cacheHit !== cached) throw new Error(`expected cacheHit=${cached}`);
          if (run.outcome.matches.length !== registered) throw new Error(`expected ${registered} matches, got ${run.outcome.matches.length}`);
          runs.push(run);
          if (!cached) rmSync(dir, { recursive: true, force: true });
        }
        // The OPRF exchange alone (hello, info, blinded, evaluated + proofs, an empty label
        // request): the same contacts through the load client, which asks for no labels.
        let oprfBytes = NaN;
        if (cached) {
          const suite = createSuite('ristretto255-SHA512', Modes.VOPRF, await loadGroup('ristretto255', 'auto'));
          const blinded = suite.blind(
            book.contacts.map((c) => new TextEncoder().encode(c.identifiers[0].identifier)),
            (n) => new Uint8Array(randomBytes(n)),
          ).blinded;
          await runClientSession(server.url, new LoadSession(suite.id, blinded));
          sessionsSeen++;
          await server.child.sessionsAtLeast(sessionsSeen);
          const report = server.child.sessions[sessionsSeen - 1] ?? {};
          oprfBytes = Number(report.bytesIn ?? NaN) + Number(report.bytesOut ?? NaN);
          data[`${contacts}/oprfBytesPerContact`] = oprfBytes / contacts;
        }
        const wall = median(runs.map((r) => r.ms));
        const bytes = median(runs.map((r) => r.bytesUp + r.bytesDown));
        const snapshotBytes = runs[0].outcome.result.downloadedBytes;
        rows.push({
          directory: o.directoryUsers,
          contacts,
          snapshot: cached ? 'cached' : 'downloaded',
          'wall ms (median)': round(wall),
          'wall ms (min)': round(Math.min(...runs.map((r) => r.ms))),
          'server CPU ms': round(median(runs.map((r) => r.serverCpuMs))),
          'client CPU ms': round(median(runs.map((r) => r.clientCpuMs))),
          matches: runs[0].outcome.matches.length,
          'false positives': runs[0].outcome.result.falsePositives,
          'bytes up': round(median(runs.map((r) => r.bytesUp))),
          'bytes down': round(median(runs.map((r) => r.bytesDown))),
          'snapshot bytes': snapshotBytes,
          'bytes/contact (excl. snapshot)': round((bytes - snapshotBytes) / contacts),
          'bytes/contact, OPRF only': cached ? round(oprfBytes / contacts) : null,
          runs: runs.length,
        });
        data[`${contacts}/${cached ? 'cached' : 'uncached'}/wallMs`] = wall;
        data[`${contacts}/${cached ? 'cached' : 'uncached'}/serverCpuMs`] = median(runs.map((r) => r.serverCpuMs));
        data[`${contacts}/${cached ? 'cached' : 'uncached'}/clientCpuMs`] = median(runs.map((r) => r.clientCpuMs));
        data[`${contacts}/${cached ? 'cached' : 'uncached'}/bytesPerContact`] = (bytes - snapshotBytes) / contacts;
        console.log(JSON.stringify(rows.at(-1)));
      }
    }
  } finally {
    await server.child.stop();
    await clientPool?.close();
    rmSync(tmpRoot, { recursive: true, force: true });
  }
  return {
    name: o.pool ? 'discovery-sync-pool' : 'discovery-sync',
    title: `Discovery sync over loopback WebSocket against a ${o.directoryUsers.toLocaleString('en-US')}-user directory${o.pool ? ', worker pools on both sides' : ''}`,
    smoke: o.smoke,
    parameters: { ...o, fixture: meta.path, snapshotBytes: meta.snapshotBytes },
    data: { ...data, directoryUsers: o.directoryUsers },
    notes: [
      o.pool
        ? `Client: syncAddressBook with a warm worker pool of ${clientPool?.size} (blinding and finalizing offloaded; 1,024-contact chunks (in books of 4 chunks or more the first and the last a quarter of that), pipelined: blinds drawn per chunk two chunks ahead, each chunk's proof checked and its filter lookups done as it is finalized; labels opened; the files written at the end at once) in this process; server: serveDirectory on a prebuilt SQLite directory in a child process, evaluating chunks on its own worker pool; ${Math.round(o.registeredShare * 100)}% of the contacts are registered.`
        : `Client: syncAddressBook (VOPRF, proof checked per 4096-contact chunk, labels opened) on one thread in this process; server: serveDirectory on a prebuilt SQLite directory in a child process, evaluating on its event loop; ${Math.round(o.registeredShare * 100)}% of the contacts are registered.`,
      'cached = the client already holds the snapshot of this epoch and version and syncs a new address book each run (every contact evaluated: a first sync in the epoch; only the OPRF exchange and the labels cross the wire; a re-sync of the same book is bench -- resync); downloaded = a fresh cache directory (the snapshot is fetched and written to disk).',
      `SQLite statistics: ${meta.analyzed ? 'the directory file was ANALYZEd after its build (see bench/README.md: without it every label lookup scans all tags)' : 'no ANALYZE (--no-analyze): label lookups scan all tags of the epoch'}.`,
      'bytes = message payloads both ways as the server counted them; bytes/contact leaves out the snapshot, so the proof (64 bytes per chunk) is amortized and the sealed labels of matches (and their lookup keys) are included; OPRF only = the same contacts through the load client, without the label round trip.',
    ],
    sections: [{ title: 'Sync', rows }],
    plots: [
      {
        title: 'Discovery sync: wall time vs address-book size',
        xLabel: 'contacts',
        yLabel: 'wall ms',
        logY: true,
        series: seriesFromRows(rows, (r) => `snapshot ${String(r.snapshot)}`, (r) => Number(r.contacts), (r) => Number(r['wall ms (median)'])),
      },
    ],
  };
}
