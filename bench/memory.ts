/**
 * Server memory: peak RSS (process.resourceUsage().maxRSS) of a `serveDirectory` process
 * serving a prebuilt SQLite directory of N tags, after it opened the directory and after it
 * served clients (two syncs that download the snapshot, eight concurrent evaluations of
 * 4,096 contacts). The peak RSS of the process that built the directory (import, precompute,
 * snapshot) is reported beside it, from the build's record.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { syncAddressBook } from '../src/client/sync.js';
import { loadGroup } from '../src/group/index.js';
import { createSuite, Modes } from '../src/oprf/index.js';
import { runClientSession } from '../src/transport/ws/index.js';
import { syntheticBook } from './address-book.js';
import { ensureFixture, serveInChild } from './child-process.js';
import { LoadSession } from './load-client.js';
import { seriesFromRows } from './plot.js';
import type { Report, Row } from './report.js';
import { round } from './timing.js';

export async function memoryScenario(sizes: readonly number[], smoke: boolean, burstContacts = 4096): Promise<Report> {
  const rows: Row[] = [];
  const data: Record<string, number> = {};
  const group = await loadGroup('ristretto255', 'auto');
  const suite = createSuite('ristretto255-SHA512', Modes.VOPRF, group);
  for (const users of sizes) {
    const meta = await ensureFixture(users, smoke);
    const server = await serveInChild(meta.path);
    const tmp = mkdtempSync(join(tmpdir(), 'contact-psi-mem-'));
    try {
      const opened = server.ready;
      for (let i = 0; i < 2; i++) {
        await syncAddressBook({ server: server.url, book: syntheticBook(1024, users, 0.25, i).book, cacheDir: join(tmp, `c${i}`) });
      }
      const { book } = syntheticBook(burstContacts, users, 0.25);
      const blinded = suite.blind(book.contacts.map((c) => new TextEncoder().encode(c.identifiers[0].identifier)), (n) => new Uint8Array(randomBytes(n))).blinded;
      await Promise.all(Array.from({ length: 8 }, () => runClientSession(server.url, new LoadSession(suite.id, blinded))));
      const served = await server.child.usage();
      rows.push({
        tags: meta.snapshotCount,
        'snapshot MiB': round(meta.snapshotBytes / 2 ** 20),
        'build s': round((meta.importMs + meta.precomputeMs + meta.snapshotMs) / 1000),
        'build peak RSS MiB': round(meta.buildMaxRssMiB),
        'serve: open ms': round(server.openMs),
        'serve: peak RSS after open MiB': round(opened.maxRssMiB),
        'serve: peak RSS after clients MiB': round(served.maxRssMiB),
        'serve: RSS now MiB': round(served.rssMiB),
        'serve: JS heap MiB': round(served.heapMiB),
        'serve: external MiB': round(served.externalMiB),
        analyzed: meta.analyzed === true,
      });
      data[`${users}/serveMaxRssMiB`] = served.maxRssMiB;
      data[`${users}/buildMaxRssMiB`] = meta.buildMaxRssMiB;
      console.log(JSON.stringify(rows.at(-1)));
    } finally {
      await server.child.stop();
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return {
    name: 'memory',
    title: 'Server memory: peak RSS by directory size',
    smoke,
    parameters: { sizes },
    data,
    notes: [
      'Directories are built as a stream (users generated and imported 20,000 at a time, tags precomputed 4,096 at a time) into SQLite, then served by a fresh process: `serve` holds the snapshot bytes and SQLite pages, not the users.',
      'The build peak comes from the process that built the fixture (it may have been built by an earlier scenario run; see precompute).',
    ],
    sections: [{ title: 'Peak RSS', rows }],
    plots: [
      {
        title: 'Peak RSS vs directory size',
        xLabel: 'tags',
        yLabel: 'MiB',
        logY: true,
        series: [
          ...seriesFromRows(rows, () => 'serve (after clients)', (r) => Number(r.tags), (r) => Number(r['serve: peak RSS after clients MiB'])),
          ...seriesFromRows(rows, () => 'build', (r) => Number(r.tags), (r) => Number(r['build peak RSS MiB'])),
        ],
      },
    ],
  };
}
