/**
 * `contact-psi serve --db postgres://... [--kek-file kek]`: one node of a fleet (spec/
 * directory.md "PostgreSQL store"). Several run on one database, each on its own port; a
 * load balancer in front is the operator's. The leader builds each changed view once (the
 * change feed wakes it) and the followers load it (its `view:` event wakes them); every node
 * helps precompute large imports and rotations; only the leader rotates epochs (SIGUSR2 on a
 * follower is refused with a note).
 *
 * Stdout carries one line per served view (`node <name>: serving epoch E version V digest D`),
 * which the fleet tests and `demo --fleet` wait on; nothing printed holds a key, a token or
 * the database password.
 */
import { hostname } from 'node:os';
import { FleetNode } from '../../directory/postgres/fleet-node.js';
import { PostgresKeyVault } from '../../directory/postgres/key-vault.js';
import { PostgresStore } from '../../directory/postgres/store.js';
import { loadKek } from '../../directory/kek.js';
import { redactStoreUrl } from '../../directory/open-store.js';
import { poolEvaluator, poolOffload } from '../../parallel/index.js';
import { directorySuite, startWorkerPool } from '../open-directory.js';
import { escapeControlChars } from '../terminal-text.js';
import { logLevelOf, numberOption, onOffOf, portOf, quotaPolicyOf, readAccounts, serveDirectory, type ServeOptions } from './serve.js';

export async function serveFleetNode(options: ServeOptions): Promise<void> {
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got ${options.port}`);
  const rotateMs = numberOption(options.rotateHours, '--rotate-hours', 0) * 3600_000;
  const graceMs = numberOption(options.graceHours, '--grace-hours', 24) * 3600_000;
  const refreshMs = numberOption(options.refreshSeconds, '--refresh-seconds', 60) * 1000;
  const accounts = options.tokens ? readAccounts(options.tokens) : undefined;
  const fillRange = options.fillRange === undefined ? undefined : Number(options.fillRange);
  if (fillRange !== undefined && !(Number.isSafeInteger(fillRange) && fillRange >= 1)) throw new Error('--fill-range must be a positive integer');
  const name = options.node ?? `${hostname()}:${process.pid}`;
  if (!/^[\w.:@-]{1,64}$/.test(name)) throw new Error('--node must be 1..64 letters, digits or ._:@-');
  // The KEK first: a node without it must not touch the database at all.
  const kek = loadKek({ file: options.kekFile });
  const store = await PostgresStore.open(options.db).catch((err: unknown) => {
    throw new Error(`cannot open ${redactStoreUrl(options.db)}: ${(err as Error).message}`);
  });
  const vault = new PostgresKeyVault(store.pool, kek);
  const suite = await directorySuite();
  const pool = startWorkerPool();
  const log = (line: string) => console.log(escapeControlChars(line));
  let node: FleetNode;
  try {
    node = await FleetNode.start({ store, vault, suite, node: name, evaluator: pool ? poolEvaluator(pool, suite) : undefined, log, rangeSize: fillRange });
  } catch (err) {
    await store.close();
    await pool?.close();
    throw err;
  }
  // Shared by every node, so a receipt of one node is accepted by the others.
  const quotaKey = accounts ? await vault.quotaKey() : undefined;
  let sessions = 0;
  const running = await serveDirectory(node.directory, {
    host: options.host,
    port,
    accounts,
    quotaKey,
    quotaPolicy: quotaPolicyOf(options),
    offload: pool ? poolOffload(pool) : undefined,
    backendOf: () => node.backend,
    onSession: () => sessions++,
    // The operator surface of every node, as for `serve` on SQLite (spec/operations.md).
    admin: options.adminPort === undefined ? undefined : { port: portOf(options.adminPort, '--admin-port'), host: options.adminHost },
    logLevel: logLevelOf(options.logLevel),
    partialLabels: onOffOf(options.partialLabels, '--partial-labels'),
  });
  const view = node.backend.current();
  console.log(`contact-psi listening on ${running.server.url} (epoch ${view.epoch}, ${view.snapshot.count} entries; node ${name}, ${node.isLeader ? 'leader' : 'follower'})`);
  if (running.running.admin) console.log(`admin listening on ${running.running.admin.url} (/metrics, /healthz, /readyz)`);

  const report = (what: string) => (err: unknown) => console.error(escapeControlChars(`${what} failed: ${(err as Error).message}`));
  const rotate = () => {
    if (!node.isLeader) {
      console.error(`node ${name} does not lead the fleet: rotation is the leader's (send SIGUSR2 to it)`);
      return;
    }
    node.rotate(graceMs).then(
      (r) => console.error(`rotated to epoch ${r.epoch}; epoch ${r.previous} served until ${new Date(r.retiresAt).toISOString()}`),
      report('rotation'),
    );
  };
  const timers = [
    // The fallback of the change feed (a lost notification), and the leader's retirement of expired epochs.
    setInterval(() => node.refresh().catch(report('refresh')), refreshMs || 60_000),
    ...(rotateMs > 0 ? [setInterval(rotate, rotateMs)] : []),
  ];
  timers.forEach((t) => t.unref());
  process.on('SIGUSR2', rotate);
  process.on('SIGUSR1', () => console.log(`node ${name}: ${sessions} sessions, ${node.work.ranges} ranges, ${node.work.computed} tags computed, ${node.work.incremental} in incremental passes, ${node.work.built} views built, ${node.work.loaded} loaded, ${node.work.refreshes} refreshes`));

  const stop = () => {
    process.stderr.write('shutting down\n');
    timers.forEach(clearInterval);
    node
      .close()
      .then(() => running.close())
      .then(() => pool?.close())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
