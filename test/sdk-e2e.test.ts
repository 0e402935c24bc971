/**
 * The client SDK (ContactDiscoveryClient) end to end, against the real server: a SQLite
 * directory served by serveDirectory (as `contact-psi serve` does) with bearer tokens and
 * quotas, over loopback WebSockets. What the server sees and charges is read on the server
 * side (its session reports, the account's bucket in the directory store), not inferred
 * from the client.
 *
 * - consent: before grantConsent(), sync() fails and the server sees no session and
 *   charges nothing; after it, the sync reaches the server;
 * - sync: every registered contact is found with its user and label;
 * - re-sync with the stored receipt: nothing is charged for contacts already charged; new
 *   contacts cost exactly one evaluation each (a new SDK instance on the same cache folder
 *   too, since the receipt and device secret are on disk);
 * - pinned key: the right key syncs; a wrong one is refused before anything is charged;
 *   the key pinned on first use (the cache) refuses a server that comes back with another
 *   key for the same epoch.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDirectory, type RunningServer } from '../src/cli/commands/serve.js';
import { ContactDiscoveryClient, type ContactSyncResult } from '../src/client/sdk.js';
import { SnapshotCache } from '../src/client/snapshot-cache.js';
import { seededRng } from '../src/contacts/generate.js';
import { uniqueIdentifiers } from '../src/contacts/index.js';
import { ContactPsiError } from '../src/errors.js';
import type { BucketPolicy } from '../src/protocol/discovery/quota.js';
import type { SessionReport } from '../src/transport/ws/index.js';
import { expectedRows, generateUsers, openSqliteDirectory, parsePlanned, smallBook, tempDir, type PlannedContact } from './helpers/service.js';

const tmp = tempDir('contact-psi-sdk-e2e-');
afterAll(() => tmp.cleanup());

const users = generateUsers(seededRng(4242), 400);
// No refill: every charge is exact, whatever the time between syncs on a slow machine.
const SYNC: BucketPolicy = { capacity: 1_000, refillPerMs: 0 };
const TOKEN = 'token-carol-0123456789';
const accounts = new Map([[TOKEN, 'carol']]);
const quotaKey = new Uint8Array(randomBytes(32));

let running: RunningServer;
let reports: SessionReport[] = [];
let port = 0;

async function start(db: string): Promise<void> {
  const directory = await openSqliteDirectory(db);
  running = await serveDirectory(directory, { host: '127.0.0.1', port, accounts, quotaKey, quotaPolicy: { sync: SYNC } });
  port = Number(new URL(running.server.url).port);
  reports = [];
  running.server.on('session', (r: SessionReport) => reports.push(r));
}

async function buildDirectory(db: string, from: typeof users): Promise<void> {
  const directory = await openSqliteDirectory(db);
  await directory.importUsers(from);
  await directory.precompute();
  await directory.close();
}

beforeAll(async () => {
  await buildDirectory(join(tmp.path, 'directory.db'), users);
  await start(join(tmp.path, 'directory.db'));
});
afterAll(() => running?.close());

/** Waits (on the server's 'session' events, no clock) until `n` sessions have been reported. */
async function sessionsReported(n: number): Promise<SessionReport[]> {
  while (reports.length < n) await once(running.server, 'session');
  return reports;
}

const charged = async (): Promise<number> => SYNC.capacity - ((await running.directory.getBucket('sync:carol'))?.tokens ?? SYNC.capacity);

/** The SDK's rows in the shape of expectedRows (one per matched identifier). */
const rowsOf = (result: ContactSyncResult) =>
  result.contacts
    .filter((c) => c.source === 'directory')
    .flatMap((c) => c.identifiers.map((identifier) => ({ name: c.name, identifier, userId: c.userId, label: c.label! })))
    .sort((a, b) => (a.name + a.identifier < b.name + b.identifier ? -1 : 1));
/** expectedRows in the SDK's row shape (the SDK gives the label as text only). */
const sortRows = (rows: ReturnType<typeof expectedRows>) =>
  rows
    .map(({ name, identifier, userId, label }) => ({ name, identifier, userId, label }))
    .sort((a, b) => (a.name + a.identifier < b.name + b.identifier ? -1 : 1));

const taken = new Set(users.flatMap((u) => u.identifiers));
const strangers = (from: number, n: number): PlannedContact[] =>
  Array.from({ length: n }, (_, i) => {
    const e164 = `+4179${String(6_000_000 + from + i).padStart(7, '0')}`;
    if (taken.has(`tel:${e164}`)) throw new Error(`${e164} is registered`);
    return { name: `Stranger ${from + i}`, phones: [e164], emails: [], identifiers: new Set([`tel:${e164}`]) };
  });

const plan = smallBook(seededRng(77), users, { contacts: 12, registered: 14, unregistered: 9 });
const book = parsePlanned(plan, 'vcard-4.0', 'CH');
const cacheDir = join(tmp.path, 'carol');
const isCode = (code: string) => (err: unknown) => err instanceof ContactPsiError && err.code === code;

