/**
 * Witnesses end to end (issue 10 §1 "so one client cannot be shown a version that nobody
 * else sees"): `witnesses` of the SDK / `sync --witness` ask each witness, before anything
 * is evaluated, for its newest signed announcement and its entry for the served (epoch,
 * version). Two nodes on one store are each other's witness and agree; a witness holding
 * another signed commitment for the version fails the sync with `split_view` (with both
 * envelopes as evidence) before the server has seen one blinded element; a private version
 * at a log position where the public log holds another entry is caught the same way; a
 * witness that is behind only warns.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { syncAddressBook } from '../src/client/sync.js';
import { parseAddressBook } from '../src/contacts/index.js';
import { Directory, SqliteStore } from '../src/directory/index.js';
import { DirectoryDiscoveryBackend } from '../src/directory/discovery-backend.js';
import { loadIdentityKeyFile, identityKeyPath } from '../src/directory/identity-key.js';
import { entryHash, openAnnouncement, signStatement } from '../src/protocol/discovery/announcement.js';
import type { DiscoveryBackend, EpochView } from '../src/protocol/discovery/backend.js';
import { applyDelta } from '../src/protocol/discovery/commitment.js';
import { VerifiabilityError } from '../src/protocol/discovery/verify-error.js';
import type { PsiServer } from '../src/transport/ws/index.js';
import { bookCsv, probe, serveBackend, tagOf, USERS } from './helpers/verify-integration.js';
import { directorySuite } from './helpers/service.js';

const book = parseAddressBook(bookCsv([0, 1, 2, 3], [0]), { defaultRegion: 'CH' });
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** One node: its own Directory and backend on the shared SQLite file, its own server. */
async function node(db: string, onEvaluate?: (n: number) => void, wrap?: (b: DirectoryDiscoveryBackend) => DiscoveryBackend) {
  const directory = await Directory.open({ store: SqliteStore.open(db), suite: directorySuite() });
  const backend = await DirectoryDiscoveryBackend.open(directory, 'fuse');
  const server = await serveBackend(wrap ? wrap(backend) : backend, onEvaluate);
  cleanups.push(async () => {
    await server.close({ graceMs: 0 });
    await directory.close();
  });
  return { directory, backend, server };
}

