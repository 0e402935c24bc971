/**
 * One fleet node for `bench -- fleet --timeline`: what `contact-psi serve --db postgres://`
 * runs (serve-fleet.ts: the store, the key vault, the worker pool's evaluator, a FleetNode),
 * without the WebSocket server (propagation does not touch it), and with the node's trace
 * hook printed: one `trace {json}` line per step of a change (stage names, versions, sizes,
 * wall clock and process CPU; no identifier, tag or key). Taking the CLI's arguments
 * (fleet-process.ts starts it as it starts `serve`), so the benchmark can run a build of
 * another commit the same way (`--timeline-baseline=<its dist/bench/fleet-timeline-node.js>`).
 */
import { FleetNode } from '../src/directory/postgres/fleet-node.js';
import { PostgresKeyVault } from '../src/directory/postgres/key-vault.js';
import { PostgresStore } from '../src/directory/postgres/store.js';
import { loadKek } from '../src/directory/kek.js';
import { poolEvaluator } from '../src/parallel/index.js';
import { directorySuite, startWorkerPool } from '../src/cli/open-directory.js';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? undefined : args[i + 1];
};
const db = option('db');
const name = option('node') ?? 'node';
if (db === undefined) throw new Error('--db is required');

const kek = loadKek({ file: option('kek-file') });
const store = await PostgresStore.open(db);
const vault = new PostgresKeyVault(store.pool, kek);
const suite = await directorySuite();
const pool = startWorkerPool();
const node = await FleetNode.start({
  store,
  vault,
  suite,
  node: name,
  evaluator: pool ? poolEvaluator(pool, suite) : undefined,
  log: (line) => console.log(line),
  // A build of a commit without the hook ignores it: its timeline then has the serving lines only.
  trace: (event) => console.log(`trace ${JSON.stringify(event)}`),
} as Parameters<typeof FleetNode.start>[0]);
// fleet-process.ts waits for this line; no sessions are served here.
console.log(`timeline node ${name} listening on ws://127.0.0.1:1 (no sessions: ${node.isLeader ? 'leader' : 'follower'})`);
const timer = setInterval(() => node.refresh().catch((err: unknown) => console.error(`refresh failed: ${(err as Error).message}`)), 3600_000);
timer.unref();
const stop = () => {
  clearInterval(timer);
  node
    .close()
    .then(() => store.close())
    .then(() => pool?.close())
    .then(
      () => process.exit(0),
      () => process.exit(1),
    );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
