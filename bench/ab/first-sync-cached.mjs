// Client 10,000 new contacts vs the 1M fixture, snapshot cached, pools on both sides (the
// scale scenario's "new contacts, snapshot cached" row without its import). ROOT = a checkout with dist/.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
const root = process.env.ROOT;
const { syncAddressBook } = await import(`${root}/dist/src/client/sync.js`);
const { poolOffload, WorkerPool } = await import(`${root}/dist/src/parallel/index.js`);
const { syntheticBook } = await import(`${root}/dist/bench/address-book.js`);
const { ensureFixture, serveInChild } = await import(`${root}/dist/bench/child-process.js`);
const users = +(process.env.USERS ?? 1_000_000), contacts = +(process.env.CONTACTS ?? 10_000), reps = +(process.env.REPS ?? 2);
const meta = await ensureFixture(users, false);
const server = await serveInChild(meta.path, [], true);
const pool = new WorkerPool();
const offload = poolOffload(pool);
const work = mkdtempSync(join(tmpdir(), 'h13-firstsync-'));
const out = [];
try {
  const sync = async (book, cacheDir) => {
    const before = await server.child.usage();
    const cpu0 = process.cpuUsage();
    const t = performance.now();
    const outcome = await syncAddressBook({ server: server.url, book, cacheDir, offload });
    const wall = performance.now() - t;
    const cpu = process.cpuUsage(cpu0);
    await new Promise((r) => setTimeout(r, 200));
    const after = await server.child.usage();
    return { wall, clientCpu: (cpu.user + cpu.system) / 1000, serverCpu: (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1000, matches: outcome.matches.length, cacheHit: outcome.result.cacheHit };
  };
  await sync(syntheticBook(16, users, 0.25, 7).book, mkdtempSync(join(work, 'warm-')));
  for (let r = 0; r < reps; r++) {
    const cache = mkdtempSync(join(work, 'cache-'));
    await sync(syntheticBook(contacts, users, 0.25, 1 + 2 * r).book, cache); // first: downloads the snapshot
    const b = await sync(syntheticBook(contacts, users, 0.25, 2 + 2 * r).book, cache);
    out.push(b);
    console.log(JSON.stringify({ root, ...b, load: loadavg().map((x) => +x.toFixed(2)) }));
  }
} finally {
  await server.child.stop();
  await pool.close();
  rmSync(work, { recursive: true, force: true });
}
