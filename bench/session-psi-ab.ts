/**
 * Session-PSI server setup, two builds in one process, alternating (the only comparison
 * that holds on a shared machine): each round prepares the same server set on each build's
 * own pool (prepareServerSetParallel) and handles a client's hello (the GCS built and
 * sent), in turn, the order flipped every round. Per variant: wall, CPU of the whole
 * process (all threads), this thread's CPU and the workers' sleep (from /proc schedstat:
 * time neither running nor waiting for a core, i.e. waiting for work), per server element.
 * Optionally the peer's setup (@openmined/psi.js, one thread) on the same set, for the ratio.
 *
 *   node dist/bench/session-psi-ab.js --old=/tmp/old/dist --new=dist [--server=100000]
 *     [--clients=1000,10000] [--rounds=3] [--peer=20000]
 *
 * `--old` is a dist/ of the previous build (e.g. `git worktree` + `npm run build`, or a copy
 * of dist/ made before the change, with node_modules reachable from it).
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadOpenMined } from './peers/openmined.js';

const arg = (name: string, fallback: string): string => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const rng = (n: number) => new Uint8Array(randomBytes(n));
const utf8 = (s: string) => new TextEncoder().encode(s);

interface Variant {
  name: string;
  prepare: (items: Uint8Array[]) => Promise<unknown>;
  hello: (prepared: unknown, clientSize: number) => number;
  close: () => Promise<void>;
}

async function loadVariant(name: string, dist: string): Promise<Variant> {
  const root = pathToFileURL(isAbsolute(dist) ? dist : resolve(dist)).href;
  const imp = (p: string) => import(`${root}/${p}`);
  const { loadGroup } = await imp('src/group/index.js');
  const { createSuite, Modes } = await imp('src/oprf/index.js');
  const { WorkerPool, prepareServerSetParallel } = await imp('src/parallel/index.js');
  const { ServerSession } = await imp('src/protocol/server-session.js');
  const { ClientSession } = await imp('src/protocol/client-session.js');
  const suite = createSuite('ristretto255-SHA512', Modes.OPRF, await loadGroup('ristretto255', 'auto'));
  const pool = new WorkerPool({});
  return {
    name,
    prepare: (items) => prepareServerSetParallel(pool, suite, items, rng),
    // The server's part of the setup after prepare: parse the hello, build and send the GCS.
    hello(prepared, clientSize) {
      const client = Array.from({ length: clientSize }, (_, i) => utf8(`tel:+4179${String(i).padStart(7, '0')}`));
      const cs = new ClientSession({ suite, items: client, rng, encoding: 'gcs', falsePositiveRate: 1e-6, chunkSize: 4096 });
      cs.start(0);
      const hello = cs.pollTransmit();
      const ss = new ServerSession({ prepared, rng, now: 0 });
      const t = performance.now();
      ss.handle(hello, 0);
      const setup = ss.pollTransmit();
      const ms = performance.now() - t;
      if (!setup) throw new Error(`${name}: no setup message`);
      return ms;
    },
    close: () => pool.close(),
  };
}

/** Per thread: ms on a core and ms waiting for one (Linux /proc schedstat). */
function schedstat(): Map<string, { run: number; wait: number }> {
  const out = new Map<string, { run: number; wait: number }>();
  for (const t of readdirSync('/proc/self/task')) {
    try {
      const [run, wait] = readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').split(' ').map(Number);
      out.set(t, { run: run / 1e6, wait: wait / 1e6 });
    } catch {
      // a thread that ended meanwhile
    }
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x: number) => x.toFixed(2);

async function main(): Promise<void> {
  const serverSize = Number(arg('server', '100000'));
  const clientSizes = arg('clients', '1000,10000').split(',').map(Number);
  const rounds = Number(arg('rounds', '3'));
  const peerSize = Number(arg('peer', '0'));
  const variants = [await loadVariant('old', arg('old', '')), await loadVariant('new', arg('new', 'dist'))];
  const items = Array.from({ length: serverSize }, (_, i) => utf8(`tel:+1415${String(i).padStart(7, '0')}`));
  for (const v of variants) v.hello(await v.prepare(items.slice(0, 10_000)), clientSizes[0]); // workers up, code warm
  const main = String(process.pid);
  const rows: Record<string, number | string>[] = [];
  console.log(`session-psi A/B: server ${serverSize}, clients ${clientSizes.join(', ')}, ${rounds} rounds, load ${loadavg().map((l) => l.toFixed(2)).join(' / ')}`);
  for (let round = 0; round < rounds; round++) {
    for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
      const load = loadavg()[0];
      const a = schedstat();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const prepared = await v.prepare(items);
      const prepareMs = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const b = schedstat();
      let mainMs = 0;
      let sleepMs = 0;
      let workers = 0;
      for (const [t, s] of b) {
        const run = s.run - (a.get(t)?.run ?? 0);
        const wait = s.wait - (a.get(t)?.wait ?? 0);
        if (t === main) mainMs = run;
        else if (run > 100) {
          workers++;
          sleepMs += Math.max(0, prepareMs - run - wait); // neither on a core nor runnable: waiting for a task
        }
      }
      const row: Record<string, number | string> = {
        round,
        variant: v.name,
        load: Number(load.toFixed(2)),
        'prepare wall µs/elem': Number(fmt((prepareMs * 1000) / serverSize)),
        'prepare CPU µs/elem': Number(fmt((cpu.user + cpu.system) / serverSize)),
        'main CPU µs/elem': Number(fmt((mainMs * 1000) / serverSize)),
        'worker sleep ms': Math.round(sleepMs / Math.max(1, workers)),
      };
      for (const c of clientSizes) {
        const helloMs = v.hello(prepared, c);
        row[`setup wall µs/elem (client ${c})`] = Number(fmt(((prepareMs + helloMs) * 1000) / serverSize));
      }
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
  for (const v of variants) await v.close();
  const summary: Record<string, number | string>[] = [];
  for (const v of variants) {
    const mine = rows.filter((r) => r.variant === v.name);
    const s: Record<string, number | string> = { variant: v.name };
    for (const k of Object.keys(mine[0])) if (k !== 'round' && k !== 'variant') s[`median ${k}`] = median(mine.map((r) => Number(r[k])));
    summary.push(s);
    console.log(JSON.stringify(s));
  }
  if (peerSize > 0) {
    const peer = await loadOpenMined();
    if (!peer) throw new Error('peer not installed');
    const server = Array.from({ length: peerSize }, (_, i) => `tel:+1415${String(i).padStart(7, '0')}`);
    const s = peer.psi.server.createWithNewKey(true);
    try {
      const load = loadavg()[0];
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      s.createSetupMessage(1e-6, clientSizes[0], server, peer.psi.dataStructure.GCS).serializeBinary();
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      console.log(JSON.stringify({ peer: peer.label, server: peerSize, client: clientSizes[0], load: Number(load.toFixed(2)), 'setup wall µs/elem': fmt((ms * 1000) / peerSize), 'setup CPU µs/elem': fmt((cpu.user + cpu.system) / peerSize) }));
    } finally {
      s.delete();
    }
  }
  console.log(`load at the end ${loadavg().map((l) => l.toFixed(2)).join(' / ')}`);
}

await main();
