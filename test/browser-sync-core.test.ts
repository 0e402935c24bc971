/**
 * The runtime-neutral sync (src/browser/sync-core.ts, behind contact-psi/browser's
 * syncAddressBook) against the real server with bearer tokens and quotas, in Node (ws),
 * over a MemorySyncCache: what the cache keeps is what makes a re-sync cheap and safe.
 *
 * - a first sync finds the planted rows and keeps the snapshot, the identity pins, the
 *   key, the receipt and the device secret;
 * - a re-sync with the same cache is a cache hit and charges nothing (issue 12 §3: without
 *   the device secret and the receipt, every contact was charged on every sync), while a
 *   second device (an empty cache) is charged again;
 * - the pinned identity refuses another directory identity;
 * - the cache's record checks never throw on arbitrary values and accept what was saved;
 * - the OPRF outputs are kept: the re-sync evaluates nothing (a cache hit, nothing charged).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDirectory, type RunningServer } from '../src/cli/commands/serve.js';
import { identityScope, MemorySyncCache, outputsProblem, pinProblem, receiptProblem, snapshotProblem } from '../src/browser/sync-cache.js';
import { runSync } from '../src/browser/sync-core.js';
import { seededRng } from '../src/contacts/generate.js';
import { ContactPsiError } from '../src/errors.js';
import type { BucketPolicy } from '../src/protocol/discovery/quota.js';
import { buildDirectory, expectedRows, generateUsers, parsePlanned, smallBook, tempDir } from './helpers/service.js';

const tmp = tempDir('contact-psi-browser-core-');
afterAll(() => tmp.cleanup());

const rng = seededRng(777);
const users = generateUsers(rng, 300);
const contacts = smallBook(rng, users, { contacts: 50, registered: 20, unregistered: 30 });
const book = parsePlanned(contacts, 'vcard-3.0', 'CH');
const TOKEN = 'token-dana-0123456789';
// No refill: every charge is exact, whatever the time between syncs on a slow machine.
const SYNC: BucketPolicy = { capacity: 1_000, refillPerMs: 0 };
const secureRng = (n: number) => new Uint8Array(randomBytes(n));
const key = (r: { identifier: string; userId: string }) => `${r.identifier} ${r.userId}`;

let running: RunningServer;
const charged = async (): Promise<number> => SYNC.capacity - ((await running.directory.getBucket('sync:dana'))?.tokens ?? SYNC.capacity);

beforeAll(async () => {
  const directory = await buildDirectory(join(tmp.path, 'server'), users);
  running = await serveDirectory(directory, { host: '127.0.0.1', port: 0, accounts: new Map([[TOKEN, 'dana']]), quotaKey: new Uint8Array(randomBytes(32)), quotaPolicy: { sync: SYNC } });
}, 120_000);
afterAll(() => running?.close());

describe('runSync over a SyncCache', () => {
  it('keeps what makes a re-sync free: same cache charges nothing, a new device is charged again', async () => {
    const cache = new MemorySyncCache();
    const server = running.server.url;
    const first = await runSync({ server, book, cache, rng: secureRng, token: TOKEN });
    expect(new Set(first.matches.map(key))).toEqual(new Set(expectedRows(contacts, users).map(key)));
    expect(first.result.cacheHit).toBe(false);
    const afterFirst = await charged();
    expect(afterFirst).toBe(first.identifiersChecked);
    expect(await cache.loadSnapshot(server)).toBeDefined();
    // A URL not declared to be the identity's keeps its receipt (spec/sync-failover.md §1); its verified outputs are shared.
    expect(await cache.loadReceipt(server)).toBeDefined();
    expect(await cache.loadReceipt(identityScope(first.result.outputs.identity!))).toBeUndefined();
    expect((await cache.loadPins(server))?.identityKey).toHaveLength(32);
    expect((await cache.loadPin(server))?.publicKey).toEqual(first.result.snapshot.publicKey);

    const second = await runSync({ server, book, cache, rng: secureRng, token: TOKEN });
    expect(second.result.cacheHit).toBe(true);
    expect(second.matches.map(key)).toEqual(first.matches.map(key));
    expect(await charged()).toBe(afterFirst);

    // Another device: another device secret, no receipt, so its blinds are new to the server.
    const other = await runSync({ server, book, cache: new MemorySyncCache(), rng: secureRng, token: TOKEN });
    expect(other.matches.map(key)).toEqual(first.matches.map(key));
    expect(await charged()).toBe(2 * afterFirst);
  });

  it('refuses a directory signed by another identity than the pinned one, before anything is charged', async () => {
    const before = await charged();
    const wrong = new Uint8Array(32).fill(7);
    const err = await runSync({ server: running.server.url, book, cache: new MemorySyncCache(), rng: secureRng, token: TOKEN, pinnedIdentityKey: wrong }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContactPsiError);
    expect((err as ContactPsiError).code).toBe('identity_mismatch');
    expect(await charged()).toBe(before);
  });

  it('record checks never throw on arbitrary values, and refuse all but well-formed records', () => {
    fc.assert(
      fc.property(fc.anything({ withTypedArray: true }), (value) => {
        for (const check of [snapshotProblem, pinProblem, receiptProblem, outputsProblem]) expect(['string', 'object']).toContain(typeof check(value));
      }),
      { numRuns: 300 },
    );
    expect(pinProblem({ epoch: 1, publicKey: new Uint8Array(32) })).toBeNull();
    expect(pinProblem({ epoch: -1, publicKey: new Uint8Array(32) })).not.toBeNull();
    expect(receiptProblem({ token: new Uint8Array(32), set: new Uint8Array(16), epoch: 1, generation: 2, evaluated: new Uint8Array(1) })).toBeNull();
    expect(receiptProblem({ token: new Uint8Array(32), set: new Uint8Array(15) })).not.toBeNull();
    expect(receiptProblem({ token: new Uint8Array(32), set: new Uint8Array(16), evaluated: new Uint8Array(2) })).not.toBeNull();
    const snapshot = { epoch: 1, version: 2, digest: new Uint8Array(32), publicKey: new Uint8Array(32), bytes: new Uint8Array(5) };
    expect(snapshotProblem(snapshot)).toBeNull();
    expect(snapshotProblem({ ...snapshot, added: new Uint8Array(7) })).not.toBeNull();
    expect(snapshotProblem({ ...snapshot, baseVersion: 3 })).not.toBeNull();
  });
});
