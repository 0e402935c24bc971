/**
 * A/B of the client's blinding (spec/discovery.md §1.1), one process, one server:
 *
 * - sync: issue 13's client figure (10,000 new contacts, snapshot cached, first sync in
 *   the epoch, pools on both sides) with the client alternating between the old path
 *   (multiplicative: an offload without the additive methods, which the client then does
 *   not use) and the new one (additive, the default), ABBA BAAB ..., against the same
 *   serveDirectory child on the prebuilt SQLite directory;
 * - micro: the x4 module per element, fixed-base comb vs variable-base ladder, and the
 *   client's two fused steps (blind; decode + unblind) old vs new, alternating.
 *
 * Run: npm run build && node dist/bench/additive-ab.js [users=1000000] [contacts=10000] [pairs=4]
 * CPU figures are process.cpuUsage (this process: client main thread + its pool) and the
 * server child's; load is os.loadavg()[0] at each run's start.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { syncAddressBook } from '../src/client/sync.js';
import { poolOffload, WorkerPool } from '../src/parallel/index.js';
import type { OprfOffload } from '../src/protocol/offload.js';
import { loadWasmX4 } from '../src/group/wasm-x4.js';
import { syntheticBook } from './address-book.js';
import { ensureFixture, serveInChild } from './child-process.js';
import { median } from './timing.js';

const users = Number(process.argv[2] ?? 1_000_000);
const contacts = Number(process.argv[3] ?? 10_000);
const pairs = Number(process.argv[4] ?? 4);

interface Run {
  variant: 'old' | 'new';
  wallMs: number;
  clientCpuMs: number;
  serverCpuMs: number;
  load: number;
}

async function syncAB(): Promise<Run[]> {
  const meta = await ensureFixture(users, false);
  const server = await serveInChild(meta.path, [], true);
  const pool = new WorkerPool();
  const additive = poolOffload(pool);
  // The same pool without the additive methods: the client blinds multiplicatively (RFC 9497's r·H(x), r⁻¹·Z).
  const multiplicative: OprfOffload = { blindWith: additive.blindWith, finalize: additive.finalize, blindEvaluateVerifiable: additive.blindEvaluateVerifiable };
  const tmpRoot = mkdtempSync(join(tmpdir(), 'contact-psi-ab-'));
  let sessions = 0;
  let salt = 100;
  const runs: Run[] = [];
  try {
    const cacheDir = mkdtempSync(join(tmpRoot, 'cache-'));
    const once = async (offload: OprfOffload, n: number) => {
      const { book } = syntheticBook(n, users, 0.25, salt++);
      const load = loadavg()[0];
      const before = await server.child.usage();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const outcome = await syncAddressBook({ server: server.url, book, cacheDir, offload });
      const wallMs = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      sessions++;
      await server.child.sessionsAtLeast(sessions);
      const after = await server.child.usage();
      return {
        outcome,
        wallMs,
        load,
        clientCpuMs: (cpu.user + cpu.system) / 1000,
        serverCpuMs: (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1000,
      };
    };
    // Warm-up: the snapshot into the cache, WASM and JIT on both sides, both paths, the key's comb tables.
    await once(additive, 1024);
    await once(multiplicative, 1024);
    await once(additive, 1024);
    const order: ('old' | 'new')[] = [];
    for (let p = 0; p < pairs; p++) order.push(...((p % 2 === 0 ? ['old', 'new', 'new', 'old'] : ['new', 'old', 'old', 'new']) as ('old' | 'new')[]));
    for (const variant of order) {
      const r = await once(variant === 'new' ? additive : multiplicative, contacts);
      if (!r.outcome.result.cacheHit || r.outcome.identifiersChecked !== contacts) throw new Error('expected a cached first sync of every contact');
      runs.push({ variant, wallMs: r.wallMs, clientCpuMs: r.clientCpuMs, serverCpuMs: r.serverCpuMs, load: r.load });
      console.log(`${variant} wall ${r.wallMs.toFixed(0)} ms, client CPU ${r.clientCpuMs.toFixed(0)} ms, server CPU ${r.serverCpuMs.toFixed(0)} ms, load ${r.load.toFixed(2)}`);
    }
  } finally {
    await pool.close();
    await server.child.stop();
    rmSync(tmpRoot, { recursive: true, force: true });
  }
  return runs;
}

async function micro(): Promise<Record<string, { old: number; new: number }>> {
  const x4 = await loadWasmX4();
  if (x4 === null) throw new Error('no SIMD module');
  const n = 4096;
  const scalars = new Uint8Array(32 * n);
  for (let i = 0; i < n; i++) scalars.set(randomBytes(31), 32 * i); // < 2^248: valid
  const uniform = new Uint8Array(randomBytes(64 * n));
  const G = x4.fixedBase.mulBaseEach(new Uint8Array(x4.fromHash(uniform.subarray(0, 64))), scalars.subarray(0, 32)); // a random base
  const base = G.subarray(0, 32);
  const bases = new Uint8Array(32 * n);
  for (let i = 0; i < n; i++) bases.set(base, 32 * i);
  const others = new Uint8Array(32 * n);
  for (let i = 0; i < n; i++) others.set(randomBytes(31), 32 * i);
  const evaluated = x4.mulEach(others, bases); // Z_i = s'_i B: Z_i - s_i B is not the identity
  x4.fixedBase.mulBaseEach(base, scalars.subarray(0, 32)); // the table, built once (as per epoch key)
  const cpuUs = (fn: () => void): number => {
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / n;
  };
  const cases: Record<string, { old: () => void; new: () => void }> = {
    'k·B per element (ladder vs comb)': { old: () => x4.mulEach(scalars, bases), new: () => x4.fixedBase.mulBaseEach(base, scalars) },
    'blind per element (r·H(x) vs H(x) + r·G)': { old: () => x4.hashMulEach(scalars, uniform), new: () => x4.fixedBase.hashAddBaseEach(scalars, uniform) },
    'unblind per element, decode included (r⁻¹·Z vs Z − r·PK)': {
      old: () => x4.mulEachXY(scalars, evaluated),
      new: () => x4.fixedBase.subBaseEachFromXY(base, scalars, x4.validateXY(evaluated).xy!),
    },
  };
  const out: Record<string, { old: number; new: number }> = {};
  for (const [name, c] of Object.entries(cases)) {
    const olds: number[] = [];
    const news: number[] = [];
    for (let r = 0; r < 6; r++) {
      if (r % 2 === 0) {
        olds.push(cpuUs(c.old));
        news.push(cpuUs(c.new));
      } else {
        news.push(cpuUs(c.new));
        olds.push(cpuUs(c.old));
      }
    }
    out[name] = { old: median(olds), new: median(news) };
    console.log(`${name}: old ${out[name].old.toFixed(2)} µs, new ${out[name].new.toFixed(2)} µs CPU (median of 6, n = ${n}), load ${loadavg()[0].toFixed(2)}`);
  }
  return out;
}

const m = await micro();
const runs = await syncAB();
const summary = (v: 'old' | 'new') => {
  const rs = runs.filter((r) => r.variant === v);
  return {
    runs: rs.length,
    wall: median(rs.map((r) => r.wallMs)),
    wallMin: Math.min(...rs.map((r) => r.wallMs)),
    client: median(rs.map((r) => r.clientCpuMs)),
    server: median(rs.map((r) => r.serverCpuMs)),
    loads: [Math.min(...rs.map((r) => r.load)), Math.max(...rs.map((r) => r.load))],
  };
};
console.log(JSON.stringify({ users, contacts, micro: m, old: summary('old'), new: summary('new'), runs }, null, 1));
