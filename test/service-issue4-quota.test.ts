/**
 * Issue 4, quotas against enumeration (spec/discovery.md §9) over loopback sockets:
 * serveDirectory with bearer tokens (token -> account), a quota key and a small policy
 * (capacity 30). Over quota is `rate_limited` with retryAfterMs (a remote ProtocolError
 * from syncAddressBook; an error message and close 4429 on a raw socket); a re-sync of the
 * same book is free, 3 new contacts cost exactly 3; no token is 401; the buckets live in
 * the SQLite file and survive a restart.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDirectory, type RunningServer } from '../src/cli/commands/serve.js';
import { deviceSecret, SnapshotCache } from '../src/client/snapshot-cache.js';
import { seededRng } from '../src/contacts/generate.js';
import { uniqueIdentifiers } from '../src/contacts/index.js';
import type { BucketState } from '../src/directory/types.js';
import { DiscoveryClientSession, type KnownOutputs, type QuotaReceipt } from '../src/protocol/discovery/client.js';
import type { BucketPolicy } from '../src/protocol/discovery/quota.js';
import { ProtocolError } from '../src/protocol/errors.js';
import { ErrorCloseCodes, runClientSession, UpgradeRejectedError } from '../src/transport/ws/index.js';
import { directorySuite, expectedRows, generateUsers, openSqliteDirectory, outcomeRows, parsePlanned, smallBook, sync, tempDir, type PlannedContact } from './helpers/service.js';
import { greet, tokenPeer } from './helpers/service-issue4.js';

const tmp = tempDir('contact-psi-issue4-quota-');
afterAll(() => tmp.cleanup());

const users = generateUsers(seededRng(9090), 600);
const HOUR = 3_600_000;
const SYNC: BucketPolicy = { capacity: 30, refillPerMs: 1 / HOUR };
const LOOKUP: BucketPolicy = { capacity: 3, refillPerMs: 1 / HOUR };
const accounts = new Map([
  ['token-alice-0123456789', 'alice'],
  ['token-bob-0123456789', 'bob'],
]);
const ALICE = 'token-alice-0123456789';
const BOB = 'token-bob-0123456789';
const quotaKey = new Uint8Array(randomBytes(32));
const db = join(tmp.path, 'directory.db');
const suite = directorySuite();
/** The receipt kept for the server URL (spec/sync-failover.md §1: a URL not declared to be the identity's keeps its own). */
const receiptIn = (cacheDir: string) => new SnapshotCache(cacheDir, running.server.url).loadReceipt();
let running: RunningServer;
let port = 0;

async function start(): Promise<RunningServer> {
  const directory = await openSqliteDirectory(db);
  running = await serveDirectory(directory, { host: '127.0.0.1', port, accounts, quotaKey, quotaPolicy: { sync: SYNC, lookup: LOOKUP } });
  port = Number(new URL(running.server.url).port);
  return running;
}

beforeAll(async () => {
  const directory = await openSqliteDirectory(db);
  await directory.importUsers(users);
  await directory.precompute();
  await directory.close();
  await start();
});
afterAll(() => running?.close());

const bucket = (account: string): Promise<BucketState | undefined> => running.directory.getBucket(account);
/** Fresh, unregistered phone numbers written as contacts (distinct from every directory identifier). */
const taken = new Set(users.flatMap((u) => u.identifiers));
const strangers = (from: number, n: number): PlannedContact[] =>
  Array.from({ length: n }, (_, i) => {
    const e164 = `+4179${String(5_000_000 + from + i).padStart(7, '0')}`;
    if (taken.has(`tel:${e164}`)) throw new Error(`${e164} is registered`);
    return { name: `Stranger ${from + i}`, phones: [e164], emails: [], identifiers: new Set([`tel:${e164}`]) };
  });

