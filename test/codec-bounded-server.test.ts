/**
 * The decoding bound end to end (issue 9 §1): the message that took `serve` down (60 MiB
 * of msgpack array32 of empty fixmaps, ~4.5 GiB of heap and a V8 abort after ~68 s) sent
 * to a real WebSocket discovery server on a SQLite directory. The hostile peer gets a
 * coded error and close; honest syncs on the same server, one connected throughout and
 * one started while the hostile message is in flight, complete with the right matches.
 */
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRng } from '../src/contacts/generate.js';
import { DirectoryDiscoveryBackend } from '../src/directory/discovery-backend.js';
import type { DiscoveryBackend } from '../src/protocol/discovery/backend.js';
import { ErrorCloseCodes, SERVER_DEFAULTS, StandardCloseCodes, type PsiServer } from '../src/transport/ws/index.js';
import { buildDirectory, expectedRows, generateUsers, heldSync, outcomeRows, parsePlanned, rawPeer, smallBook, startDiscoveryServer, sync, tempDir } from './helpers/service.js';

v8.setFlagsFromString('--expose_gc');
const gc = vm.runInNewContext('gc') as () => void;

const MiB = 1024 * 1024;
const tmp = tempDir('contact-psi-bounded-');
afterAll(() => tmp.cleanup());
const users = generateUsers(seededRng(77), 120);
const plan = smallBook(seededRng(6), users, { contacts: 5, registered: 8, unregistered: 3 });
const book = parsePlanned(plan, 'vcard-3.0', 'CH');
const rows = expectedRows(plan, users);
let caches = 0;
const freshCache = () => join(tmp.path, `cache-${caches++}`);

let backend: DiscoveryBackend;
beforeAll(async () => {
  backend = await DirectoryDiscoveryBackend.open(await buildDirectory(tmp.path, users), 'fuse');
  expect(rows.length).toBeGreaterThan(0);
});

/** `size` bytes: an array32 header declaring one item per remaining byte, then that many empty fixmaps (0x80). */
function fixmapsMessage(size: number): Uint8Array {
  const bytes = new Uint8Array(size).fill(0x80);
  const n = size - 5;
  bytes.set([0xdd, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
  return bytes;
}

/**
 * Sends `hostile` from a raw peer while an honest client is connected (held back until
 * then) and another syncs meanwhile; returns how the hostile peer was closed, what it
 * received, and the server's heap growth (after gc; the server runs in this process).
 */
async function attack(server: PsiServer, hostile: Uint8Array) {
  const held = await heldSync(server, book, freshCache());
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const peer = rawPeer(server.url);
  await peer.opened;
  peer.ws.send(hostile);
  const meanwhile = sync(server.url, book, freshCache());
  const closed = await peer.closed;
  const concurrent = await meanwhile;
  const connected = await held.finish();
  gc();
  const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
  for (const outcome of [concurrent, connected]) {
    expect(outcomeRows(outcome)).toEqual(rows);
    expect(outcome.result.falsePositives).toBe(0);
  }
  return { closed, received: peer.decoded(), heapGrowth };
}

describe('the 60 MiB array32 of fixmaps against a real server', () => {
  it('under a 64 MiB maxPayloadBytes (the old default) it reaches the decoder: malformed (4400), small heap, honest syncs complete', async () => {
    const server = await startDiscoveryServer(backend, { maxPayloadBytes: 64 * MiB });
    try {
      const { closed, received, heapGrowth } = await attack(server, fixmapsMessage(60 * MiB));
      expect(received).toEqual([expect.objectContaining({ t: 'error', code: 'malformed' })]);
      expect(closed).toEqual({ code: ErrorCloseCodes.malformed, reason: 'malformed' });
      // Before the pre-scan: GiBs, then a V8 abort. What remains is the honest syncs' state.
      expect(heapGrowth).toBeLessThan(64 * MiB);
    } finally {
      await server.close();
    }
  });

  it('with the default maxPayloadBytes: refused by length if over it, and one just under it is malformed', async () => {
    const server = await startDiscoveryServer(backend);
    try {
      const limit = SERVER_DEFAULTS.maxPayloadBytes;
      const big = await attack(server, fixmapsMessage(60 * MiB));
      if (60 * MiB > limit) {
        // ws closes as soon as the frame header gives the length (1009), or the server says too_large first.
        expect([StandardCloseCodes.messageTooBig, ErrorCloseCodes.too_large]).toContain(big.closed.code);
      } else {
        expect(big.closed).toEqual({ code: ErrorCloseCodes.malformed, reason: 'malformed' });
      }
      const under = await attack(server, fixmapsMessage(Math.min(limit, 60 * MiB) - 1));
      expect(under.received).toEqual([expect.objectContaining({ t: 'error', code: 'malformed' })]);
      expect(under.closed).toEqual({ code: ErrorCloseCodes.malformed, reason: 'malformed' });
      expect(under.heapGrowth).toBeLessThan(64 * MiB);
    } finally {
      await server.close();
    }
  });
});
