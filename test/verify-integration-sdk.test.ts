/**
 * Issue 10 §1–§2 end to end through the SDK (ContactDiscoveryClient and syncAddressBook)
 * over loopback WebSocket, against a real SQLite directory served by the real backend and
 * a hostile operator in front of it who holds the identity key: a lying delta, a private
 * snapshot, a per-client key, a second key for a seen epoch, a lower-epoch key, a forged or
 * foreign signature and an unsigned dir.info are each refused; an honest rotation is
 * followed under a configured identity pin without any key-change report being an error.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ContactDiscoveryClient } from '../src/client/sdk.js';
import { syncAddressBook } from '../src/client/sync.js';
import { parseAddressBook } from '../src/contacts/index.js';
import type { PsiServer } from '../src/transport/ws/index.js';
import { bookCsv, honestDirectory, HostileBackend, identityOf, lookupKeyHex, probe, serveBackend, USERS, type Attack, type AttackKind, type HonestDirectory } from './helpers/verify-integration.js';

const KNOWN = [0, 1, 2, 3, 4, 5];
const book = parseAddressBook(bookCsv(KNOWN, [0, 1]), { defaultRegion: 'CH' });

interface Rig {
  dir: string;
  honest: HonestDirectory;
  hostile: HostileBackend;
  server: PsiServer;
  evaluations: number;
}

const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) {
    await r.server.close({ graceMs: 0 });
    await r.honest.close();
    rmSync(r.dir, { recursive: true, force: true });
  }
});

async function rig(skip = 0): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'verify-sdk-'));
  const honest = await honestDirectory(join(dir, 'dir.sqlite'), identityOf(1), skip);
  const hostile = new HostileBackend(honest.backend, honest.identity, undefined);
  const r = { dir, honest, hostile, evaluations: 0 } as Rig;
  r.server = await serveBackend(hostile, (n) => (r.evaluations += n));
  rigs.push(r);
  return r;
}

const attack = (kind: AttackKind): Attack => ({ kind, plant: probe(0), hide: 2, flip: 5 });
const cacheOf = (r: Rig) => join(r.dir, 'client');
const pinned = (r: Rig) => r.honest.identity.publicKey;

function sdk(r: Rig, options: { pin?: boolean } = {}) {
  const client = new ContactDiscoveryClient({ server: r.server.url, cacheDir: cacheOf(r), ...(options.pin === false ? {} : { pinnedIdentityKey: pinned(r) }) });
  client.grantConsent();
  return client;
}

const userIds = (matches: readonly { userId: string }[]) => matches.map((m) => m.userId).sort();
const expected = KNOWN.map((i) => USERS[i]!.userId).sort();

describe('the SDK refuses what the directory did not sign', () => {
  const refusals: [AttackKind, string, boolean][] = [
    ['privateSnapshot', 'split_view', false],
    ['privateDigest', 'split_view', false],
    ['perClientKey', 'key_conflict', false],
    ['forgedSignature', 'bad_signature', false],
    ['foreignIdentity', 'identity_mismatch', false],
    ['unsigned', 'bad_signature', false],
    ['secondKeyStatement', 'key_conflict', true],
  ];
  for (const [kind, code, synced] of refusals) {
    it(`${kind}: ${code}${synced ? ' (after an honest sync)' : ''}, and the server learns no label key`, async () => {
      const r = await rig();
      const client = sdk(r);
      if (synced) await client.sync(book);
      r.hostile.attack = attack(kind);
      r.hostile.reset();
      const asked = r.hostile.asked.size;
      await expect(client.sync(book)).rejects.toMatchObject({ code });
      expect(r.hostile.asked.size).toBe(asked);
      expect(r.hostile.asked.has(lookupKeyHex(r.honest.backend.current(), probe(0)))).toBe(false);
    });
  }

  it('a lower-epoch key after a rotation is key_conflict', async () => {
    const r = await rig();
    const client = sdk(r);
    await client.sync(book);
    const old = r.honest.backend.current();
    await r.honest.directory.rotateEpoch({ graceMs: 3600_000 });
    await r.honest.backend.refresh();
    r.hostile.reset();
    await client.sync(book);
    r.hostile.old = old;
    r.hostile.attack = attack('lowerEpoch');
    r.hostile.reset();
    await expect(client.sync(book)).rejects.toMatchObject({ code: 'key_conflict' });
  });
});

describe('a lying delta (issue 10 §1)', () => {
  it('is refused (split_view), the signed snapshot is downloaded instead: the probe is not shown, the hidden user is, and no label of the probe is asked for', async () => {
    const r = await rig(1);
    const cacheDir = cacheOf(r);
    const first = await syncAddressBook({ server: r.server.url, book, cacheDir, pinnedIdentityKey: pinned(r) });
    expect(userIds(first.matches)).toEqual(expected);
    // A new version: a new user registers; the operator's delta plants the probe and hides user-2.
    await r.honest.directory.importUsers([USERS[USERS.length - 1]!]);
    await r.honest.directory.precompute();
    await r.honest.backend.refresh();
    r.hostile.attack = attack('lyingDelta');
    r.hostile.reset();
    const refused: string[] = [];
    const out = await syncAddressBook({ server: r.server.url, book, cacheDir, pinnedIdentityKey: pinned(r), onDeltaRefused: (e) => refused.push(e.code) });
    expect(refused).toEqual(['split_view']);
    expect(out.result.deltaApplied).toBe(false);
    expect(out.result.downloadedBytes).toBeGreaterThan(0);
    expect(userIds(out.matches)).toEqual(expected);
    expect(out.matches.some((m) => m.identifier === probe(0))).toBe(false);
    expect(r.hostile.asked.has(lookupKeyHex(r.honest.backend.current(), probe(0)))).toBe(false);
    // Without the lie the next delta is applied and checked against the signed commitment.
    r.hostile.attack = undefined;
    await r.honest.directory.removeUser(USERS[USERS.length - 1]!.userId);
    await r.honest.directory.precompute();
    await r.honest.backend.refresh();
    r.hostile.reset();
    const honest = await syncAddressBook({ server: r.server.url, book, cacheDir, pinnedIdentityKey: pinned(r) });
    expect(honest.result.deltaApplied).toBe(true);
    expect(honest.result.refusedDelta).toBeUndefined();
    expect(userIds(honest.matches)).toEqual(expected);
  });
});

describe('rotations and pins', () => {
  it('an honest rotation is followed under a configured identity pin; the pin state survives in the cache', async () => {
    const r = await rig();
    const client = sdk(r);
    const before = await client.sync(book);
    const epoch = r.honest.backend.current().epoch;
    await r.honest.directory.rotateEpoch({ graceMs: 0 });
    await r.honest.backend.refresh();
    r.hostile.reset();
    const after = await client.sync(book);
    expect(r.honest.backend.current().epoch).toBe(epoch + 1);
    expect(after.contacts).toEqual(before.contacts);
    // Trust on first use pins the same identity, and the next client with a wrong pin is refused.
    const tofu = sdk(r, { pin: false });
    await tofu.sync(book);
    const wrong = new ContactDiscoveryClient({ server: r.server.url, cacheDir: join(r.dir, 'other'), pinnedIdentityKey: identityOf(2).publicKey });
    wrong.grantConsent();
    await expect(wrong.sync(book)).rejects.toMatchObject({ code: 'identity_mismatch' });
  });

  it('pinnedIdentityKey and witnesses are checked when the SDK is built', () => {
    expect(() => new ContactDiscoveryClient({ server: 'ws://x', cacheDir: '/tmp/x', pinnedIdentityKey: new Uint8Array(31) })).toThrow(/pinnedIdentityKey/);
    expect(() => new ContactDiscoveryClient({ server: 'ws://x', cacheDir: '/tmp/x', witnesses: ['http://x'] })).toThrow(/witnesses/);
  });
});
