/**
 * `contact-psi demo`: a whole deployment in one command. It builds a SQLite directory of
 * generated users, serves it over WebSocket on an ephemeral loopback port, syncs a
 * generated address book against it twice (snapshot downloaded, then from the cache),
 * checks the matches against what was planted, and prints the timings.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { syncAddressBook } from '../../client/sync.js';
import { seededRng } from '../../contacts/generate.js';
import { parseAddressBook } from '../../contacts/index.js';
import { generateDirectory } from '../../directory/index.js';
import { demoAddressBook } from '../demo-data.js';
import { poolOffload, type WorkerPool } from '../../parallel/index.js';
import { openDirectory } from '../open-directory.js';
import { progressBar } from '../progress.js';
import { serveDirectory } from './serve.js';
import { demoFleet } from './demo-fleet.js';
import { escapeControlChars } from '../terminal-text.js';

export interface DemoOptions {
  users: string;
  contacts: string;
  keep?: boolean;
  /** Run a fleet of this many nodes on an embedded PostgreSQL instead (demo-fleet.ts). */
  fleet?: string;
}

export async function demo(options: DemoOptions): Promise<void> {
  const userCount = Number(options.users);
  const contactCount = Number(options.contacts);
  if (!Number.isInteger(userCount) || userCount < 1) throw new Error('--users must be a positive integer');
  if (!Number.isInteger(contactCount) || contactCount < 1) throw new Error('--contacts must be a positive integer');
  if (options.fleet !== undefined) return demoFleet({ nodes: Number(options.fleet), users: userCount, contacts: contactCount });
  const work = mkdtempSync(join(tmpdir(), 'contact-psi-demo-'));
  const timings: [string, number][] = [];
  const timed = async <T>(label: string, fn: () => Promise<T> | T): Promise<T> => {
    const start = performance.now();
    const value = await fn();
    timings.push([label, performance.now() - start]);
    return value;
  };
  let pool: WorkerPool | undefined;
  try {
    const rng = seededRng(2026);
    const users = await timed(`generate ${userCount} users`, () => generateDirectory(userCount, rng));
    const opened = await openDirectory(join(work, 'directory.db'));
    const { directory } = opened;
    pool = opened.pool;
    console.log(`directory: ${join(work, 'directory.db')} (group backend: ${directory.suite.group.backend}, precompute on ${pool ? 'a worker pool' : 'one thread'})`);
    await timed('import into SQLite', async () => {
      const bar = progressBar('import');
      await directory.importUsers(users, (d, t) => bar.update(d, t));
      bar.done();
    });
    await timed('precompute tags (VOPRF)', async () => {
      const bar = progressBar('precompute');
      await directory.precompute((d, t) => bar.update(d, t));
      bar.done();
    });
    const running = await timed('build snapshot + start server', () => serveDirectory(directory, { host: '127.0.0.1', port: 0, offload: pool ? poolOffload(pool) : undefined, partialLabels: true }));
    const view = running.backend.current();
    console.log(`server: ${running.server.url}, epoch ${view.epoch}, ${view.snapshot.count} tags, snapshot ${view.snapshot.bytes.length} bytes (${view.snapshot.encoding})`);

    const planted = demoAddressBook(users, contactCount, rng);
    const book = await timed(`parse address book (${contactCount} vCards)`, () => parseAddressBook(planted.vcard, { defaultRegion: 'CH' }));
    const cacheDir = join(work, 'cache');
    const first = await timed('sync #1 (snapshot download)', () => syncAddressBook({ server: running.server.url, book, cacheDir }));
    const second = await timed('sync #2 (snapshot cached)', () => syncAddressBook({ server: running.server.url, book, cacheDir }));
    await running.close();

    const found = new Set(first.result.matches.map((m) => m.identifier));
    const missing = [...planted.expected].filter((id) => !found.has(id));
    const leaked = [...planted.hidden].filter((id) => found.has(id));
    for (const m of first.matches.slice(0, 10)) console.log(escapeControlChars(`  ${m.name.padEnd(20)} ${m.identifier.padEnd(32)} ${m.userId}`)); // a server's user id: escaped
    if (first.matches.length > 10) console.log(`  … ${first.matches.length - 10} more`);
    console.log(
      `\nmatches: ${first.result.matches.length} identifiers (${first.matches.length} address-book entries) of ${first.identifiersChecked} checked; ` +
        `planted ${planted.expected.size} discoverable, ${planted.hidden.size} opted out; missing ${missing.length}, opted-out found ${leaked.length}; ` +
        `second sync: ${second.result.cacheHit ? 'cache hit' : 'downloaded again'}, ${second.result.matches.length} matches; ` +
        `invalid entries: ${book.invalid.length}`,
    );
    console.log('\ntimings:');
    for (const [label, ms] of timings) console.log(`  ${label.padEnd(40)} ${ms.toFixed(0).padStart(8)} ms`);
    if (missing.length > 0 || leaked.length > 0 || second.result.matches.length !== first.result.matches.length) {
      throw new Error('demo check failed: the matches differ from what was planted');
    }
  } finally {
    await pool?.close();
    if (options.keep) console.log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}
