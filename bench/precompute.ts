/**
 * Directory precompute: import N synthetic users, evaluate every tag F_k(identifier), and
 * build the fuse snapshot, on the memory store and on SQLite; each in a child process of
 * its own (time, CPU and peak RSS are the build's alone). The SQLite builds are kept as the
 * fixtures the server-side scenarios serve.
 */
import { buildInChild } from './child-process.js';
import { fixturePath } from './directory-fixture.js';
import { seriesFromRows } from './plot.js';
import type { Report, Row } from './report.js';
import { round } from './timing.js';

export async function precomputeScenario(sizes: readonly number[], stores: readonly ('memory' | 'sqlite')[], smoke: boolean, usePool = false): Promise<Report> {
  const rows: Row[] = [];
  const data: Record<string, number> = {};
  const variants = usePool ? [false, true] : [false];
  for (const users of sizes) {
    for (const store of stores) {
      for (const pooled of variants) {
        const path = store === 'sqlite' ? fixturePath(users, smoke) : undefined;
        console.log(`precompute: ${users.toLocaleString('en-US')} users, ${store} store${pooled ? ', worker pool' : ''} ...`);
        const { meta, cpu } = await buildInChild(users, store, path, pooled);
        rows.push({
          store,
          users,
          tags: meta.snapshotCount,
          'import s': round(meta.importMs / 1000),
          'precompute s': round(meta.precomputeMs / 1000),
          'precompute µs/tag': round((meta.precomputeMs * 1000) / users),
          'snapshot build s': round(meta.snapshotMs / 1000),
          'snapshot MiB': round(meta.snapshotBytes / 2 ** 20),
          'snapshot bits/tag': round((meta.snapshotBytes * 8) / Math.max(1, meta.snapshotCount)),
          'CPU s': round((cpu.user + cpu.system) / 1e6),
          'peak RSS MiB': round(meta.buildMaxRssMiB),
          backend: meta.backend,
          threads: meta.poolSize ? `pool of ${meta.poolSize}` : 'main thread',
        });
        const variant = meta.poolSize ? `pool${meta.poolSize}` : 'main';
        data[`${store}/${users}/${variant}/precomputeMs`] = meta.precomputeMs;
        data[`${store}/${users}/${variant}/totalMs`] = meta.importMs + meta.precomputeMs + meta.snapshotMs;
        console.log(JSON.stringify(rows.at(-1)));
      }
    }
  }
  return {
    name: 'precompute',
    title: 'Directory precompute: import, tags, snapshot',
    smoke,
    parameters: { sizes, stores, pool: usePool },
    data,
    notes: [
      'One identifier per user, so tags = users. Precompute = per batch of 4096 identifiers: F_k (hash to group, multiply, hash), the label sealed under each tag with its lookup key, then one store transaction; two batches in flight (the next evaluates while this one is written). On the main thread, or with --pool on the worker pool (DirectoryOpenOptions.evaluator = poolEvaluator), which then seals too (WorkerPool.evaluateAndSeal). CPU s is the child\'s, workers included.',
      'SQLite: a first fill of an empty tags table builds the lookup-key index after the rows (one sorted pass) instead of row by row.',
      'Snapshot = reading the 16-byte prefix of every tag in tag order and building the fuse filter (per-lookup false-positive rate 2^-29).',
    ],
    sections: [{ title: 'Build cost', rows }],
    plots: [
      {
        title: 'Directory precompute: µs per tag vs directory size',
        xLabel: 'users (= tags)',
        yLabel: 'µs per tag',
        series: seriesFromRows(rows, (r) => `precompute, ${String(r.store)}, ${String(r.threads)}`, (r) => Number(r.users), (r) => Number(r['precompute µs/tag'])),
      },
    ],
  };
}
