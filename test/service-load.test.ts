/**
 * Load over a loopback socket: 200 clients sync at once against one discovery server,
 * each with its own tiny address book (~5 contacts, some registered, some opted out,
 * some unknown) and its own snapshot cache, and every one gets exactly its matches.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDirectory, type RunningServer } from '../src/cli/commands/serve.js';
import { seededRng, type GeneratedRegion } from '../src/contacts/generate.js';
import type { SessionReport } from '../src/transport/ws/index.js';
import { SnapshotCache } from '../src/client/snapshot-cache.js';
import { BookFormats, buildDirectory, holdingProxy, waitFor, expectedRows, generateUsers, outcomeRows, parsePlanned, sessionReports, smallBook, sync, tempDir } from './helpers/service.js';

const CLIENTS = 200;
const tmp = tempDir('contact-psi-load-');
afterAll(() => tmp.cleanup());
const users = generateUsers(seededRng(77), 1500);
let running: RunningServer;
let reports: SessionReport[];

beforeAll(async () => {
  running = await serveDirectory(await buildDirectory(tmp.path, users), { host: '127.0.0.1', port: 0 });
  reports = sessionReports(running.server);
});
afterAll(() => running?.close());

describe('load', () => {
  it(`${CLIENTS} concurrent clients all get their exact matches`, async () => {
    const regions: GeneratedRegion[] = ['CH', 'DE', 'US'];
    const clients = Array.from({ length: CLIENTS }, (_, i) => {
      const home = regions[i % 3]!;
      const planned = smallBook(seededRng(1000 + i), users, { contacts: 5, registered: 3, unregistered: 2 }, home);
      return { planned, book: parsePlanned(planned, BookFormats[i % BookFormats.length]!, home), cacheDir: join(tmp.path, `client-${i}`) };
    });
    const expected = clients.map((c) => expectedRows(c.planned, users));
    expect(expected.filter((rows) => rows.length > 0).length).toBeGreaterThan(CLIENTS / 2);

    // Every client connects through a proxy that holds its first message, so all 200
    // WebSockets are open on the server at once; then they are let go together.
    const proxy = await holdingProxy(running.server.url);
    const pending = clients.map((c) => sync(proxy.url, c.book, c.cacheDir));
    await waitFor(() => running.server.connections === CLIENTS, 30_000);
    const started = Date.now();
    proxy.release();
    const outcomes = await Promise.all(pending);
    const elapsed = Date.now() - started;
    await proxy.close();

    outcomes.forEach((outcome, i) => {
      expect(outcomeRows(outcome), `client ${i}`).toEqual(expected[i]);
      expect(outcome.result.cacheHit).toBe(false);
      expect(outcome.result.falsePositives).toBe(0);
    });
    const view = running.backend.current();
    for (const o of outcomes) expect(Buffer.from(o.result.snapshot.digest).equals(Buffer.from(view.snapshot.digest))).toBe(true);
    expect(reports.filter((r) => r.outcome === 'result')).toHaveLength(CLIENTS);
    expect(reports.filter((r) => r.outcome === 'failed')).toEqual([]);
    console.log(`${CLIENTS} syncs released together finished in ${elapsed} ms`);

    // All at once again, directly and from their caches (the cache is per server URL, so
    // it is copied over from the proxy's): nothing downloaded, the same answers.
    for (const c of clients) {
      const from = new SnapshotCache(c.cacheDir, proxy.url).load();
      expect(from).toBeDefined();
      new SnapshotCache(c.cacheDir, running.server.url).save(from!);
    }
    const again = await Promise.all(clients.map((c) => sync(running.server.url, c.book, c.cacheDir)));
    again.forEach((outcome, i) => {
      expect(outcome.result.cacheHit).toBe(true);
      expect(outcome.result.downloadedBytes).toBe(0);
      expect(outcomeRows(outcome), `client ${i}`).toEqual(expected[i]);
    });
  });
});
