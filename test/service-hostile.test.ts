/**
 * Hostile and broken clients against the discovery server (serveDirectory on a SQLite
 * directory), over real sockets. Each gets a coded `error` message and the close code of
 * ErrorCloseCodes for it (or ws's 1009, or a clean 1000 where the protocol simply ends),
 * never a crash; and an honest client (syncAddressBook) that is connected the whole time,
 * held back by a proxy until the hostile exchange is over, still gets the right matches.
 */
import fc from 'fast-check';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDirectory, type RunningServer } from '../src/cli/commands/serve.js';
import { seededRng } from '../src/contacts/generate.js';
import { encodeMessage } from '../src/protocol/codec.js';
import { DEFAULT_DISCOVERY_LIMITS, type DirInfo, type DiscoveryMessage } from '../src/protocol/discovery/messages.js';
import type { ProtocolErrorCode } from '../src/protocol/errors.js';
import { ErrorCloseCodes, StandardCloseCodes, type PsiServer, type SessionReport } from '../src/transport/ws/index.js';
import {
  buildDirectory,
  directorySuite,
  expectedRows,
  generateUsers,
  heldSync,
  outcomeRows,
  parsePlanned,
  rawPeer,
  sessionReports,
  smallBook,
  startDiscoveryServer,
  sync,
  tempDir,
  waitFor,
  type RawPeer,
} from './helpers/service.js';

const tmp = tempDir('contact-psi-hostile-');
afterAll(() => tmp.cleanup());
const users = generateUsers(seededRng(41), 300);
const suite = directorySuite();
const honestPlan = smallBook(seededRng(5), users, { contacts: 6, registered: 10, unregistered: 4 });
const honestBook = parsePlanned(honestPlan, 'vcard-3.0', 'CH');
const honestRows = expectedRows(honestPlan, users);

let running: RunningServer;
let reports: SessionReport[];
let caches = 0;
/** Honest syncs run against `running` (each must end in a 'result' report). */
let honestRuns = 0;
const freshCache = () => join(tmp.path, `cache-${caches++}`);

beforeAll(async () => {
  running = await serveDirectory(await buildDirectory(tmp.path, users), { host: '127.0.0.1', port: 0 });
  reports = sessionReports(running.server);
  expect(honestRows.length).toBeGreaterThan(0);
});
afterAll(() => running?.close());

const send = (peer: RawPeer, message: DiscoveryMessage | { t: string; [k: string]: unknown }) => peer.ws.send(encodeMessage(message));
const hello = (peer: RawPeer) => send(peer, { t: 'dir.hello', suite: suite.id });
/** Valid blinded elements, as an honest client would send them. */
const blinded = (n: number) => suite.blind(Array.from({ length: n }, (_, i) => new TextEncoder().encode(`tel:+4179000${i}`)), seededRng(n)).blinded;

/** Opens a peer, says hello and waits for dir.info. */
async function greeted(url = running.server.url): Promise<{ peer: RawPeer; info: DirInfo }> {
  const peer = rawPeer(url);
  await peer.opened;
  hello(peer);
  await peer.received(1);
  const info = peer.decoded()[0] as DirInfo;
  expect(info.t).toBe('dir.info');
  return { peer, info };
}

/** The server's last message is an `error` with `code`, then it closes with that code's close code. */
async function expectCodedClose(peer: RawPeer, code: ProtocolErrorCode): Promise<void> {
  const closed = await peer.closed;
  expect(peer.decoded().at(-1)).toMatchObject({ t: 'error', code });
  expect(closed).toEqual({ code: ErrorCloseCodes[code], reason: code });
}

/** An honest sync connected from now until `finish()`, which checks its result. */
async function bystander(server: PsiServer = running.server) {
  if (server === running.server) honestRuns++;
  const held = await heldSync(server, honestBook, freshCache());
  return {
    async finish() {
      const outcome = await held.finish();
      expect(outcomeRows(outcome)).toEqual(honestRows);
      expect(outcome.result.falsePositives).toBe(0);
    },
  };
}