async function sharedStore() {
  const dir = mkdtempSync(join(tmpdir(), 'verify-witness-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const db = join(dir, 'dir.sqlite');
  const seed = await Directory.open({ store: SqliteStore.open(db), suite: directorySuite() });
  await seed.importUsers(USERS.slice(0, 8));
  await seed.precompute();
  await seed.close();
  return { dir, db };
}

/** A witness that answers with envelopes of the test's choosing (and serves `view` for the hello). */
function witnessAnswering(view: () => EpochView, answer: () => Uint8Array[]): DiscoveryBackend {
  return { current: view, epoch: (e) => (e === view().epoch ? view() : undefined), sealedLabels: async (_e, keys) => keys.map(() => undefined), announcements: async () => answer() };
}

describe('witnesses', () => {
  it('two nodes on one store are each other\'s witness: both syncs are confirmed, also after one node announced a new version', async () => {
    const { dir, db } = await sharedStore();
    const a = await node(db);
    const b = await node(db);
    const identity = loadIdentityKeyFile(identityKeyPath(db)).publicKey;
    for (const [self, other, cache] of [[a, b, 'ca'], [b, a, 'cb']] as const) {
      const seen: string[][] = [];
      const out = await syncAddressBook({ server: self.server.url, book, cacheDir: join(dir, cache), pinnedIdentityKey: identity, witnesses: [other.server.url], onWitnesses: (c) => seen.push([...c.confirmed]) });
      expect(out.matches.map((m) => m.userId).sort()).toEqual(['user-0', 'user-1', 'user-2', 'user-3']);
      expect(seen).toEqual([[other.server.url]]);
    }
    // Node A picks up a change and announces it; B has not refreshed, but the log is shared.
    await a.directory.importUsers([USERS[9]!]);
    await a.directory.precompute();
    await a.backend.refresh();
    const seen: string[][] = [];
    await syncAddressBook({ server: a.server.url, book, cacheDir: join(dir, 'ca'), pinnedIdentityKey: identity, witnesses: [b.server.url], onWitnesses: (c) => seen.push([...c.confirmed]) });
    expect(seen).toEqual([[b.server.url]]);
  });

  it('a witness holding another signed commitment for the version fails the sync (split_view, both envelopes as evidence) before anything is evaluated', async () => {
    const { dir, db } = await sharedStore();
    let evaluated = 0;
    const main = await node(db, (n) => (evaluated += n));
    const identity = loadIdentityKeyFile(identityKeyPath(db));
    const signed = openAnnouncement(main.backend.current().signed!.announcement);
    // The operator signed a second body for the same (epoch, version): one more tag in it.
    const lie = applyDelta({ count: signed.statement.count, digest: signed.statement.commitment }, tagOf(main.backend.current(), probe(0)).subarray(0, 8), new Uint8Array(0));
    const other = signStatement({ ...signed.statement, count: lie.count, commitment: lie.digest }, identity.secretKey);
    const witness = await serveBackend(witnessAnswering(() => main.backend.current(), () => [other.bytes]));
    cleanups.push(() => witness.close({ graceMs: 0 }));
    const err = await syncAddressBook({ server: main.server.url, book, cacheDir: join(dir, 'c'), pinnedIdentityKey: identity.publicKey, witnesses: [witness.url] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'split_view' });
    // The proof travels with the error, at least as far as the session raised it.
    if (err instanceof VerifiabilityError) expect(err.evidence.length).toBe(2);
    expect(evaluated).toBe(0);
  });

  it('a private version shown to one client, at a log position where the public log holds another entry, is caught by an honest node as witness', async () => {
    const { dir, db } = await sharedStore();
    const main = await node(db);
    const honestNode = await node(db);
    const identity = loadIdentityKeyFile(identityKeyPath(db));
    // The operator signs a private next version for this client (the probe planted, the delta consistent with it)...
    const view = main.backend.current();
    const head = openAnnouncement(view.signed!.announcement);
    const planted = tagOf(view, probe(0)).subarray(0, 8);
    const lie = applyDelta({ count: head.statement.count, digest: head.statement.commitment }, planted, new Uint8Array(0));
    const privateAnnouncement = signStatement({ ...head.statement, seq: head.statement.seq + 1, prev: entryHash(head.body), version: head.statement.version + 1, count: lie.count, commitment: lie.digest }, identity.secretKey);
    // ...while the public log moves on to another next version (a real change).
    await honestNode.directory.importUsers([USERS[9]!]);
    await honestNode.directory.precompute();
    await honestNode.backend.refresh();
    expect(openAnnouncement(honestNode.backend.current().signed!.announcement).statement.seq).toBe(head.statement.seq + 1);
    const privateView: EpochView = { ...view, snapshot: { ...view.snapshot, version: head.statement.version + 1, count: lie.count }, signed: { ...view.signed!, announcement: privateAnnouncement.bytes } };
    const served = witnessAnswering(() => privateView, () => []);
    const server = await serveBackend({ ...served, sealedLabels: (e, k) => main.backend.sealedLabels(e, k) });
    cleanups.push(() => server.close({ graceMs: 0 }));
    await expect(
      syncAddressBook({ server: server.url, book, cacheDir: join(dir, 'c'), pinnedIdentityKey: identity.publicKey, witnesses: [honestNode.server.url] }),
    ).rejects.toMatchObject({ code: 'split_view' });
  });

  it('a witness that is behind only warns: the sync completes with no confirmation', async () => {
    const { dir, db } = await sharedStore();
    const main = await node(db);
    const identity = loadIdentityKeyFile(identityKeyPath(db)).publicKey;
    const older = main.backend.current().signed!.announcement;
    await main.directory.importUsers([USERS[9]!]);
    await main.directory.precompute();
    await main.backend.refresh();
    const witness = await serveBackend(witnessAnswering(() => main.backend.current(), () => [older]));
    cleanups.push(() => witness.close({ graceMs: 0 }));
    const seen: { confirmed: readonly string[]; behind: readonly string[] }[] = [];
    const out = await syncAddressBook({ server: main.server.url, book, cacheDir: join(dir, 'c'), pinnedIdentityKey: identity, witnesses: [witness.url], onWitnesses: (c) => seen.push(c) });
    expect(out.matches).toHaveLength(4);
    expect(seen).toEqual([{ confirmed: [], behind: [witness.url] }]);
  });
});
