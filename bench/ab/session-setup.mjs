// Session-PSI server setup on the worker pool, OLD vs NEW checkouts interleaved (bench/ab/README.md):
// prepareServerSetParallel + the server's dir.hello work (intersection tags and the GCS encoding),
// wall and process CPU (the pools' threads included) per element.
import { loadavg } from 'node:os';
const [oldRoot, newRoot] = process.argv.slice(2, 4);
if (!oldRoot || !newRoot) throw new Error('usage: node bench/ab/session-setup.mjs OLD_CHECKOUT NEW_CHECKOUT [items] [runs]');
const n = +(process.argv[4] ?? 100_000);
const runs = +(process.argv[5] ?? 3);
const rng = (k) => crypto.getRandomValues(new Uint8Array(k));
const load = async (root) => {
  const { loadGroup } = await import(`${root}/dist/src/group/index.js`);
  const { createSuite, Modes } = await import(`${root}/dist/src/oprf/index.js`);
  const { WorkerPool } = await import(`${root}/dist/src/parallel/index.js`);
  const { prepareServerSetParallel } = await import(`${root}/dist/src/parallel/server-set.js`);
  const { ServerSession } = await import(`${root}/dist/src/protocol/server-session.js`);
  const { ClientSession } = await import(`${root}/dist/src/protocol/client-session.js`);
  const suite = createSuite('ristretto255-SHA512', Modes.OPRF, await loadGroup('ristretto255', 'auto'));
  const pool = new WorkerPool();
  return { suite, pool, prepareServerSetParallel, ServerSession, ClientSession };
};
const sides = { old: await load(oldRoot), new: await load(newRoot) };
const items = Array.from({ length: n }, (_, i) => new TextEncoder().encode(`tel:+4179${String(i).padStart(7, '0')}`));
const one = async (s) => {
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  const prepared = await s.prepareServerSetParallel(s.pool, s.suite, items, rng);
  // The server's dir.hello: intersection tags and the GCS encoding, as bench/session-psi.ts times it.
  const server = new s.ServerSession({ prepared, rng, now: 0 });
  const client = new s.ClientSession({ suite: s.suite, items: items.slice(0, 1000), rng, encoding: 'gcs', falsePositiveRate: 1e-6, chunkSize: 4096 });
  client.start(0);
  server.handle(client.pollTransmit(), 0);
  const wall = performance.now() - t;
  const cpu = process.cpuUsage(cpu0);
  return { wallUs: (1000 * wall) / n, cpuUs: (cpu.user + cpu.system) / n };
};
await one(sides.old); // warm-up: workers, WASM, JIT
await one(sides.new);
const res = { old: [], new: [] };
for (let r = 0; r < runs; r++) for (const k of ['old', 'new']) res[k].push(await one(sides[k]));
const min = (a, f) => Math.min(...a.map(f));
for (const k of ['old', 'new']) console.log(`${k}: setup of ${n} items, µs per element: wall min ${min(res[k], (x) => x.wallUs).toFixed(1)}, CPU (all threads) min ${min(res[k], (x) => x.cpuUs).toFixed(1)}`);
console.log(`old/new: wall ${(min(res.old, (x) => x.wallUs) / min(res.new, (x) => x.wallUs)).toFixed(3)}, CPU ${(min(res.old, (x) => x.cpuUs) / min(res.new, (x) => x.cpuUs)).toFixed(3)}; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
await Promise.all([sides.old.pool.close(), sides.new.pool.close()]);
