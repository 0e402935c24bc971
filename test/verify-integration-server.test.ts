/**
 * The server side of verifiability on a real SQLite store: the identity signs a key
 * statement per served epoch and an announcement per served version into the append-only
 * log; the commitment is computed from scratch once per epoch and moved by deltas after
 * (equal to a from-scratch computation), and a restart recomputes and signs nothing; the
 * log verifies as a whole and is fetched over dir.log by the log query session (paged,
 * `limit` just past 1,024 refused); the identity file is 0600 beside the database.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Directory, SqliteStore } from '../src/directory/index.js';
import { DirectoryDiscoveryBackend } from '../src/directory/discovery-backend.js';
import { identityKeyPath, loadIdentityKeyFile } from '../src/directory/identity-key.js';
import { openAnnouncement } from '../src/protocol/discovery/announcement.js';
import { verifyLog } from '../src/protocol/discovery/announcement-log.js';
import { commitPrefixes } from '../src/protocol/discovery/commitment.js';
import { LogQuerySession, type LogQueryResult } from '../src/protocol/discovery/log-query.js';
import { DEFAULT_DISCOVERY_LIMITS, discoverySchemas, MAX_LOG_ENTRIES_PER_MESSAGE } from '../src/protocol/discovery/messages.js';
import { DiscoveryServerSession } from '../src/protocol/discovery/server.js';
import { checkMessage } from '../src/protocol/schema.js';
import { runSessionPairAsync } from '../src/protocol/session-pair.js';
import { directorySuite } from './helpers/service.js';
import { seededRng } from './helpers/rng.js';
import { USERS } from './helpers/verify-integration.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function open(db: string) {
  const directory = await Directory.open({ store: SqliteStore.open(db), suite: directorySuite() });
  const backend = await DirectoryDiscoveryBackend.open(directory, 'fuse');
  cleanups.push(() => directory.close());
  return { directory, backend };
}

function temp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'verify-server-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'dir.sqlite');
}

describe('the announcing server', () => {
  it('signs once per epoch and version, moves the commitment by deltas (= from scratch), and a restart recomputes nothing', async () => {
    const db = temp();
    const seed = await Directory.open({ store: SqliteStore.open(db), suite: directorySuite() });
    await seed.importUsers(USERS.slice(0, 6));
    await seed.precompute();
    await seed.close();
    const a = await open(db);
    expect(a.backend.announcer.fullCommitments).toBe(1);
    expect(statSync(identityKeyPath(db)).mode & 0o777).toBe(0o600);
    // Three more versions, each announced from the previous one by its delta.
    for (const u of USERS.slice(6, 9)) {
      await a.directory.importUsers([u]);
      await a.directory.precompute();
      await a.backend.refresh();
    }
    await a.directory.removeUser(USERS[0]!.userId);
    await a.directory.precompute();
    await a.backend.refresh();
    expect(a.backend.announcer.fullCommitments).toBe(1);
    const signed = openAnnouncement(a.backend.current().signed!.announcement).statement;
    const scratch = commitPrefixes((await a.directory.store.readTagSet(a.backend.current().epoch, 8)).packed);
    expect({ count: signed.count, digest: Buffer.from(signed.commitment).toString('hex') }).toEqual({ count: scratch.count, digest: Buffer.from(scratch.digest).toString('hex') });
    const length = await a.directory.store.logLength();
    expect(length).toBe(1 + 5);
    const envelope = a.backend.current().signed!;
    await a.directory.close();
    cleanups.pop();
    // Restart: the same envelopes, nothing computed or appended.
    const b = await open(db);
    expect(b.backend.announcer.fullCommitments).toBe(0);
    expect(await b.directory.store.logLength()).toBe(length);
    expect(b.backend.current().signed).toEqual(envelope);
    const log = await b.directory.store.readLog(0, 100);
    const identity = loadIdentityKeyFile(identityKeyPath(db)).publicKey;
    expect(verifyLog(log.map((e) => e.envelope), { identityKey: identity }).length).toBe(length);
    // A rotation: a key statement for the new epoch, then its first announcement from scratch.
    await b.directory.rotateEpoch({ graceMs: 0 });
    await b.backend.refresh();
    expect(b.backend.announcer.fullCommitments).toBe(1);
    const after = verifyLog((await b.directory.store.readLog(0, 100)).map((e) => e.envelope), { identityKey: identity });
    expect(after.epochKey!.statement.epoch).toBe(b.backend.current().epoch);
    expect(after.length).toBe(length + 2);
  });

  it('dir.log pages the whole log to the log query session, which verifies it; a limit past 1,024 is refused by the schema', async () => {
    const db = temp();
    const seed = await Directory.open({ store: SqliteStore.open(db), suite: directorySuite() });
    await seed.importUsers(USERS.slice(0, 3));
    await seed.precompute();
    await seed.close();
    const a = await open(db);
    for (const u of USERS.slice(3, 8)) {
      await a.directory.importUsers([u]);
      await a.directory.precompute();
      await a.backend.refresh();
    }
    const identity = loadIdentityKeyFile(identityKeyPath(db)).publicKey;
    // Two entries per page: the log (7 entries) comes in four dir.log answers.
    const client = new LogQuerySession({ suite: 'ristretto255-SHA512', identityKey: identity, pageEntries: 2 });
    const server = new DiscoveryServerSession({ backend: a.backend, rng: seededRng(1), now: 0 });
    const out = await runSessionPairAsync(client, server);
    const result = out.clientResult as LogQueryResult;
    expect(out.clientError).toBeUndefined();
    expect(result.entries.length).toBe(await a.directory.store.logLength());
    expect(result.entries.length).toBe(7);
    expect(out.messagesClientToServer).toBe(1 + 4);
    expect(result.cursor.latest!.bytes).toEqual(a.backend.current().signed!.announcement);
    const schema = discoverySchemas(DEFAULT_DISCOVERY_LIMITS)['dir.log.get'];
    const get = (limit: number) => new Map<string, unknown>([['from', 0], ['limit', limit]]);
    expect(() => checkMessage(get(MAX_LOG_ENTRIES_PER_MESSAGE), schema, 'dir.log.get')).not.toThrow();
    expect(() => checkMessage(get(MAX_LOG_ENTRIES_PER_MESSAGE + 1), schema, 'dir.log.get')).toThrow(/limit/);
  });
});
