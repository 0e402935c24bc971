/**
 * Worker pools on both ends of a real loopback socket: the server evaluates chunks off its
 * event loop (deferred work run by the WebSocket pump), the client blinds and finalizes on
 * its own pool in pipelined chunks. Results must equal the single-thread path's, and a
 * client that vanishes while its chunks are on the pool must not disturb anyone else.
 */
import fc from 'fast-check';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDirectory, type RunningServer } from '../src/cli/commands/serve.js';
import { seededRng } from '../src/contacts/generate.js';
import { poolOffload, WorkerPool } from '../src/parallel/index.js';
import { encodeMessage } from '../src/protocol/codec.js';
import { DiscoveryServerSession } from '../src/protocol/discovery/server.js';
import type { OprfOffload } from '../src/protocol/offload.js';
import { startServer } from '../src/transport/ws/index.js';
import { buildDirectory, directorySuite, expectedRows, generateUsers, outcomeRows, parsePlanned, rawPeer, smallBook, sync, tempDir, waitFor } from './helpers/service.js';

const tmp = tempDir('contact-psi-offload-');
const users = generateUsers(seededRng(77), 600);
const serverPool = new WorkerPool({ size: 2, backend: 'sodium', inlineThreshold: 8, maxSliceSize: 64 });
const clientPool = new WorkerPool({ size: 2, backend: 'sodium', inlineThreshold: 8, maxSliceSize: 64 });
let running: RunningServer;
let caches = 0;
const freshCache = () => join(tmp.path, `cache-${caches++}`);
const directoryBackend = () => running.backend;

beforeAll(async () => {
  running = await serveDirectory(await buildDirectory(tmp.path, users), { host: '127.0.0.1', port: 0, offload: poolOffload(serverPool) });
});
afterAll(async () => {
  await running?.close();
  await Promise.all([serverPool.close(), clientPool.close()]);
  tmp.cleanup();
});

describe('discovery service with worker pools', () => {
  it('finds exactly the registered contacts, with and without a client pool, for generated books and chunk sizes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 1, max: 200 }), fc.boolean(), async (seed, chunkItems, clientOffload) => {
        const planned = smallBook(seededRng(seed), users, { contacts: 60, registered: 25, unregistered: 35 });
        const book = parsePlanned(planned, 'vcard-4.0', 'CH');
        const outcome = await sync(running.server.url, book, freshCache(), clientOffload ? { offload: poolOffload(clientPool), chunkItems } : {});
        expect(outcomeRows(outcome)).toEqual(expectedRows(planned, users));
      }),
      { numRuns: 6 },
    );
  });

  it('a client that disconnects while its chunks are on the pool leaves the server serving others', async () => {
    const suite = directorySuite();
    const blinded = suite.blind(
      Array.from({ length: 3000 }, (_, i) => new TextEncoder().encode(`tel:+4179${5000000 + i}`)),
      seededRng(5),
    ).blinded;
    const peer = rawPeer(running.server.url);
    await peer.opened;
    peer.ws.send(encodeMessage({ t: 'dir.hello', suite: suite.id }));
    await peer.received(1);
    const epoch = (peer.decoded()[0] as { epoch: number }).epoch;
    for (let seq = 0; seq * 1000 < 3000; seq++) {
      peer.ws.send(encodeMessage({ t: 'dir.evaluate', epoch, seq, blinded: blinded.subarray(seq * 32000, (seq + 1) * 32000) }));
    }
    // The first answer proves the server is at work; the rest is still on the pool when the
    // client goes: that deferred work settles into a closed session.
    await peer.received(2);
    peer.ws.terminate();
    const planned = smallBook(seededRng(9), users, { contacts: 30, registered: 10, unregistered: 20 });
    const outcome = await sync(running.server.url, parsePlanned(planned, 'csv', 'CH'), freshCache());
    expect(outcomeRows(outcome)).toEqual(expectedRows(planned, users));
    await waitFor(() => running.server.connectionStats().length === 0);
  });

  it('evaluations that wait longer than the idle limits do not time the client out', async () => {
    // The server (and its client) are busy, not the peer: idle deadlines pause while work is pending.
    const slowMs = 700;
    const slow: OprfOffload = {
      ...poolOffload(serverPool),
      blindEvaluateVerifiable: async (suite, key, blinded, rng) => {
        const evaluation = suite.blindEvaluateVerifiable(key, blinded, rng);
        await new Promise((r) => setTimeout(r, slowMs));
        return evaluation;
      },
    };
    const server = await startServer({
      host: '127.0.0.1',
      port: 0,
      idleTimeoutMs: 250,
      createSession: ({ now }) => new DiscoveryServerSession({ backend: running.backend, rng: seededRng(3), now, offload: slow, idleTimeoutMs: 250 }),
    });
    try {
      const planned = smallBook(seededRng(12), users, { contacts: 40, registered: 15, unregistered: 25 });
      const outcome = await sync(server.url, parsePlanned(planned, 'vcard-3.0', 'CH'), freshCache(), { chunkItems: 16 });
      expect(outcomeRows(outcome)).toEqual(expectedRows(planned, users));
    } finally {
      await server.close({ graceMs: 100 });
    }
  });

  it('a peer pipelining many chunks gets only a few evaluated at a time (reading pauses)', async () => {
    let running = 0;
    let most = 0;
    const counting: OprfOffload = {
      ...poolOffload(serverPool),
      blindEvaluateVerifiable: async (suite, key, blinded, rng) => {
        most = Math.max(most, ++running);
        try {
          await new Promise((r) => setTimeout(r, 20));
          return suite.blindEvaluateVerifiable(key, blinded, rng);
        } finally {
          running--;
        }
      },
    };
    const server = await startServer({
      host: '127.0.0.1',
      port: 0,
      createSession: ({ now }) => new DiscoveryServerSession({ backend: directoryBackend(), rng: seededRng(4), now, offload: counting }),
    });
    try {
      const suite = directorySuite();
      const blinded = suite.blind(Array.from({ length: 60 }, (_, i) => new TextEncoder().encode(`tel:+4179${6000000 + i}`)), seededRng(6)).blinded;
      const peer = rawPeer(server.url);
      await peer.opened;
      peer.ws.send(encodeMessage({ t: 'dir.hello', suite: suite.id }));
      await peer.received(1);
      const epoch = (peer.decoded()[0] as { epoch: number }).epoch;
      for (let seq = 0; seq < 30; seq++) peer.ws.send(encodeMessage({ t: 'dir.evaluate', epoch, seq, blinded: blinded.subarray(seq * 64, (seq + 1) * 64) }));
      await peer.received(31); // dir.info + 30 answers, in order
      expect(peer.decoded().slice(1).map((m) => (m as { seq: number }).seq)).toEqual(Array.from({ length: 30 }, (_, i) => i));
      // Without the cap all 30 would run at once (they arrive in one read).
      expect(most).toBeLessThanOrEqual(4);
      peer.ws.close();
    } finally {
      await server.close({ graceMs: 100 });
    }
  });
});