describe('ContactDiscoveryClient against a real server', () => {
  it('consent: nothing reaches the server before grantConsent(); after it the sync does', async () => {
    const sdk = new ContactDiscoveryClient({ server: running.server.url, cacheDir, token: TOKEN });
    await expect(sdk.sync(book)).rejects.toSatisfy(isCode('consent_required'));
    sdk.start(() => book);
    sdk.notifyAddressBookChanged();
    sdk.stop();
    // Server side: no open connection, no session, nothing charged, no bucket created.
    expect(running.server.connections).toBe(0);
    expect(reports).toEqual([]);
    expect(await running.directory.getBucket('sync:carol')).toBeUndefined();

    sdk.grantConsent();
    const result = await sdk.sync(book);
    expect(rowsOf(result)).toEqual(sortRows(expectedRows(plan, users)));
    expect(result.identifiersChecked).toBe(uniqueIdentifiers(book).length);
    expect((await sessionsReported(1)).map((r) => r.outcome)).toEqual(['result']);
    // What the server charged: one evaluation per distinct identifier of the book.
    expect(await charged()).toBe(uniqueIdentifiers(book).length);
    // The cache pinned the directory's epoch key (trust on first use).
    expect(new SnapshotCache(cacheDir, running.server.url).pinned()?.publicKey).toEqual(running.directory.epochKeyPair().publicKey);
  });

  it('re-sync with the stored receipt: already charged contacts are free, new ones cost one each, across instances', async () => {
    const n = uniqueIdentifiers(book).length;
    const sdk = new ContactDiscoveryClient({ server: running.server.url, cacheDir, token: TOKEN });
    expect(sdk.hasConsent()).toBe(true); // persisted by the first instance
    const again = await sdk.sync(book);
    expect(rowsOf(again)).toEqual(sortRows(expectedRows(plan, users)));
    expect(await charged()).toBe(n);

    const grown = [...plan, ...strangers(0, 4)];
    const grownBook = parsePlanned(grown, 'csv', 'CH');
    const third = await sdk.sync(grownBook);
    expect(rowsOf(third)).toEqual(sortRows(expectedRows(grown, users)));
    expect(await charged()).toBe(n + 4);

    // A fresh instance (an app restart) on the same folder: the receipt is on disk.
    const restarted = new ContactDiscoveryClient({ server: running.server.url, cacheDir, token: TOKEN });
    await restarted.sync(grownBook);
    expect(await charged()).toBe(n + 4);
    expect((await sessionsReported(4)).map((r) => r.outcome)).toEqual(['result', 'result', 'result', 'result']);
  });

  it('pinned key: the directory key syncs, another key is refused before anything is charged', async () => {
    const before = await charged();
    const publicKey = running.directory.epochKeyPair().publicKey;
    const pinned = new ContactDiscoveryClient({ server: running.server.url, cacheDir: join(tmp.path, 'pinned'), token: TOKEN, pinnedPublicKey: publicKey });
    pinned.grantConsent();
    await pinned.sync(parsePlanned(plan.slice(0, 3), 'csv', 'CH'));
    const afterRight = await charged();

    const wrong = Uint8Array.from(running.directory.epochKeyPair().publicKey);
    wrong.set(new Uint8Array(randomBytes(32))); // random bytes: not this directory's key
    const other = new ContactDiscoveryClient({ server: running.server.url, cacheDir: join(tmp.path, 'wrong-pin'), token: TOKEN, pinnedPublicKey: wrong });
    other.grantConsent();
    await expect(other.sync(parsePlanned([...plan, ...strangers(100, 5)], 'csv', 'CH'))).rejects.toBeInstanceOf(ContactPsiError);
    expect(await charged()).toBe(afterRight);
    expect(afterRight).toBeGreaterThanOrEqual(before);
  });

  it('the key pinned on first use (cache) refuses the same server back with another key for the same epoch', async () => {
    expect(new SnapshotCache(cacheDir, running.server.url).pinned()).toBeDefined();
    const grownBook = parsePlanned([...plan, ...strangers(0, 4)], 'csv', 'CH');
    // Same URL, a new directory: same users, a fresh epoch-1 key.
    await running.close();
    const impostorDb = join(tmp.path, 'impostor.db');
    await buildDirectory(impostorDb, users);
    await start(impostorDb);
    const sdk = new ContactDiscoveryClient({ server: running.server.url, cacheDir, token: TOKEN });
    const error = await sdk.sync(grownBook).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ContactPsiError);
    // Either check refuses it: the pinned epoch key (proof_invalid) or, where the directory
    // signs its keys, the pinned directory identity (identity_mismatch).
    expect(['proof_invalid', 'identity_mismatch']).toContain((error as ContactPsiError).code);
    // Refused at dir.info, before any evaluation: the impostor charged nothing.
    expect(await running.directory.getBucket('sync:carol')).toBeUndefined();
  });
});