describe('malformed frames', () => {
  it('random bytes: a coded error and its close code, never a crash (property)', async () => {
    const honest = await bystander();
    const codes = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 200 }), async (bytes) => {
        const peer = rawPeer(running.server.url);
        await peer.opened;
        peer.ws.send(bytes);
        const closed = await peer.closed;
        expect(peer.messages).toHaveLength(1);
        const error = peer.decoded()[0]!;
        expect(error.t).toBe('error');
        const code = (error as { code: ProtocolErrorCode }).code;
        expect(['malformed', 'bad_version', 'unknown_type', 'bad_field', 'too_large']).toContain(code);
        expect(closed).toEqual({ code: ErrorCloseCodes[code], reason: code });
        codes.add(code);
      }),
      { numRuns: 25 },
    );
    expect(codes.has('malformed')).toBe(true);
    await honest.finish();
  });

  it('a text frame is malformed (4400)', async () => {
    const honest = await bystander();
    const peer = rawPeer(running.server.url);
    await peer.opened;
    peer.ws.send(JSON.stringify({ v: 1, t: 'dir.hello', suite: suite.id }));
    await expectCodedClose(peer, 'malformed');
    await honest.finish();
  });

  it('well-formed msgpack that is not a discovery message: bad_version, unknown_type, bad_field', async () => {
    const honest = await bystander();
    const cases: [Record<string, unknown>, ProtocolErrorCode][] = [
      [{ t: 'dir.hello', suite: suite.id, v: 2 }, 'bad_version'],
      [{ t: 'psi.hello', suite: suite.id }, 'unknown_type'],
      [{ t: 'dir.hello', suite: 'P256-SHA256-extra' }, 'bad_field'],
      [{ t: 'dir.hello', suite: suite.id, extra: 1 }, 'bad_field'],
      [{ t: 'dir.hello' }, 'bad_field'],
    ];
    for (const [message, code] of cases) {
      const peer = rawPeer(running.server.url);
      await peer.opened;
      // encodeMessage puts v: 1 first; an explicit v overrides it.
      peer.ws.send(encodeMessage(message as { t: string }));
      await expectCodedClose(peer, code);
      expect(peer.messages).toHaveLength(1);
    }
    await honest.finish();
  });
});

describe('messages in the wrong order', () => {
  it('dir.evaluate before dir.hello: unexpected_message (4409)', async () => {
    const honest = await bystander();
    const peer = rawPeer(running.server.url);
    await peer.opened;
    send(peer, { t: 'dir.evaluate', epoch: running.backend.current().epoch, seq: 0, blinded: blinded(2) });
    await expectCodedClose(peer, 'unexpected_message');
    expect(peer.messages).toHaveLength(1);
    await honest.finish();
  });

  it('dir.hello twice, a chunk out of sequence, a server message: unexpected_message (4409)', async () => {
    const honest = await bystander();
    const twice = await greeted();
    hello(twice.peer);
    await expectCodedClose(twice.peer, 'unexpected_message');
    expect(twice.peer.decoded().map((m) => m.t)).toEqual(['dir.info', 'error']);

    const skipped = await greeted();
    send(skipped.peer, { t: 'dir.evaluate', epoch: skipped.info.epoch, seq: 1, blinded: blinded(1) });
    await expectCodedClose(skipped.peer, 'unexpected_message');

    // A server's message sent to the server: the server decodes only what clients send
    // (codec per side), so dir.info, wider than any client message, is refused by the scan.
    const replay = await greeted();
    send(replay.peer, replay.info);
    await expectCodedClose(replay.peer, 'too_large');
    await honest.finish();
  });

  it('dir.labels.get twice: one dir.labels, then a clean close (1000); the second is never answered', async () => {
    const honest = await bystander();
    const { peer, info } = await greeted();
    send(peer, { t: 'dir.evaluate', epoch: info.epoch, seq: 0, blinded: blinded(1) });
    await peer.received(2);
    const keys = new Uint8Array(8).fill(7);
    send(peer, { t: 'dir.labels.get', epoch: info.epoch, keys, format: 2 });
    send(peer, { t: 'dir.labels.get', epoch: info.epoch, keys, format: 2 });
    const closed = await peer.closed;
    expect(closed).toEqual({ code: StandardCloseCodes.normal, reason: 'done' });
    const messages = peer.decoded();
    expect(messages.map((m) => m.t)).toEqual(['dir.info', 'dir.evaluated', 'dir.labels']);
    expect(messages[2]).toMatchObject({ format: 2, labels: Uint8Array.of(0) });
    await honest.finish();
  });

  it("a client's own error message ends its session with that code's close (no answer)", async () => {
    const honest = await bystander();
    const { peer } = await greeted();
    send(peer, { t: 'error', code: 'timeout', message: 'client gave up' });
    expect(await peer.closed).toEqual({ code: ErrorCloseCodes.timeout, reason: 'timeout' });
    expect(peer.decoded().map((m) => m.t)).toEqual(['dir.info']);
    await waitFor(() => reports.some((r) => r.code === 'timeout' && r.remote === true));
    await honest.finish();
  });

  it('another suite, a stale or unknown epoch or version: unsupported (4501)', async () => {
    const honest = await bystander();
    const { peer, info } = await greeted();
    send(peer, { t: 'dir.evaluate', epoch: info.epoch + 1, seq: 0, blinded: blinded(1) });
    await expectCodedClose(peer, 'unsupported');
    const p256 = rawPeer(running.server.url);
    await p256.opened;
    send(p256, { t: 'dir.hello', suite: 'P256-SHA256' });
    await expectCodedClose(p256, 'unsupported');
    const old = await greeted();
    send(old.peer, { t: 'dir.snapshot.get', epoch: old.info.epoch, version: old.info.version + 1, offset: 0, length: 16 });
    await expectCodedClose(old.peer, 'unsupported');
    await honest.finish();
  });
});

