/**
 * Server throughput: 1, 8 and 64 clients, each running discovery sessions back to back
 * (1,024 contacts each, pre-blinded, see load-client.ts) against one `serveDirectory`
 * server in a child process, for a fixed time. Contacts/s is wall-clock; "per core" is
 * contacts per second of the server's own CPU time (user + system), which is what the
 * server could do per core if the clients were elsewhere.
 */
import { randomBytes } from 'node:crypto';
import { loadGroup } from '../src/group/index.js';
import { createSuite, Modes } from '../src/oprf/index.js';
import { runClientSession } from '../src/transport/ws/index.js';
import { syntheticBook } from './address-book.js';
import { ensureFixture, serveInChild } from './child-process.js';
import { LoadSession } from './load-client.js';
import { seriesFromRows } from './plot.js';
import type { Report, Row } from './report.js';
import { round } from './timing.js';

export interface ThroughputOptions {
  directoryUsers: number;
  concurrency: readonly number[];
  contactsPerSession: number;
  seconds: number;
  smoke: boolean;
  /** The server evaluates on a worker pool (every core) instead of its event loop. */
  pool: boolean;
}

export async function throughputScenario(o: ThroughputOptions): Promise<Report> {
  const meta = await ensureFixture(o.directoryUsers, o.smoke);
  const group = await loadGroup('ristretto255', 'auto');
  const suite = createSuite('ristretto255-SHA512', Modes.VOPRF, group);
  const { book } = syntheticBook(o.contactsPerSession, o.directoryUsers, 0.25);
  const blinded = suite.blind(
    book.contacts.map((c) => new TextEncoder().encode(c.identifiers[0].identifier)),
    (n) => new Uint8Array(randomBytes(n)),
  ).blinded;
  const server = await serveInChild(meta.path, [], o.pool);
  const rows: Row[] = [];
  const data: Record<string, number> = {};
  try {
    await runClientSession(server.url, new LoadSession(suite.id, blinded)); // warm-up
    for (const clients of o.concurrency) {
      const before = await server.child.usage();
      const clientCpuBefore = process.cpuUsage();
      const start = performance.now();
      const deadline = start + o.seconds * 1000;
      let sessions = 0;
      let contacts = 0;
      const failures = new Map<string, number>();
      const loops = Array.from({ length: clients }, async () => {
        do {
          try {
            const result = await runClientSession(server.url, new LoadSession(suite.id, blinded));
            sessions++;
            contacts += result.evaluated;
          } catch (err) {
            // A refused or dropped connection is a result (the server's event loop was busy
            // evaluating for longer than the handshake timeout), not a reason to stop.
            const e = err as { code?: string; closeCode?: number };
            const key = `${e.code ?? 'error'}${e.closeCode ? ` ${e.closeCode}` : ''}`;
            failures.set(key, (failures.get(key) ?? 0) + 1);
            await new Promise((r) => setTimeout(r, 50));
          }
        } while (performance.now() < deadline);
      });
      await Promise.all(loops);
      const wallS = (performance.now() - start) / 1000;
      const after = await server.child.usage();
      const clientCpu = process.cpuUsage(clientCpuBefore);
      const serverCpuS = (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1e6;
      const perCore = contacts / serverCpuS;
      rows.push({
        clients,
        sessions,
        contacts,
        'wall s': round(wallS),
        'contacts/s': round(contacts / wallS),
        'server CPU s': round(serverCpuS),
        'server CPU use': round(serverCpuS / wallS, 3),
        'contacts/s per server core': round(perCore),
        'client process CPU s': round((clientCpu.user + clientCpu.system) / 1e6),
        'server peak RSS MiB': round(after.maxRssMiB),
        'failed sessions': [...failures].map(([k, v]) => `${v} x ${k}`).join(', ') || 0,
      });
      data[`${clients}/contactsPerSecond`] = contacts / wallS;
      data[`${clients}/perCore`] = perCore;
      console.log(JSON.stringify(rows.at(-1)));
    }
  } finally {
    await server.child.stop();
  }
  return {
    name: o.pool ? 'throughput-pool' : 'throughput',
    title: `Server throughput: contacts evaluated per second${o.pool ? ', evaluation on a worker pool' : ', evaluation on the event loop'}`,
    smoke: o.smoke,
    parameters: { ...o, fixture: meta.path, backend: group.backend },
    data,
    notes: [
      `Each session: dir.hello, ${o.contactsPerSession} blinded contacts in chunks of at most 4096, one DLEQ proof per chunk (VOPRF), an empty label request. Directory of ${o.directoryUsers.toLocaleString('en-US')} users (the size does not enter the evaluation cost).`,
      `SQLite statistics: ${meta.analyzed ? 'the directory file was ANALYZEd after its build (see bench/README.md: without it every label lookup scans all tags)' : 'no ANALYZE (--no-analyze): label lookups scan all tags of the epoch'}.`,
      'failed sessions: connections that did not complete (e.g. `closed 1006`: the upgrade waited behind synchronous evaluations longer than the 10 s handshake timeout); they count for nothing in contacts/s.',
      'The server is one Node process (one event loop; no worker pool: the discovery session evaluates synchronously in handle()). The load clients run in the parent process on the other core and do no client-side cryptography.',
    ],
    sections: [{ title: 'Throughput', rows }],
    plots: [
      {
        title: 'Server throughput vs concurrent clients',
        xLabel: 'concurrent clients',
        yLabel: 'contacts per second',
        series: [
          ...seriesFromRows(rows, () => 'wall-clock', (r) => Number(r.clients), (r) => Number(r['contacts/s'])),
          ...seriesFromRows(rows, () => 'per server CPU-second', (r) => Number(r.clients), (r) => Number(r['contacts/s per server core'])),
        ],
      },
    ],
  };
}
