/**
 * Incremental sync end to end (issue 10 §4): `syncAddressBook` (what `contact-psi sync` and
 * the SDK run) against `serveDirectory` over loopback, with a token and quotas. What the
 * server evaluated and charged is read on the server side (its session results, the
 * account's bucket in the directory store).
 * - an unchanged re-sync: the server evaluates 0 elements and charges nothing;
 * - `outputs.cache` is 0600, holds no identifier in clear, and a damaged one is discarded
 *   (reported), the book evaluated again and charged by the rules (a re-evaluation within
 *   the epoch is charged), and the cache rebuilt: the sync after that evaluates nothing.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SERVER_DEFAULTS } from '../src/transport/ws/options.js';
import { SUBPROTOCOL } from '../src/transport/ws/index.js';
import { serveDirectory, type RunningServer } from '../src/cli/commands/serve.js';
import { OUTPUTS_FILE } from '../src/client/output-cache.js';
import { identityScope } from '../src/browser/sync-cache.js';
import { SnapshotCache } from '../src/client/snapshot-cache.js';
import { seededRng } from '../src/contacts/generate.js';
import { uniqueIdentifiers } from '../src/contacts/index.js';
import type { BucketPolicy } from '../src/protocol/discovery/quota.js';
import { buildDirectory, expectedRows, generateUsers, outcomeRows, parsePlanned, smallBook, sortRows, sync, tempDir } from './helpers/service.js';

const tmp = tempDir('contact-psi-incremental-e2e-');
const users = generateUsers(seededRng(99), 120);
const SYNC: BucketPolicy = { capacity: 1_000, refillPerMs: 0 };
const TOKEN = 'token-dora-0123456789abcdef';
let running: RunningServer;

beforeAll(async () => {
  const directory = await buildDirectory(join(tmp.path, 'dir'), users);
  running = await serveDirectory(directory, { host: '127.0.0.1', port: 0, accounts: new Map([[TOKEN, 'dora']]), quotaKey: new Uint8Array(randomBytes(32)), quotaPolicy: { sync: SYNC } });
});
afterAll(async () => {
  await running?.close();
  tmp.cleanup();
});

const charged = async (): Promise<number> => SYNC.capacity - ((await running.directory.getBucket('sync:dora'))?.tokens ?? SYNC.capacity);

it('unchanged re-syncs evaluate nothing; a damaged outputs cache is discarded, the book evaluated (and charged) again, and the cache rebuilt', async () => {
  const plan = smallBook(seededRng(5), users, { contacts: 10, registered: 12, unregistered: 8 });
  const book = parsePlanned(plan, 'csv', 'CH');
  const n = uniqueIdentifiers(book).length;
  const cacheDir = join(tmp.path, 'dora');
  const url = running.server.url;

  const first = await sync(url, book, cacheDir, { token: TOKEN });
  expect(outcomeRows(first)).toEqual(sortRows(expectedRows(plan, users)));
  expect(first.result.evaluated).toBe(n);
  expect(await charged()).toBe(n);

  const again = await sync(url, book, cacheDir, { token: TOKEN });
  expect(again.result.evaluated).toBe(0);
  expect(again.result.labelsFetched).toBe(0);
  expect(outcomeRows(again)).toEqual(outcomeRows(first));
  expect(await charged()).toBe(n);

  // The file: 0600, and no identifier of the book in it (keyed hashes only).
  // In the URL's folder: a URL not declared to be the identity's (no fleet list, identity
  // pinned on first use) keeps its label checks to itself (spec/sync-failover.md §1).
  const folder = new SnapshotCache(cacheDir, url).dir;
  const file = join(folder, OUTPUTS_FILE);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  const text = Buffer.from(readFileSync(file)).toString('latin1');
  for (const id of uniqueIdentifiers(book)) expect(text.includes(id.slice(4))).toBe(false);

  // Damaged: one byte flipped, in the URL's file and in the copy of its verified outputs the
  // identity's folder holds. Discarded (reported), the book evaluated again, charged (same epoch).
  for (const damaged of [file, join(new SnapshotCache(cacheDir, identityScope(first.result.outputs.identity!)).dir, OUTPUTS_FILE)]) {
    const bytes = readFileSync(damaged);
    bytes[bytes.length - 40] ^= 0xff;
    writeFileSync(damaged, bytes);
  }
  const discarded: string[] = [];
  const rebuilt = await sync(url, book, cacheDir, { token: TOKEN, onCacheDiscarded: (why) => discarded.push(why) });
  expect(discarded.some((why) => why.includes(OUTPUTS_FILE))).toBe(true);
  expect(rebuilt.result.evaluated).toBe(n);
  expect(outcomeRows(rebuilt)).toEqual(outcomeRows(first));
  expect(await charged()).toBe(2 * n);

  // Rebuilt: the next re-sync evaluates nothing again.
  const after = await sync(url, book, cacheDir, { token: TOKEN });
  expect(after.result.evaluated).toBe(0);
  expect(await charged()).toBe(2 * n);
});

/** Opens a WebSocket with the token; resolves 'open' or the HTTP status it was refused with. */
function connectWith(url: string, token: string): Promise<{ outcome: 'open'; ws: WebSocket } | { outcome: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, [SUBPROTOCOL], { headers: { Authorization: `Bearer ${token}` } });
    ws.on('error', () => {});
    ws.once('open', () => resolve({ outcome: 'open', ws }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ outcome: res.statusCode ?? 0 });
      ws.terminate();
    });
  });
}

it('serveDirectory caps concurrent sessions per account (transport default maxConnectionsPerAccount): one more is refused with 429', async () => {
  const cap = SERVER_DEFAULTS.maxConnectionsPerAccount;
  expect(cap).toBe(8);
  const open: WebSocket[] = [];
  for (let i = 0; i < cap; i++) {
    const r = await connectWith(running.server.url, TOKEN);
    expect(r.outcome).toBe('open');
    if (r.outcome === 'open') open.push(r.ws);
  }
  expect((await connectWith(running.server.url, TOKEN)).outcome).toBe(429);
  for (const ws of open) ws.close();
});

