/**
 * The fleet (issue 11 §5): contacts evaluated per second by 1, 2 and 3 `serve` processes on
 * one embedded PostgreSQL, with the same concurrent load clients spread over the nodes
 * round-robin (1,024 pre-blinded contacts per session, as in `throughput`), and the time a
 * directory change takes to reach every node (import committed -> every node serves the new
 * digest, through the change feed; the nodes' polling fallback is set to an hour).
 *
 * CPU-normalised: "per CPU-second" is contacts per second of the nodes' own CPU time (user +
 * system, from /proc), the figure that scales with machines. Wall-clock contacts/s cannot
 * grow past the cores the nodes share: this machine has os.availableParallelism() cores
 * (2 where the figures in bench/results were made), shared with the clients and PostgreSQL.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startEmbeddedPostgres } from '../src/cli/embedded-postgres.js';
import { startNodeProcess, type NodeProcess } from '../src/cli/fleet-process.js';
import { openDirectory } from '../src/cli/open-directory.js';
import { createKekFile, generateDirectory } from '../src/directory/index.js';
import { loadGroup } from '../src/group/index.js';
import { createSuite, Modes } from '../src/oprf/index.js';
import { runClientSession } from '../src/transport/ws/index.js';
import { syntheticBook } from './address-book.js';
import { LoadSession } from './load-client.js';
import type { Report, Row } from './report.js';
import { round } from './timing.js';

export interface FleetBenchOptions {
  users: number;
  nodes: readonly number[];
  clients: number;
  contactsPerSession: number;
  seconds: number;
  smoke: boolean;
}

/** utime + stime of a process in seconds (Linux /proc; 0 elsewhere). */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks, USER_HZ = 100 on Linux
  } catch {
    return 0;
  }
}

export async function fleetScenario(o: FleetBenchOptions): Promise<Report> {
  const work = mkdtempSync(join(tmpdir(), 'contact-psi-bench-fleet-'));
  const server = await startEmbeddedPostgres();
  const kekFile = join(work, 'kek');
  createKekFile(kekFile);
  const db = server.url;
  const rows: Row[] = [];
  const data: Record<string, unknown> = {};
  let changeRow: Row | undefined;
  try {
    // The directory, imported and precomputed once (this process), before any node starts.
    const users = generateDirectory(o.users, (n) => new Uint8Array(randomBytes(n)));
    const opened = await openDirectory(db, 'auto', true, { kekFile });
    try {
      await opened.directory.importUsers(users);
      await opened.directory.precompute();
      await opened.directory.snapshot('fuse');
    } finally {
      await opened.close();
    }
    const suite = createSuite('ristretto255-SHA512', Modes.VOPRF, await loadGroup('ristretto255', 'auto'));
    const { book } = syntheticBook(o.contactsPerSession, o.users, 0.25);
    const blinded = suite.blind(book.contacts.map((c) => new TextEncoder().encode(c.identifiers[0].identifier)), (n) => new Uint8Array(randomBytes(n))).blinded;

    for (const count of o.nodes) {
      const nodes: NodeProcess[] = [];
      try {
        for (let i = 1; i <= count; i++) nodes.push(await startNodeProcess({ name: `bench${i}`, db, kekFile, args: ['--refresh-seconds', '3600'] }));
        for (const n of nodes) await runClientSession(n.url, new LoadSession(suite.id, blinded)); // warm-up
        const cpuBefore = nodes.map((n) => cpuSeconds(n.child.pid!));
        const start = performance.now();
        const deadline = start + o.seconds * 1000;
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
        const wall = (performance.now() - start) / 1000;
        const cpu = nodes.reduce((sum, n, i) => sum + cpuSeconds(n.child.pid!) - cpuBefore[i]!, 0);
        const row: Row = {
          nodes: count,
          clients: o.clients,
          'contacts/s': round(contacts / wall),
          'node CPU s': round(cpu),
          'contacts per node CPU-s': cpu > 0 ? round(contacts / cpu) : null,
          failed: failures,
        };
        rows.push(row);
        data[`nodes${count}`] = row;

        if (count === Math.max(...o.nodes)) {
          // Change propagation: one more user, then every node serving the new digest.
          const d = await openDirectory(db, 'auto', false, { kekFile });
          try {
            const t0 = performance.now();
            const { version } = await d.directory.importUsers([{ userId: 'bench-change', identifiers: ['tel:+41790009999'] }]);
            const committed = performance.now();
            await Promise.all(nodes.map((n) => n.waitFor(new RegExp(`serving epoch \\d+ version ${version} `))));
            const all = performance.now();
            changeRow = { nodes: count, 'import commit ms': round(committed - t0), 'commit -> every node serves it, ms': round(all - committed) };
            data.changePropagation = changeRow;
          } finally {
            await d.close();
          }
        }
      } finally {
        for (const n of nodes) await n.stop();
      }
    }
  } finally {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const cores = availableParallelism();
  return {
    name: 'fleet',
    title: 'Fleet: serve processes on one PostgreSQL',
    smoke: o.smoke,
    parameters: { users: o.users, nodes: o.nodes, clients: o.clients, contactsPerSession: o.contactsPerSession, seconds: o.seconds, cores },
    notes: [
      `This machine has ${cores} cores, shared by the nodes, the load clients and PostgreSQL (and, here, by other jobs): wall-clock contacts/s cannot grow with nodes past the cores; "contacts per node CPU-s" is the CPU-normalised figure (what each node does per core it gets).`,
      'Each node evaluates on its own worker pool (one thread per core), so even one node uses every core: more nodes on one machine add availability, not throughput. On separate machines throughput adds up per node, and the CPU-normalised figure is what each one contributes.',
    ],
    data,
    sections: [
      { title: `Contacts per second, ${o.clients} concurrent clients spread over the nodes (${o.contactsPerSession} contacts per session, ${o.users} users)`, rows },
      ...(changeRow ? [{ title: 'A directory change reaching every node (change feed; polling fallback set to 1 h)', rows: [changeRow] }] : []),
    ],
  };
}