describe('oversized batches', () => {
  it('a dir.evaluate with more elements than the chunk limit: too_large (4413)', async () => {
    const honest = await bystander();
    const { peer, info } = await greeted();
    expect(info.chunk).toBe(4096);
    send(peer, { t: 'dir.evaluate', epoch: info.epoch, seq: 0, blinded: blinded(info.chunk + 1) });
    await expectCodedClose(peer, 'too_large');
    expect(peer.decoded().map((m) => m.t)).toEqual(['dir.info', 'error']);
    await honest.finish();
  });

  it('fields over their schema bounds: too_large (4413)', async () => {
    const honest = await bystander();
    const { peer: big, info } = await greeted();
    // Longer than chunk × 33 bytes: refused by the schema before any element is looked at.
    send(big, { t: 'dir.evaluate', epoch: info.epoch, seq: 0, blinded: new Uint8Array(4096 * 33 + 32) });
    await expectCodedClose(big, 'too_large');
    const { peer: part } = await greeted();
    send(part, { t: 'dir.snapshot.get', epoch: info.epoch, version: info.version, offset: 0, length: 4 * 1024 * 1024 + 1 });
    await expectCodedClose(part, 'too_large');
    // More label keys than this session may ask for: without quotas, the identifiers it
    // evaluated (no delta, no download in this session; test/label-allowance-unpaid.test.ts).
    const { peer: keys } = await greeted();
    send(keys, { t: 'dir.evaluate', epoch: info.epoch, seq: 0, blinded: blinded(2) });
    await keys.received(2);
    send(keys, { t: 'dir.labels.get', epoch: info.epoch, keys: new Uint8Array((DEFAULT_DISCOVERY_LIMITS.maxQueryItems + 3) * 8), format: 2 });
    await expectCodedClose(keys, 'too_large');
    await honest.finish();
  });

  it('a frame over maxPayload (64 MiB) is refused by ws as soon as its length is known (1009)', async () => {
    const honest = await bystander();
    const before = reports.length;
    const peer = rawPeer(running.server.url);
    await peer.opened;
    peer.ws.send(new Uint8Array(64 * 1024 * 1024 + 1));
    expect((await peer.closed).code).toBe(StandardCloseCodes.messageTooBig);
    expect(peer.messages).toHaveLength(0);
    await waitFor(() => reports.length > before);
    expect(reports.slice(before).find((r) => r.outcome === 'failed')).toMatchObject({ code: 'too_large', messagesIn: 0 });
    await honest.finish();
  });
});

describe('invalid points', () => {
  it('identity (32 zero bytes) and non-canonical (0xff…) elements: bad_element (4424)', async () => {
    const honest = await bystander();
    for (const bad of [new Uint8Array(32), new Uint8Array(32).fill(0xff)]) {
      for (const position of [0, 2]) {
        const { peer, info } = await greeted();
        const points = blinded(3);
        points.set(bad, position * 32);
        send(peer, { t: 'dir.evaluate', epoch: info.epoch, seq: 0, blinded: points });
        await expectCodedClose(peer, 'bad_element');
        expect(peer.decoded().map((m) => m.t)).toEqual(['dir.info', 'error']);
      }
    }
    await honest.finish();
  });

  it('a batch that is not a whole number of elements, or empty: bad_field (4422)', async () => {
    const honest = await bystander();
    for (const points of [blinded(2).subarray(0, 33), new Uint8Array(0)]) {
      const { peer, info } = await greeted();
      send(peer, { t: 'dir.evaluate', epoch: info.epoch, seq: 0, blinded: points });
      await expectCodedClose(peer, 'bad_field');
    }
    await honest.finish();
  });
});

