/**
 * Where a precompute pass spends its time, step by step: a fresh directory of N synthetic
 * users (bench/directory-fixture.ts) is imported, then precomputed with every store call
 * and every evaluator call timed (wall time on the main thread), then snapshotted. Not a
 * scenario of run.ts: it is run by hand, usually under `node --cpu-prof` (see
 * bench/results/precompute-profile.md):
 *
 *   node [--cpu-prof --cpu-prof-dir=/tmp/cpsi-prof] dist/bench/precompute-profile.js \
 *     [--users=100000] [--store=sqlite|memory] [--pool] [--batch=4096] [--db=/tmp/x.db] [--fake-eval]
 *
 * Prints one JSON object: per step the calls, total ms and ms per 1,000 tags.
 */
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Directory, MemoryStore, SqliteStore, type DirectoryStore } from '../src/directory/index.js';
import { loadGroup } from '../src/group/index.js';
import { createSuite, Modes } from '../src/oprf/index.js';
import type { TagEvaluator } from '../src/directory/precompute.js';
import { poolEvaluator, WorkerPool } from '../src/parallel/index.js';
import { syntheticUsers } from './directory-fixture.js';

const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const users = Number(arg('users') ?? 100_000);
const storeKind = (arg('store') ?? 'sqlite') as 'sqlite' | 'memory';
const usePool = process.argv.includes('--pool');
const batchSize = arg('batch') === undefined ? undefined : Number(arg('batch'));
const dbPath = arg('db') ?? join(tmpdir(), `cpsi-profile-${process.pid}.db`);
/** SHA-512 of the input instead of F_k: 64-byte tags at no group cost, to time everything around the evaluation. */
const fakeEval = process.argv.includes('--fake-eval');

const timings = new Map<string, { calls: number; ms: number }>();
function record(name: string, ms: number): void {
  const t = timings.get(name) ?? { calls: 0, ms: 0 };
  t.calls++;
  t.ms += ms;
  timings.set(name, t);
}

/** The store with each method call timed (methods run on the real store: private fields work). */
function timedStore(store: DirectoryStore): DirectoryStore {
  return new Proxy(store, {
    get(target, key) {
      const value = Reflect.get(target, key, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const start = performance.now();
        const out = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (out instanceof Promise) return out.finally(() => record(`store.${String(key)}`, performance.now() - start));
        record(`store.${String(key)}`, performance.now() - start);
        return out;
      };
    },
  });
}

async function main(): Promise<void> {
  for (const suffix of ['', '-wal', '-shm', '.key']) rmSync(`${dbPath}${suffix}`, { force: true });
  const group = await loadGroup('ristretto255', 'auto');
  const suite = createSuite('ristretto255-SHA512', Modes.VOPRF, group);
  const pool = usePool ? new WorkerPool() : undefined;
  const base = pool === undefined ? undefined : poolEvaluator(pool, suite);
  const inner = storeKind === 'sqlite' ? SqliteStore.open(dbPath) : new MemoryStore();
  const plain = async (key: Uint8Array, inputs: readonly Uint8Array[]): Promise<Uint8Array[]> => {
    const start = performance.now();
    const out = fakeEval ? inputs.map((x) => new Uint8Array(createHash('sha512').update(x).digest())) : base === undefined ? suite.evaluate(key, inputs) : await base(key, inputs);
    record('evaluate', performance.now() - start);
    return out;
  };
  // The pool's evaluate-and-seal path, timed as 'evaluate+seal' (wall time until the batch is back).
  const sealing = base?.evaluateAndSeal;
  const evaluator: TagEvaluator =
    sealing === undefined || fakeEval
      ? plain
      : Object.assign(plain, {
          evaluateAndSeal: async (...args: Parameters<typeof sealing>) => {
            const start = performance.now();
            const out = await sealing(...args);
            record('evaluate+seal', performance.now() - start);
            return out;
          },
        });
  const directory = await Directory.open({ store: timedStore(inner), suite, evaluator, batchSize });
  const importStart = performance.now();
  for (let start = 0; start < users; start += 20_000) await directory.importUsers(syntheticUsers(start, Math.min(20_000, users - start)));
  const importMs = performance.now() - importStart;
  timings.clear();
  const passStart = performance.now();
  const passCpu = process.cpuUsage();
  await directory.precompute();
  const passMs = performance.now() - passStart;
  const cpu = process.cpuUsage(passCpu);
  const passSteps = [...timings.entries()].map(([step, t]) => ({ step, calls: t.calls, ms: Math.round(t.ms), msPer1kTags: +((t.ms * 1000) / users).toFixed(2) }));
  const accounted = [...timings.values()].reduce((s, t) => s + t.ms, 0);
  timings.clear();
  const snapStart = performance.now();
  const snap = await directory.snapshot('fuse');
  const snapshotMs = performance.now() - snapStart;
  const snapshotSteps = [...timings.entries()].map(([step, t]) => ({ step, calls: t.calls, ms: Math.round(t.ms) }));
  await directory.close();
  await pool?.close();
  if (storeKind === 'sqlite' && arg('db') === undefined) for (const suffix of ['', '-wal', '-shm', '.key']) rmSync(`${dbPath}${suffix}`, { force: true });
  console.log(
    JSON.stringify(
      {
        users,
        store: storeKind,
        fakeEval,
        pool: pool?.size ?? 0,
        backend: group.backend,
        importMs: Math.round(importMs),
        passMs: Math.round(passMs),
        // CPU of the whole process (workers included): steadier than wall time on a shared machine.
        passCpuMs: Math.round((cpu.user + cpu.system) / 1000),
        passSteps,
        // Sealing, lookup keys, record building and the event-loop yields: the pass minus the timed calls.
        otherMs: Math.round(passMs - accounted),
        snapshotMs: Math.round(snapshotMs),
        snapshotSteps,
        snapshotCount: snap.count,
      },
      null,
      2,
    ),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
