/**
 * `contact-psi demo --fleet 3`: a fleet in one command. An embedded PostgreSQL, three
 * `serve` processes on it (one leads), a generated directory imported while they run (its
 * precompute split across the nodes and this process by claimed ranges), clients syncing
 * across the nodes, one node killed with SIGKILL mid-run; then per-node work, and a check
 * that every sync completed with the planted matches (the clients retry on the next node).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { seededRng } from '../../contacts/generate.js';
import { parseAddressBook } from '../../contacts/index.js';
import { createKekFile, generateDirectory } from '../../directory/index.js';
import { PostgresStore } from '../../directory/postgres/store.js';
import { sharedFill } from '../../directory/postgres/shared-fill.js';
import { poolEvaluator } from '../../parallel/index.js';
import { demoAddressBook } from '../demo-data.js';
import { startEmbeddedPostgres } from '../embedded-postgres.js';
import { startNodeProcess, type NodeProcess } from '../fleet-process.js';
import { syncAcrossFleet, type FleetSyncOutcome } from '../fleet-sync.js';
import { openDirectory } from '../open-directory.js';

export interface FleetDemoOptions {
  nodes: number;
  users: number;
  contacts: number;
  /** Clients syncing, spread over the nodes. */
  clients?: number;
}

export async function demoFleet(options: FleetDemoOptions): Promise<void> {
  const { nodes: nodeCount, users: userCount, contacts } = options;
  if (!Number.isInteger(nodeCount) || nodeCount < 2 || nodeCount > 16) throw new Error('--fleet must be 2..16 nodes');
  const clientCount = options.clients ?? nodeCount * 2;
  const work = mkdtempSync(join(tmpdir(), 'contact-psi-fleet-demo-'));
  const t0 = performance.now();
  const at = () => `${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s`;
  const say = (line: string) => console.log(`${at()}  ${line}`);
  const nodes: NodeProcess[] = [];
  say('starting an embedded PostgreSQL');
  const server = await startEmbeddedPostgres();
  try {
    const kekFile = join(work, 'kek');
    createKekFile(kekFile);
    const db = server.url;
    say(`PostgreSQL up; key-encryption key ${kekFile} (0600); starting ${nodeCount} nodes`);
    for (let i = 1; i <= nodeCount; i++) {
      const node = await startNodeProcess({ name: `node${i}`, db, kekFile, args: ['--refresh-seconds', '3600', '--fill-range', '512'] });
      nodes.push(node);
      say(`node${i} listening on ${node.url}${i === 1 ? ' (leader)' : ''}`);
    }

    // The import, while the nodes run: they hear of it on the change feed and claim ranges of its tags.
    const rng = seededRng(2026);
    const users = generateDirectory(userCount, rng);
    const opened = await openDirectory(db, 'auto', true, { kekFile });
    let digest: string;
    let version: number;
    try {
      const { directory } = opened;
      const store = directory.store as PostgresStore;
      ({ version } = await directory.importUsers(users));
      say(`imported ${userCount} users (version ${version}); the nodes join the precompute`);
      const mine = await sharedFill({
        pool: store.pool,
        store,
        suite: directory.suite,
        secretKey: directory.epochKeyPair().secretKey,
        epoch: directory.currentEpoch,
        node: 'import',
        rangeSize: 512,
        evaluator: opened.pool ? poolEvaluator(opened.pool, directory.suite) : undefined,
      });
      await directory.precompute();
      digest = (await directory.snapshot('fuse')).digest;
      say(`precompute done (this process: ${mine.computed} tags in ${mine.ranges} ranges); snapshot digest ${digest.slice(0, 16)}…`);
    } finally {
      await opened.close();
    }
    await Promise.all(nodes.map((n) => n.waitFor(new RegExp(`serving epoch \\d+ version ${version} digest ${digest}`))));
    say(`all ${nodeCount} nodes serve version ${version}, digest ${digest.slice(0, 16)}…`);

    // Clients spread over the nodes; each tries its node first, then the others.
    const urls = nodes.map((n) => n.url);
    const victim = nodes[nodeCount - 1]!;
    let killed: Promise<void> | undefined;
    const kill = () => {
      killed ??= victim.kill9().then(() => say(`killed ${victim.name} with SIGKILL mid-run`));
    };
    const planted = Array.from({ length: clientCount }, (_, i) => demoAddressBook(users, contacts, seededRng(100 + i)));
    const runs = planted.map(async (book, i) => {
      const start = i % nodeCount;
      const order = [...urls.slice(start), ...urls.slice(0, start)];
      const outcome = await syncAcrossFleet({
        servers: order,
        book: parseAddressBook(book.vcard, { defaultRegion: 'CH' }),
        cacheDir: join(work, `client-${i}`),
        chunkItems: 256,
        onEvent: (e) => {
          if (order[0] === victim.url && e.type === 'progress' && e.phase === 'evaluate' && e.done > 0) kill();
        },
        onFailover: (failed, code) => {
          say(`client ${i}: ${nodes.find((n) => n.url === failed)?.name} failed (${code}); retrying on the next node`);
        },
      });
      return { i, outcome, book };
    });
    const results = await Promise.all(runs);
    await killed;

    // Per-node work, from the database (ranges) and from the clients (syncs served).
    const admin = new pg.Client({ connectionString: db });
    await admin.connect();
    const ranges = new Map((await admin.query<{ done_by: string; n: number; tags: number }>(
      `SELECT done_by, count(*)::int AS n, coalesce(sum(computed), 0)::int AS tags FROM work_items GROUP BY done_by`,
    )).rows.map((r) => [r.done_by, r]));
    await admin.end();
    console.log('\nper node:');
    for (const name of ['import', ...nodes.map((n) => n.name)]) {
      const r = ranges.get(name);
      const node = nodes.find((n) => n.name === name);
      const served = node ? results.filter((x) => x.outcome.server === node.url).length : 0;
      const dead = node === victim ? ' (killed)' : '';
      console.log(`  ${name.padEnd(8)} precompute: ${String(r?.n ?? 0).padStart(4)} ranges, ${String(r?.tags ?? 0).padStart(7)} tags; syncs completed: ${served}${dead}`);
    }
    let wrong = 0;
    for (const { i, outcome, book } of results) {
      const found = new Set(outcome.result.matches.map((m) => m.identifier));
      const missing = [...book.expected].filter((id) => !found.has(id)).length;
      const leaked = [...book.hidden].filter((id) => found.has(id)).length;
      if (missing > 0 || leaked > 0) wrong++;
      const via = nodes.find((n) => n.url === outcome.server)?.name;
      const retried = outcome.failed.length > 0 ? `, after ${outcome.failed.length} failed node` : '';
      console.log(`  client ${i}: ${outcome.result.matches.length} matches via ${via}${retried}; missing ${missing}, opted-out found ${leaked}`);
    }
    if (wrong > 0) throw new Error(`fleet demo check failed: ${wrong} syncs had wrong matches`);
    console.log(`\nevery sync (${results.length}) completed with the right matches; ${results.filter((r) => r.outcome.failed.length > 0).length} of them retried on another node after the kill`);
  } finally {
    for (const n of nodes) await n.stop().catch(() => {});
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