const alicePlan = smallBook(seededRng(12), users, { contacts: 10, registered: 12, unregistered: 8 });
const aliceCache = join(tmp.path, 'alice');
const expectRateLimited = async (promise: Promise<unknown>, retry: 'some' | 'none') => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProtocolError);
  expect(error).toMatchObject({ code: 'rate_limited', remote: true });
  const retryAfterMs = (error as ProtocolError).retryAfterMs;
  if (retry === 'none') expect(retryAfterMs).toBeUndefined();
  else expect(retryAfterMs).toBeGreaterThan(0);
  return retryAfterMs;
};

describe('quotas over a socket', () => {
  it('without a token, or with an unknown one, the upgrade is refused with 401', async () => {
    const book = parsePlanned(alicePlan, 'vcard-3.0', 'CH');
    for (const token of [undefined, 'not-a-token']) {
      const error = await sync(running.server.url, book, join(tmp.path, 'anonymous'), { token }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(UpgradeRejectedError);
      expect(error).toMatchObject({ code: 'unauthorized', status: 401, remote: true });
    }
    const raw = tokenPeer(running.server.url);
    expect(await raw.refused).toBe(401);
    expect(await bucket('sync:alice')).toBeUndefined();
    expect(await bucket('sync:undefined')).toBeUndefined();
  });

  it('a sync charges each new contact once: a re-sync is free, 3 more contacts cost exactly 3', async () => {
    const book = parsePlanned(alicePlan, 'vcard-3.0', 'CH');
    const n = uniqueIdentifiers(book).length;
    expect(n).toBeGreaterThan(10);
    expect(n).toBeLessThanOrEqual(SYNC.capacity - 3);

    const first = await sync(running.server.url, book, aliceCache, { token: ALICE });
    expect(outcomeRows(first)).toEqual(expectedRows(alicePlan, users));
    const afterFirst = (await bucket('sync:alice'))!;
    // A fresh bucket starts full; the first charge is exact (no time has passed for it).
    expect(afterFirst.tokens).toBe(SYNC.capacity - n);
    expect(first.result.quotaReceipt?.set.length).toBe(8 * n);
    expect(receiptIn(aliceCache)?.set.length).toBe(8 * n);

    // The same book again: nothing charged, the bucket is not even written.
    const again = await sync(running.server.url, book, aliceCache, { token: ALICE });
    expect(outcomeRows(again)).toEqual(outcomeRows(first));
    expect(again.result.cacheHit).toBe(true);
    expect(await bucket('sync:alice')).toEqual(afterFirst);

    // Three new contacts: exactly three tokens (plus the refill since the last charge).
    const grown = [...alicePlan, ...strangers(0, 3)];
    const third = await sync(running.server.url, parsePlanned(grown, 'csv', 'CH'), aliceCache, { token: ALICE });
    expect(outcomeRows(third)).toEqual(expectedRows(grown, users));
    const afterThird = (await bucket('sync:alice'))!;
    const refill = (afterThird.updatedAt - afterFirst.updatedAt) * SYNC.refillPerMs;
    expect(afterThird.tokens).toBeCloseTo(afterFirst.tokens + refill - 3, 9);
    expect(third.result.quotaReceipt?.set.length).toBe(8 * (n + 3));
    // Another account has its own bucket.
    expect(await bucket('sync:bob')).toBeUndefined();
  });

  it('over quota: rate_limited with retryAfterMs from syncAddressBook, and an error plus close 4429 on a raw socket; nothing is charged', async () => {
    const state = (await bucket('sync:alice'))!;
    const left = Math.floor(state.tokens);
    expect(left).toBeGreaterThan(0);
    // More new contacts than the balance (but fewer than the capacity): refused as a whole.
    const tooMany = [...alicePlan, ...strangers(0, 3), ...strangers(100, left + 2)];
    const retryAfterMs = await expectRateLimited(sync(running.server.url, parsePlanned(tooMany, 'csv', 'CH'), aliceCache, { token: ALICE }), 'some');
    // The time until the balance covers the 2 missing tokens, at 1 per hour.
    expect(retryAfterMs!).toBeGreaterThan(1.9 * HOUR);
    expect(retryAfterMs!).toBeLessThanOrEqual(2 * HOUR + 1);
    expect(await bucket('sync:alice')).toEqual(state);
    // The receipt of the last good sync is kept: the old contacts are still free.
    expect(receiptIn(aliceCache)?.set.length).toBeGreaterThan(0);

    // The same over a raw socket: fresh blinded elements, more than the balance.
    const { peer, info } = await greet(running.server.url, ALICE);
    const blinded = suite.blind(Array.from({ length: left + 1 }, (_, i) => new TextEncoder().encode(`tel:+4178000${i}`)), seededRng(3)).blinded;
    peer.send({ t: 'dir.evaluate', epoch: info.epoch, seq: 0, blinded });
    const closed = await peer.closed;
    const error = peer.decoded().at(-1) as { t: string; code: string; retryAfterMs?: number };
    expect(error).toMatchObject({ t: 'error', code: 'rate_limited' });
    expect(error.retryAfterMs).toBeGreaterThan(0);
    expect(error.retryAfterMs).toBeLessThanOrEqual(HOUR + 1);
    expect(closed).toEqual({ code: ErrorCloseCodes.rate_limited, reason: 'rate_limited' });
    expect(await bucket('sync:alice')).toEqual(state);

    // More than the whole bucket (bob, full): rate_limited without a retry time (waiting cannot help).
    const huge = strangers(1000, SYNC.capacity + 1);
    await expectRateLimited(sync(running.server.url, parsePlanned(huge, 'csv', 'CH'), join(tmp.path, 'bob'), { token: BOB }), 'none');
    expect(await bucket('sync:bob')).toBeUndefined();
    const raw = await greet(running.server.url, BOB);
    const big = suite.blind(Array.from({ length: SYNC.capacity + 1 }, (_, i) => new TextEncoder().encode(`tel:+4177000${i}`)), seededRng(4)).blinded;
    raw.peer.send({ t: 'dir.evaluate', epoch: raw.info.epoch, seq: 0, blinded: big });
    expect(await raw.peer.closed).toEqual({ code: ErrorCloseCodes.rate_limited, reason: 'rate_limited' });
    const noRetry = raw.peer.decoded().at(-1) as { code: string; retryAfterMs?: number };
    expect(noRetry.code).toBe('rate_limited');
    expect(noRetry.retryAfterMs).toBeUndefined();
  });

  it('one-off lookups have their own small bucket', async () => {
    const syncBefore = await bucket('sync:alice');
    const two = strangers(2000, 2);
    await sync(running.server.url, parsePlanned(two, 'csv', 'CH'), join(tmp.path, 'alice-lookup'), { token: ALICE, purpose: 'lookup' });
    expect((await bucket('lookup:alice'))!.tokens).toBe(LOOKUP.capacity - 2);
    expect(await bucket('sync:alice')).toEqual(syncBefore);
    await expectRateLimited(sync(running.server.url, parsePlanned(strangers(2100, 2), 'csv', 'CH'), join(tmp.path, 'alice-lookup'), { token: ALICE, purpose: 'lookup' }), 'some');
  });

  it('quota state survives a restart: same balance after reopening the SQLite file; the old receipt still spares old contacts', async () => {
    const alice = (await bucket('sync:alice'))!;
    const lookup = (await bucket('lookup:alice'))!;
    const url = running.server.url;
    await running.close();
    await start();
    expect(running.server.url).toBe(url);
    expect(await bucket('sync:alice')).toEqual(alice);
    expect(await bucket('lookup:alice')).toEqual(lookup);

    // The book of the last good sync: free (same quota key, receipt from the cache).
    const grown = [...alicePlan, ...strangers(0, 3)];
    const out = await sync(url, parsePlanned(grown, 'csv', 'CH'), aliceCache, { token: ALICE });
    expect(outcomeRows(out)).toEqual(expectedRows(grown, users));
    expect(await bucket('sync:alice')).toEqual(alice);
    // And the balance did not reset: still over quota.
    const tooMany = [...grown, ...strangers(100, Math.floor(alice.tokens) + 2)];
    await expectRateLimited(sync(url, parsePlanned(tooMany, 'csv', 'CH'), aliceCache, { token: ALICE }), 'some');
  });

  it('a key rotation does not make old contacts cost again (the blinds do not depend on the key)', async () => {
    const alice = (await bucket('sync:alice'))!;
    const before = running.backend.current().epoch;
    await running.directory.rotateEpoch({ graceMs: 60_000 });
    expect((await running.backend.refresh()).epoch).toBe(before + 1);
    const grown = [...alicePlan, ...strangers(0, 3)];
    const out = await sync(running.server.url, parsePlanned(grown, 'csv', 'CH'), aliceCache, { token: ALICE });
    expect(out.result.cacheHit).toBe(false);
    expect(out.result.snapshot.epoch).toBe(before + 1);
    expect(outcomeRows(out)).toEqual(expectedRows(grown, users));
    expect(await bucket('sync:alice')).toEqual(alice);
  });

  // Spec §9: "No double charging". A sync of several chunks that runs out of quota midway
  // leaves the chunks before the refused one charged (each chunk is all or nothing); the
  // server sends a dir.receipt for them before the error, so the client can show they were
  // paid for and they are not charged again at the next sync.
  const bobIds = strangers(3000, 20).map((c) => [...c.identifiers][0]!);
  const bobChunkCache = join(tmp.path, 'bob-chunks');
  const chunked = (ids: string[], quotaReceipt?: QuotaReceipt, outputs?: KnownOutputs) =>
    new DiscoveryClientSession({
      suite,
      identifiers: ids,
      rng: (k) => new Uint8Array(randomBytes(k)),
      blindSecret: deviceSecret(bobChunkCache),
      quotaReceipt,
      outputs,
      // Chunks of 5: the server accepts the first ones, then refuses one over the balance.
      limits: { maxChunkItems: 5 },
    });
  let partial: QuotaReceipt | undefined;
  let partialOutputs: KnownOutputs | undefined;

  it('a multi-chunk sync that runs out midway: the chunks before the refused one stay charged, and a receipt for them comes first', async () => {
    const url = running.server.url;
    // Spend bob's bucket down to 12 with a normal sync of 18 contacts.
    await sync(url, parsePlanned(strangers(4000, 18), 'csv', 'CH'), join(tmp.path, 'bob-spend'), { token: BOB });
    expect(Math.floor((await bucket('sync:bob'))!.tokens)).toBe(12);
    // 20 contacts in 4 chunks: chunks 0 and 1 (10 contacts) are charged, chunk 2 is refused.
    const session = chunked(bobIds);
    await expectRateLimited(runClientSession(url, session, { token: BOB }), 'some');
    expect(Math.floor((await bucket('sync:bob'))!.tokens)).toBe(2);
    partial = session.quotaReceipt;
    partialOutputs = session.partialOutputs;
    expect(partial?.set.length).toBe(10 * 8);
    expect(partialOutputs?.entries.size).toBe(10);
  });

  // Issue 10 §4: the client keeps the OPRF outputs answered before the refusal, so it does not
  // evaluate them again (a re-evaluation within the epoch would be charged).
  it('with that receipt and the outputs answered, the 10 paid-for contacts are not evaluated nor charged again at the next sync', async () => {
    const before = (await bucket('sync:bob'))!;
    const out = await runClientSession(running.server.url, chunked(bobIds.slice(0, 10), partial, partialOutputs), { token: BOB }).catch((e: unknown) => e);
    expect(out).not.toBeInstanceOf(ProtocolError);
    expect((await bucket('sync:bob'))!.tokens).toBeGreaterThanOrEqual(before.tokens);
  });
});
