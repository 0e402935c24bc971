/**
 * The client's cache files against corruption (issue 9 §4): any bit flip, truncation,
 * extension or garbage in the snapshot, the pinned key or the quota receipt gives either a
 * clean re-download (snapshot: public data, checked again against dir.info) or a
 * `cache_corrupt` error that names the file and the way out (pin, receipt: forgetting them
 * silently would re-pin another key or charge every contact again) — never an exception of
 * another kind, never a silent re-pin. Old JSON files are migrated or dropped; temp files
 * have unpredictable names and are opened exclusively with mode 0600.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDirectory, type RunningServer } from '../src/cli/commands/serve.js';
import { CacheFileError } from '../src/client/cache-record.js';
import { tempPathFor, writeFileAtomic } from '../src/client/local-file.js';
import { deviceSecret, PIN_FILE, RECEIPT_FILE, SNAPSHOT_FILE, SnapshotCache } from '../src/client/snapshot-cache.js';
import { seededRng } from '../src/contacts/generate.js';
import type { CachedSnapshot } from '../src/protocol/discovery/client.js';
import { generateUsers, openSqliteDirectory, parsePlanned, smallBook, sync, tempDir } from './helpers/service.js';

const tmp = tempDir('contact-psi-cache-corruption-');
afterAll(() => tmp.cleanup());
let dirs = 0;
const freshDir = () => join(tmp.path, `c${dirs++}`);
const SERVER = 'ws://127.0.0.1:1';

const bytesOf = (n: number, seed: number) => new Uint8Array(createHash('sha512').update(`${seed}`).digest()).subarray(0, n);
function sampleSnapshot(seed = 1): CachedSnapshot {
  const bytes = new Uint8Array(3000).map((_, i) => (i * 31 + seed) & 0xff);
  return {
    epoch: 3,
    version: 17,
    baseVersion: 12,
    digest: new Uint8Array(createHash('sha256').update(bytes).digest()),
    infoDigest: bytesOf(32, seed + 1),
    infoCount: 1234,
    publicKey: bytesOf(32, seed + 2),
    bytes,
    added: new Uint8Array(16).map((_, i) => i),
    removed: new Uint8Array(8).fill(200),
  };
}

/** One corruption of a file's bytes (never the identity). */
type Corruption = { kind: 'flip'; at: number; bit: number } | { kind: 'truncate'; keep: number } | { kind: 'append'; extra: Uint8Array } | { kind: 'garbage'; bytes: Uint8Array } | { kind: 'empty' };
const corruption: fc.Arbitrary<Corruption> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
  fc.record({ kind: fc.constant('append' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({ kind: fc.constant('garbage' as const), bytes: fc.uint8Array({ minLength: 0, maxLength: 200 }) }),
  fc.record({ kind: fc.constant('empty' as const) }),
);
function corrupt(file: Uint8Array, c: Corruption): Uint8Array {
  switch (c.kind) {
    case 'flip': {
      const out = file.slice();
      out[c.at % out.length] ^= 1 << c.bit;
      return out;
    }
    case 'truncate':
      return file.slice(0, c.keep % file.length);
    case 'append':
      return Uint8Array.from([...file, ...c.extra]);
    case 'garbage':
      // Garbage that happens to equal the file is not a corruption.
      return c.bytes.length === file.length && c.bytes.every((b, i) => b === file[i]) ? new Uint8Array(0) : c.bytes;
    case 'empty':
      return new Uint8Array(0);
  }
}

const expectCorruptError = (f: () => unknown, path: string) => {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(CacheFileError);
  expect((err as CacheFileError).code).toBe('cache_corrupt');
  expect((err as CacheFileError).path).toBe(path);
  expect((err as Error).message).toContain(path);
  expect((err as Error).message).toContain('--reset-cache');
};

describe('cache files under random corruption', () => {
  it('the generator reaches every kind of corruption', () => {
    const kinds = new Set(fc.sample(corruption, 200).map((c) => c.kind));
    expect([...kinds].sort()).toEqual(['append', 'empty', 'flip', 'garbage', 'truncate']);
  });

  it('a corrupted snapshot is deleted and reported; load() never throws (re-download)', () => {
    fc.assert(
      fc.property(corruption, (c) => {
        const cache = new SnapshotCache(freshDir(), SERVER);
        const snap = sampleSnapshot();
        cache.save(snap);
        expect(cache.load()).toEqual(snap);
        const path = join(cache.dir, SNAPSHOT_FILE);
        writeFileSync(path, corrupt(new Uint8Array(readFileSync(path)), c));
        expect(cache.load()).toBeUndefined();
        expect(cache.discarded).toContain(path);
        expect(existsSync(path)).toBe(false);
        expect(cache.load()).toBeUndefined();
      }),
      { numRuns: 150 },
    );
  });

  it('a corrupted pinned key is cache_corrupt naming the file, every time: never forgotten, never re-pinned silently', () => {
    fc.assert(
      fc.property(corruption, (c) => {
        const cache = new SnapshotCache(freshDir(), SERVER);
        cache.pin(4, bytesOf(32, 9));
        expect(cache.pinned()).toEqual({ epoch: 4, publicKey: bytesOf(32, 9) });
        const path = join(cache.dir, PIN_FILE);
        const bad = corrupt(new Uint8Array(readFileSync(path)), c);
        writeFileSync(path, bad);
        expectCorruptError(() => cache.pinned(), path);
        expectCorruptError(() => cache.pinned(), path);
        expect(new Uint8Array(readFileSync(path))).toEqual(bad);
      }),
      { numRuns: 150 },
    );
  });

  it('a corrupted quota receipt is cache_corrupt naming the file', () => {
    fc.assert(
      fc.property(corruption, fc.integer({ min: 0, max: 40 }), (c, n) => {
        const cache = new SnapshotCache(freshDir(), SERVER);
        const receipt = { token: bytesOf(32, 5), set: new Uint8Array(8 * n).map((_, i) => i), epoch: 3, generation: n, evaluated: new Uint8Array(Math.ceil(n / 8)), chain: bytesOf(16, 6) };
        cache.saveReceipt(receipt);
        expect(cache.loadReceipt()).toEqual(receipt);
        const path = join(cache.dir, RECEIPT_FILE);
        writeFileSync(path, corrupt(new Uint8Array(readFileSync(path)), c));
        expectCorruptError(() => cache.loadReceipt(), path);
      }),
      { numRuns: 150 },
    );
  });

  it('a device secret of the wrong length is cache_corrupt, not replaced', () => {
    const root = freshDir();
    mkdirSync(root, { recursive: true });
    const secret = deviceSecret(root);
    expect(deviceSecret(root)).toEqual(secret);
    writeFileSync(join(root, 'device-secret'), secret.subarray(0, 31));
    expect(() => deviceSecret(root)).toThrow(expect.objectContaining({ code: 'cache_corrupt' }));
  });
});

describe('the JSON cache of earlier versions', () => {
  it('a JSON pin is migrated; a malformed one is cache_corrupt; a JSON snapshot is dropped (downloaded again)', () => {
    const cache = new SnapshotCache(freshDir(), SERVER);
    mkdirSync(cache.dir, { recursive: true });
    const key = bytesOf(32, 3);
    writeFileSync(join(cache.dir, 'pinned-key.json'), JSON.stringify({ server: SERVER, epoch: 2, publicKey: Buffer.from(key).toString('hex') }));
    expect(cache.pinned()).toEqual({ epoch: 2, publicKey: key });
    expect(existsSync(join(cache.dir, PIN_FILE))).toBe(true);
    expect(existsSync(join(cache.dir, 'pinned-key.json'))).toBe(false);

    const other = new SnapshotCache(freshDir(), SERVER);
    mkdirSync(other.dir, { recursive: true });
    for (const text of ['{', '[]', '{"epoch":"x","publicKey":"00"}', '{"epoch":1,"publicKey":"zz"}', '{"epoch":1,"publicKey":""}']) {
      writeFileSync(join(other.dir, 'pinned-key.json'), text);
      expectCorruptError(() => other.pinned(), join(other.dir, 'pinned-key.json'));
    }
    // A JSON receipt predates epoch-bound receipts (issue 10 §4): it cannot verify, so it is dropped.
    writeFileSync(join(other.dir, 'quota-receipt.json'), '{"token":"00","set":""}');
    expect(other.loadReceipt()).toBeUndefined();
    expect(existsSync(join(other.dir, 'quota-receipt.json'))).toBe(false);

    writeFileSync(join(other.dir, 'snapshot.json'), JSON.stringify({ added: 'ab'.repeat(1000) }));
    writeFileSync(join(other.dir, 'snapshot.bin'), new Uint8Array(100));
    expect(other.load()).toBeUndefined();
    expect(other.discarded).toContain('snapshot.json');
    expect(existsSync(join(other.dir, 'snapshot.json')) || existsSync(join(other.dir, 'snapshot.bin'))).toBe(false);
  });
});

describe('temp files', () => {
  it('have 128 random bits in their name, are opened exclusively with mode 0600, and a planted file at the old predictable name is not written through', () => {
    const names = new Set(Array.from({ length: 1000 }, () => tempPathFor('/x/snapshot.cache')));
    expect(names.size).toBe(1000);
    for (const n of names) expect(n).toMatch(/^\/x\/snapshot\.cache\.[0-9a-f]{32}\.tmp$/);

    const cache = new SnapshotCache(freshDir(), SERVER);
    mkdirSync(cache.dir, { recursive: true });
    // The old code wrote `<file>.<pid>.tmp` with writeFileSync, which follows a symlink.
    const victim = join(tmp.path, `victim-${dirs}`);
    writeFileSync(victim, 'untouched');
    for (const f of [SNAPSHOT_FILE, PIN_FILE, RECEIPT_FILE, 'snapshot.bin', 'snapshot.json', 'pinned-key.json']) symlinkSync(victim, join(cache.dir, `${f}.${process.pid}.tmp`));
    cache.save(sampleSnapshot());
    cache.pin(1, bytesOf(32, 1));
    cache.saveReceipt({ token: bytesOf(32, 2), set: new Uint8Array(8), epoch: 1, generation: 1, evaluated: new Uint8Array(1), chain: bytesOf(16, 1) });
    expect(readFileSync(victim, 'utf8')).toBe('untouched');
    for (const f of [SNAPSHOT_FILE, PIN_FILE, RECEIPT_FILE]) expect(statSync(join(cache.dir, f)).mode & 0o777).toBe(0o600);
    expect(readdirSync(cache.dir).filter((f) => f.endsWith('.tmp') && !f.includes(`.${process.pid}.tmp`))).toEqual([]);
    writeFileAtomic(join(cache.dir, 'x'), [new Uint8Array([1, 2, 3])]);
    expect(new Uint8Array(readFileSync(join(cache.dir, 'x')))).toEqual(new Uint8Array([1, 2, 3]));
  });
});

describe('syncAddressBook with a corrupted cache (real server)', () => {
  let server: RunningServer;
  const users = generateUsers(seededRng(4242), 60);
  const book = parsePlanned(smallBook(seededRng(7), users, { contacts: 5, registered: 5, unregistered: 2 }), 'csv', 'CH');
  beforeAll(async () => {
    const directory = await openSqliteDirectory(join(tmp.path, 'dir.db'));
    await directory.importUsers(users);
    await directory.precompute();
    server = await serveDirectory(directory, { host: '127.0.0.1', port: 0 });
  });
  afterAll(() => server?.close());

  it('snapshot: downloaded again with a warning; pin and receipt: cache_corrupt until deleted or --reset-cache', async () => {
    const cacheDir = freshDir();
    const first = await sync(server.server.url, book, cacheDir);
    expect(first.result.cacheHit).toBe(false);
    const cache = new SnapshotCache(cacheDir, server.server.url);
    const expected = first.matches;

    const snapPath = join(cache.dir, SNAPSHOT_FILE);
    const snapFile = new Uint8Array(readFileSync(snapPath));
    snapFile[snapFile.length >> 1] ^= 0x10;
    writeFileSync(snapPath, snapFile);
    const warnings: string[] = [];
    const again = await sync(server.server.url, book, cacheDir, { onCacheDiscarded: (w) => warnings.push(w) });
    expect(again.result.cacheHit).toBe(false);
    expect(again.result.downloadedBytes).toBeGreaterThan(0);
    expect(again.matches).toEqual(expected);
    expect(warnings.join()).toContain(snapPath);
    expect((await sync(server.server.url, book, cacheDir)).result.cacheHit).toBe(true);

    const pinPath = join(cache.dir, PIN_FILE);
    const pinFile = readFileSync(pinPath);
    writeFileSync(pinPath, pinFile.subarray(0, pinFile.length - 1));
    await expect(sync(server.server.url, book, cacheDir)).rejects.toMatchObject({ code: 'cache_corrupt', path: pinPath });
    expect(readFileSync(pinPath).length).toBe(pinFile.length - 1); // not re-pinned
    const reset = await sync(server.server.url, book, cacheDir, { resetCache: true });
    expect(reset.matches).toEqual(expected);
    expect(readFileSync(pinPath)).toEqual(pinFile);

    // The receipt of a URL not declared to be the identity's is in the URL's folder (spec/sync-failover.md §1).
    const receiptPath = join(new SnapshotCache(cacheDir, server.server.url).dir, RECEIPT_FILE);
    writeFileSync(receiptPath, 'garbage');
    await expect(sync(server.server.url, book, cacheDir)).rejects.toMatchObject({ code: 'cache_corrupt', path: receiptPath });
  });
});
