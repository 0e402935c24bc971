/**
 * The client's verifiability state on disk (spec/client.md): pins.bin round-trips and is
 * re-verified when read; any damaged byte, or a file of another server, is cache_corrupt
 * (never "nothing pinned", which would let another identity be pinned on first use); the
 * snapshot cache keeps the signed commitment, and a file written before it existed still
 * loads (without one: the next delta waits for a download).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { RecordWriter } from '../src/client/cache-record.js';
import { PINS_FILE, SNAPSHOT_FILE, SnapshotCache } from '../src/client/snapshot-cache.js';
import { GENESIS_PREV, entryHash, signStatement } from '../src/protocol/discovery/announcement.js';
import { acceptAnnouncement, acceptEpochKey, encodePins, newPins } from '../src/protocol/discovery/identity-pins.js';
import { identityOf } from './helpers/verify-integration.js';
import { sha256 } from '@noble/hashes/sha2.js';

const root = mkdtempSync(join(tmpdir(), 'verify-cache-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const id = identityOf(7);
const key = signStatement({ kind: 'epoch-key', seq: 0, prev: GENESIS_PREV, suite: 'ristretto255-SHA512', epoch: 1, publicKey: new Uint8Array(32).fill(0) }, id.secretKey);
// An all-zero key is not a valid element, but the pin rules only compare bytes: fine for the file format.
const ann = signStatement({ kind: 'announcement', seq: 1, prev: entryHash(key.body), epoch: 1, version: 3, count: 0, commitment: new Uint8Array(32), encoding: 'fuse', snapshotDigest: sha256(new Uint8Array(1)) }, id.secretKey);
const state = acceptAnnouncement(acceptEpochKey(newPins({ identityKey: id.publicKey }), key.bytes), ann.bytes);

describe('pins.bin', () => {
  it('round-trips the pin state', () => {
    const cache = new SnapshotCache(root, 'ws://a');
    expect(cache.loadPins()).toBeUndefined();
    cache.savePins(state);
    expect(encodePins(cache.loadPins()!)).toEqual(encodePins(state));
  });

  it('every flipped bit is cache_corrupt naming the file; a file of another server too', () => {
    const cache = new SnapshotCache(root, 'ws://b');
    cache.savePins(state);
    const path = join(cache.dir, PINS_FILE);
    const good = readFileSync(path);
    fc.assert(
      fc.property(fc.nat({ max: good.length * 8 - 1 }), (bit) => {
        const bad = Buffer.from(good);
        bad[bit >> 3]! ^= 1 << (bit & 7);
        writeFileSync(path, bad);
        expect(() => cache.loadPins()).toThrow(expect.objectContaining({ code: 'cache_corrupt', path }));
      }),
      { numRuns: 200 },
    );
    writeFileSync(path, good);
    const other = new SnapshotCache(root, 'ws://b');
    expect(other.loadPins()).toBeDefined();
    // The same bytes under another server's folder name: refused.
    const moved = new SnapshotCache(root, 'ws://c');
    moved.savePins(state);
    writeFileSync(join(moved.dir, PINS_FILE), good);
    expect(() => moved.loadPins()).toThrow(expect.objectContaining({ code: 'cache_corrupt' }));
  });

  it('a record whose signed entries do not verify is cache_corrupt', () => {
    const cache = new SnapshotCache(root, 'ws://d');
    const forged = encodePins(state);
    forged[forged.length - 1]! ^= 1; // the last byte of the announcement's signature
    const file = new RecordWriter().text('ws://d').bytes(forged).finish('I');
    cache.savePins(state);
    writeFileSync(join(cache.dir, PINS_FILE), Buffer.concat(file));
    expect(() => cache.loadPins()).toThrow(/do not verify/);
  });
});

describe('snapshot.cache and the commitment', () => {
  const snapshot = { epoch: 1, version: 3, baseVersion: 3, digest: sha256(new Uint8Array([9])), publicKey: new Uint8Array(32), bytes: new Uint8Array([9]) };

  it('keeps the commitment; a file without the appended fields loads with none', () => {
    const cache = new SnapshotCache(root, 'ws://e');
    cache.save({ ...snapshot, commitment: { count: 5, digest: new Uint8Array(32).fill(7) } });
    expect(cache.load()!.commitment).toEqual({ count: 5, digest: new Uint8Array(32).fill(7) });
    // The format before the commitment: the same fields, nothing appended.
    const old = new RecordWriter()
      .text('ws://e')
      .uint(1)
      .uint(3)
      .uint(3)
      .u8(0)
      .uint(0)
      .bytes(snapshot.digest)
      .bytes(new Uint8Array(0))
      .bytes(snapshot.publicKey)
      .bytes(new Uint8Array(0))
      .bytes(new Uint8Array(0))
      .bytes(snapshot.bytes)
      .finish('S');
    writeFileSync(join(cache.dir, SNAPSHOT_FILE), Buffer.concat(old));
    const loaded = cache.load();
    expect(loaded?.version).toBe(3);
    expect(loaded?.commitment).toBeUndefined();
  });
});
