/**
 * Child process for the server-side scenarios, so that each measured process is alone in
 * its address space (peak RSS, CPU time) and the server has a core of its own:
 *   node child.js build <users> <memory|sqlite> [path]   build, report figures, exit
 *   node child.js serve <path>                          serve a prebuilt SQLite directory
 * It talks to the parent over the IPC channel (fork), in small JSON messages.
 */
import { writeFileSync } from 'node:fs';
import { serveDirectory } from '../src/cli/commands/serve.js';
import { analyzeFixture, buildDirectory, installSqlite, openBenchDirectory, type FixtureMeta } from './directory-fixture.js';
import { timeMsAsync } from './timing.js';
import { loadPool } from './pool.js';
import { poolOffload, WorkerPool } from '../src/parallel/index.js';
import type { OprfSuite } from '../src/oprf/suite.js';
import type { TagEvaluator } from '../src/directory/precompute.js';

const send = (msg: Record<string, unknown>) => process.send?.(msg);
const maxRssMiB = () => process.resourceUsage().maxRSS / 1024;
const log = (line: string) => process.stderr.write(`[child ${process.pid}] ${line}\n`);

async function build(users: number, store: 'memory' | 'sqlite', path: string | undefined, usePool: boolean, analyze: boolean): Promise<void> {
  const tmp = path === undefined ? undefined : `${path}.building`;
  const pool = usePool ? await loadPool() : undefined;
  if (pool && !pool.ok) log(pool.reason);
  // Counted, so a Directory that ignores the option is reported as single-threaded.
  let calls = 0;
  const evaluator =
    pool?.ok && pool.module.poolEvaluator
      ? (suite: OprfSuite) => {
          const evaluate: TagEvaluator = pool.module.poolEvaluator!(pool.pool, suite);
          const counted = (key: Uint8Array, inputs: readonly Uint8Array[]) => (calls++, evaluate(key, inputs));
          // Keeps the pool's evaluate-and-seal path (precompute prefers it), counted the same way.
          const { evaluateAndSeal } = evaluate;
          if (evaluateAndSeal === undefined) return counted;
          return Object.assign(counted, { evaluateAndSeal: (...args: Parameters<typeof evaluateAndSeal>) => (calls++, evaluateAndSeal(...args)) });
        }
      : undefined;
  const { directory, figures } = await buildDirectory({ users, store, path: tmp, log, evaluator });
  if (pool?.ok) {
    if (calls > 0) figures.poolSize = pool.pool.size;
    else log('the Directory did not call the pool evaluator: precompute ran on the main thread');
  }
  await directory.close();
  if (pool?.ok) await pool.close();
  const analyzed = tmp !== undefined && analyze;
  if (analyzed) log(`ANALYZE: ${analyzeFixture(tmp).toFixed(0)} ms`);
  const meta = { ...figures, buildMaxRssMiB: maxRssMiB(), path: path ?? '', builtAt: new Date().toISOString(), analyzed } satisfies FixtureMeta;
  if (path !== undefined && tmp !== undefined) {
    installSqlite(tmp, path);
    writeFileSync(`${path}.json`, JSON.stringify(meta, null, 2) + '\n');
  }
  send({ type: 'built', meta, cpu: process.cpuUsage() });
}

async function serve(path: string, usePool: boolean): Promise<void> {
  const baseline = maxRssMiB();
  // With --pool, query chunks are evaluated on a worker pool (as `contact-psi serve` does).
  const pool = usePool ? new WorkerPool() : undefined;
  const opened = await timeMsAsync(async () => {
    const directory = await openBenchDirectory('sqlite', path);
    // Partial label requests on: the bench's clients are this build (the rolled-out configuration, spec/discovery.md §9).
    return serveDirectory(directory, { host: '127.0.0.1', port: 0, offload: pool ? poolOffload(pool) : undefined, partialLabels: true });
  });
  const running = opened.value;
  running.server.on('session', (report: unknown) => send({ type: 'session', report }));
  const usage = () => ({
    cpu: process.cpuUsage(),
    maxRssMiB: maxRssMiB(),
    rssMiB: process.memoryUsage().rss / 2 ** 20,
    heapMiB: process.memoryUsage().heapUsed / 2 ** 20,
    externalMiB: process.memoryUsage().external / 2 ** 20,
  });
  process.on('message', (msg: { type: string; id?: number }) => {
    if (msg.type === 'usage') send({ type: 'usage', id: msg.id, ...usage() });
    if (msg.type === 'stop') {
      running.close().then(
        () => {
          send({ type: 'stopped', ...usage() });
          process.exit(0);
        },
        (err) => {
          log(`close failed: ${String(err)}`);
          process.exit(1);
        },
      );
    }
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', url: running.server.url, openMs: opened.ms, count: running.backend.current().snapshot.count, baselineMaxRssMiB: baseline, ...usage() });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const usePool = args.includes('--pool');
  const analyze = !args.includes('--no-analyze');
  const [mode, a, b, c] = args.filter((x) => !x.startsWith('--'));
  if (mode === 'build') return build(Number(a), b as 'memory' | 'sqlite', c, usePool, analyze);
  if (mode === 'serve') return serve(a, usePool);
  throw new Error(`unknown child mode ${mode}`);
}

main().catch((err) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  send({ type: 'error', message: String(err instanceof Error ? err.message : err) });
  process.exit(1);
});