describe('stalling and vanishing clients', () => {
  it('clients that stall (before hello, after hello, mid-download, mid-query) time out with 4408', async () => {
    const idleTimeoutMs = 3000;
    const server = await startDiscoveryServer(running.backend, { idleTimeoutMs, heartbeatIntervalMs: 0 });
    const seen = sessionReports(server);
    try {
      const silent = rawPeer(server.url);
      await silent.opened;
      const afterHello = await greeted(server.url);
      const midDownload = await greeted(server.url);
      send(midDownload.peer, { t: 'dir.snapshot.get', epoch: midDownload.info.epoch, version: midDownload.info.version, offset: 0, length: 64 });
      const midQuery = await greeted(server.url);
      send(midQuery.peer, { t: 'dir.evaluate', epoch: midQuery.info.epoch, seq: 0, blinded: blinded(3) });
      await Promise.all([midDownload.peer.received(2), midQuery.peer.received(2)]);

      // An honest client connects and finishes while all four are connected and stalled.
      const stalled = [silent, afterHello.peer, midDownload.peer, midQuery.peer];
      let closedEarly = 0;
      for (const p of stalled) void p.closed.then(() => closedEarly++);
      const outcome = await sync(server.url, honestBook, freshCache());
      expect(outcomeRows(outcome)).toEqual(honestRows);
      expect(closedEarly).toBe(0);

      for (const p of stalled) await expectCodedClose(p, 'timeout');
      expect(midQuery.peer.decoded().map((m) => m.t)).toEqual(['dir.info', 'dir.evaluated', 'error']);
      expect(midDownload.peer.decoded().map((m) => m.t)).toEqual(['dir.info', 'dir.snapshot.part', 'error']);
      await waitFor(() => seen.length === 5);
      expect(seen.filter((r) => r.outcome === 'failed' && r.code === 'timeout')).toHaveLength(4);
      expect(seen.filter((r) => r.outcome === 'result')).toHaveLength(1);
      for (const r of seen.filter((r) => r.code === 'timeout')) expect(r.durationMs).toBeGreaterThanOrEqual(idleTimeoutMs - 50);
    } finally {
      await server.close({ graceMs: 0 });
    }
  });

  it('a client that disconnects mid-query: its session fails with closed, others are unaffected', async () => {
    await waitFor(() => running.server.connections === 0);
    const honest = await bystander();
    const base = running.server.connections;
    const before = reports.length;

    // Sends hello and a chunk, reads the answers, then drops the TCP connection.
    const answered = await greeted();
    send(answered.peer, { t: 'dir.evaluate', epoch: answered.info.epoch, seq: 0, blinded: blinded(4) });
    await answered.peer.received(2);
    // Sends hello and a large chunk and vanishes without waiting for any answer.
    const vanished = rawPeer(running.server.url);
    await vanished.opened;
    hello(vanished);
    send(vanished, { t: 'dir.evaluate', epoch: answered.info.epoch, seq: 0, blinded: blinded(2000) });
    expect(running.server.connections).toBe(base + 2);
    answered.peer.ws.terminate();
    vanished.ws.terminate();

    await waitFor(() => reports.length >= before + 2 && running.server.connections === base);
    const dropped = reports.slice(before, before + 2);
    for (const r of dropped) expect(r).toMatchObject({ outcome: 'failed', code: 'closed' });
    expect(dropped.some((r) => r.messagesIn === 2 && r.messagesOut === 2)).toBe(true);
    await honest.finish();
    // And the server still serves new clients.
    honestRuns++;
    const after = await sync(running.server.url, honestBook, freshCache());
    expect(outcomeRows(after)).toEqual(honestRows);
  });
});

describe('the server survived all of it', () => {
  it('every hostile session failed with a code, every honest one got a result', async () => {
    await waitFor(() => running.server.connections === 0);
    expect(reports.length).toBeGreaterThan(50);
    for (const r of reports) {
      if (r.outcome === 'failed') expect(r.code).toBeDefined();
    }
    // Plus one: the labels.get-twice peer finished its session too.
    expect(reports.filter((r) => r.outcome === 'result')).toHaveLength(honestRuns + 1);
  });
});
