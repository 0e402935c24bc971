/**
 * Memory and connection budgets of the WebSocket server (issue 9 §2), just past each limit:
 * maxPayloadBytes sized to the largest legitimate message, the global budget of inbound
 * bytes held across connections, the per-address and per-account connection caps, and the
 * "no progress" deadline (driven by a fake clock, not by sleeping).
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { decodeMessage, encodeMessage } from '../src/protocol/codec.js';
import { DEFAULT_DISCOVERY_LIMITS, discoverySchemas } from '../src/protocol/discovery/messages.js';
import type { SansIoSession } from '../src/protocol/session-core.js';
import { ConnectionCaps } from '../src/transport/ws/connection-caps.js';
import { InboundBudget, type BudgetHolder } from '../src/transport/ws/inbound-budget.js';
import { defaultAccountOf } from '../src/transport/ws/options.js';
import { largestServerInbound } from '../src/transport/ws/payload-size.js';
import {
  ErrorCloseCodes,
  SERVER_DEFAULTS,
  StandardCloseCodes,
  startServer,
  SUBPROTOCOL,
  type EvictionEvent,
  type PsiServer,
  type RejectionEvent,
  type ServerOptions,
  type SessionReport,
} from '../src/transport/index.js';
import { FakeClock } from './helpers/fake-clock.js';

const MiB = 1024 * 1024;

/** A server session that records the size of each message and never answers. */
function recordingSession(sizes: number[] = []): SansIoSession {
  let error: SansIoSession['error'];
  let errorOut: Uint8Array | undefined;
  let failed = false;
  return {
    handle: (bytes) => void sizes.push(bytes.length),
    handleTimeout: () => {},
    pollTransmit: () => {
      const out = errorOut;
      errorOut = undefined;
      return out;
    },
    pollEvent: () => {
      if (!error || failed) return undefined;
      failed = true;
      return { type: 'failed', error };
    },
    pollTimeout: () => undefined,
    abort: (e) => {
      if (error) return;
      error = e;
      errorOut = encodeMessage({ t: 'error', code: e.code, message: e.message.slice(0, 200) });
    },
    isFinished: () => false,
    get currentState() {
      return 'recording';
    },
    get error() {
      return error;
    },
  };
}

const servers: { server: PsiServer; clock?: FakeClock }[] = [];
async function serve(options: Partial<ServerOptions> = {}): Promise<{ server: PsiServer; sizes: number[]; reports: SessionReport[]; rejected: RejectionEvent[]; evicted: EvictionEvent[] }> {
  const sizes: number[] = [];
  const server = await startServer({ createSession: () => recordingSession(sizes), heartbeatIntervalMs: 0, ...options });
  servers.push({ server, clock: options.clock instanceof FakeClock ? options.clock : undefined });
  const reports: SessionReport[] = [];
  const rejected: RejectionEvent[] = [];
  const evicted: EvictionEvent[] = [];
  server.on('session', (r) => reports.push(r));
  server.on('rejected', (r) => rejected.push(r));
  server.on('evicted', (e) => evicted.push(e));
  return { server, sizes, reports, rejected, evicted };
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map(({ server, clock }) => closeServer(server, clock)));
});

/** Close a server; with a fake clock, move it on until the close handshakes' waits are over. */
export async function closeServer(server: PsiServer, clock?: FakeClock): Promise<void> {
  let done = false;
  const closing = server.close({ graceMs: 0 }).then(() => void (done = true));
  while (clock && !done) {
    clock.advance(1000);
    await new Promise((r) => setImmediate(r));
  }
  await closing;
}

/** Waits for a condition that socket events make true (polling at the event loop's pace, bounded). */
async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`not reached: ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** A ws client that can also write raw (masked) frame bytes to its socket. */
function rawPeer(url: string, options: WebSocket.ClientOptions = {}) {
  const ws = new WebSocket(url, [SUBPROTOCOL], options);
  const messages: Uint8Array[] = [];
  ws.on('message', (data) => messages.push(new Uint8Array(data as Buffer)));
  ws.on('error', () => {});
  const opened = new Promise<void>((resolve) => ws.once('open', () => resolve()));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const socket = () => (ws as unknown as { _socket: import('node:net').Socket })._socket;
  return {
    ws,
    messages,
    opened,
    closed,
    /** A binary frame header (FIN, 64-bit length, zero mask) declaring `length` payload bytes. */
    header(length: number) {
      const b = Buffer.alloc(14);
      b[0] = 0x82;
      b[1] = 0x80 | 127;
      b.writeBigUInt64BE(BigInt(length), 2);
      socket().write(b);
    },
    payload(n: number) {
      socket().write(Buffer.alloc(n, 0xa5));
    },
  };
}

/** The HTTP status and the server's rejection reason of a refused upgrade. */
function refused(url: string, options: WebSocket.ClientOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [SUBPROTOCOL], options);
    ws.on('error', () => {});
    ws.once('open', () => reject(new Error('upgrade was accepted')));
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
  });
}

const held = (server: PsiServer, id?: number) => server.connectionStats().filter((s) => id === undefined || s.connectionId === id).reduce((n, s) => n + s.inboundHeldBytes, 0);

describe('maxPayloadBytes is sized to the largest legitimate inbound message', () => {
  it('the default (9 MiB) covers a full dir.quota (1,000,000 hashes) and is far below the old 64 MiB', () => {
    const largest = largestServerInbound();
    expect(largest.type).toBe('dir.quota');
    const fullQuota = encodeMessage({ t: 'dir.quota', token: new Uint8Array(32), set: new Uint8Array(DEFAULT_DISCOVERY_LIMITS.maxChargedSet * 8) });
    // The real message decodes under the schema, and the bound covers it.
    expect(decodeMessage(fullQuota, discoverySchemas(DEFAULT_DISCOVERY_LIMITS), DEFAULT_DISCOVERY_LIMITS.maxMessageBytes)).toMatchObject({ t: 'dir.quota' });
    expect(largest.bytes).toBeGreaterThanOrEqual(fullQuota.length);
    expect(SERVER_DEFAULTS.maxPayloadBytes).toBe(9 * MiB);
    expect(SERVER_DEFAULTS.maxPayloadBytes).toBeGreaterThanOrEqual(largest.bytes);
  });

  it('a frame header declaring maxPayloadBytes + 1 is refused (1009) before any payload; exactly maxPayloadBytes is delivered', async () => {
    const { server, sizes, reports } = await serve();
    const over = rawPeer(server.url);
    await over.opened;
    over.header(SERVER_DEFAULTS.maxPayloadBytes + 1);
    expect((await over.closed).code).toBe(StandardCloseCodes.messageTooBig);
    await until(() => reports.length === 1, 'report');
    expect(reports[0]).toMatchObject({ outcome: 'failed', code: 'too_large', messagesIn: 0 });

    const exact = rawPeer(server.url);
    await exact.opened;
    exact.ws.send(new Uint8Array(SERVER_DEFAULTS.maxPayloadBytes));
    await until(() => sizes.length === 1, 'the message reaches the session');
    expect(sizes[0]).toBe(SERVER_DEFAULTS.maxPayloadBytes);
    exact.ws.close();
  });
});

describe('the global inbound budget', () => {
  it('at exactly the limit nobody is closed; one byte past it, the connection holding the most is evicted (4503, overloaded)', async () => {
    const limit = 1_000_000;
    const { server, sizes, evicted, reports } = await serve({ maxInboundBufferedBytes: limit });
    const small = rawPeer(server.url);
    const large = rawPeer(server.url);
    await Promise.all([small.opened, large.opened]);
    small.header(500_000);
    small.payload(400_000);
    await until(() => server.inboundBudget.total === 400_000, 'small held');
    large.header(700_000);
    large.payload(600_000);
    await until(() => server.inboundBudget.total === limit, 'both held');
    expect(evicted).toHaveLength(0);
    expect(server.connections).toBe(2);

    // One more byte from the SMALLER holder: the larger one is closed, not the last sender.
    small.payload(1);
    const { code } = await large.closed;
    expect(code).toBe(ErrorCloseCodes.overloaded);
    expect(evicted).toEqual([expect.objectContaining({ totalBytes: limit + 1, limitBytes: limit })]);
    expect(decodeMessage<{ t: string; code: string }>(large.messages[0], { error: { code: { kind: 'str', maxLength: 64 }, message: { kind: 'str', maxLength: 1024 } } }, 4096)).toMatchObject({ t: 'error', code: 'overloaded' });
    await until(() => reports.length === 1, 'report');
    expect(reports[0]).toMatchObject({ outcome: 'failed', code: 'overloaded' });
    expect(server.inboundBudget.total).toBe(400_001);

    // The survivor still completes its message.
    small.payload(500_000 - 400_001);
    await until(() => sizes.length === 1, 'message delivered');
    expect(sizes[0]).toBe(500_000);
    await until(() => server.inboundBudget.total === 0, 'nothing held after delivery');
    expect(held(server)).toBe(0);
    small.ws.close();
  });

  it('fragments of a message count until the message is complete', async () => {
    const { server, sizes } = await serve();
    const peer = rawPeer(server.url);
    await peer.opened;
    const socket = (peer.ws as unknown as { _socket: import('node:net').Socket })._socket;
    // Two complete non-final fragments of 1,000 bytes each (opcode binary, then continuation).
    const frame = (opcode: number, fin: boolean, n: number) => Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | 126, n >> 8, n & 0xff, 0, 0, 0, 0]), Buffer.alloc(n, 1)]);
    socket.write(Buffer.concat([frame(2, false, 1000), frame(0, false, 1000)]));
    await until(() => server.inboundBudget.total === 2000, 'fragments held');
    socket.write(frame(0, true, 1000));
    await until(() => sizes.length === 1, 'message delivered');
    expect(sizes[0]).toBe(3000);
    expect(server.inboundBudget.total).toBe(0);
    peer.ws.close();
  });

  it('property: the budget never stays over its limit, the total is the sum held, and it evicts the largest holder', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 1200 })), { minLength: 1, maxLength: 60 }), (limit, ops) => {
        const budget = new InboundBudget(limit);
        const amounts = new Map<BudgetHolder, number>();
        const evictedSizes: { size: number; max: number }[] = [];
        const holders: BudgetHolder[] = Array.from({ length: 6 }, () => {
          const h: BudgetHolder = {
            evictForBudget: () => {
              evictedSizes.push({ size: amounts.get(h) ?? 0, max: Math.max(...amounts.values()) });
              amounts.delete(h);
            },
          };
          return h;
        });
        for (const [i, bytes] of ops) {
          amounts.set(holders[i], bytes);
          budget.set(holders[i], bytes);
          for (const [h, n] of amounts) if (n === 0) amounts.delete(h);
          expect(budget.total).toBeLessThanOrEqual(limit);
          expect(budget.total).toBe([...amounts.values()].reduce((a, b) => a + b, 0));
        }
        for (const e of evictedSizes) expect(e.size).toBe(e.max);
      }),
    );
  });
});

describe('connection caps', () => {
  it('per address: the (max+1)th connection from one address gets 429 (too_many_from_address); another address and a freed slot get in', async () => {
    const { server, rejected } = await serve({ maxConnectionsPerAddress: 2 });
    const a = rawPeer(server.url);
    const b = rawPeer(server.url);
    await Promise.all([a.opened, b.opened]);
    expect(await refused(server.url)).toBe(429);
    expect(rejected).toEqual([{ status: 429, reason: 'too_many_from_address' }]);
    const other = rawPeer(server.url, { localAddress: '127.0.0.2' });
    await other.opened;
    a.ws.close();
    await a.closed;
    await until(() => server.connections === 2, 'a slot is free');
    const c = rawPeer(server.url);
    await c.opened;
    for (const p of [b, c, other]) p.ws.close();
  });

  it('per account: two tokens of one account share its cap (429 too_many_for_account); another account gets in', async () => {
    const accounts = new Map([
      ['alice-phone-token', 'alice'],
      ['alice-laptop-token', 'alice'],
      ['bob-token-000000', 'bob'],
    ]);
    const { server, rejected } = await serve({ maxConnectionsPerAccount: 2, authenticate: ({ token }) => (token ? accounts.get(token) : undefined) });
    const bearer = (t: string) => ({ headers: { Authorization: `Bearer ${t}` } });
    const a1 = rawPeer(server.url, bearer('alice-phone-token'));
    const a2 = rawPeer(server.url, bearer('alice-laptop-token'));
    await Promise.all([a1.opened, a2.opened]);
    expect(await refused(server.url, bearer('alice-phone-token'))).toBe(429);
    expect(rejected).toEqual([{ status: 429, reason: 'too_many_for_account' }]);
    const bob = rawPeer(server.url, bearer('bob-token-000000'));
    await bob.opened;
    a1.ws.close();
    await until(() => server.connections === 2, 'a slot is free');
    const a3 = rawPeer(server.url, bearer('alice-phone-token'));
    await a3.opened;
    for (const p of [a2, a3, bob]) p.ws.close();
  });

  it('accountOf names the account in an authenticate() result (default: a string, or its `account`)', async () => {
    expect(defaultAccountOf('alice')).toBe('alice');
    expect(defaultAccountOf({ account: 'bob', scopes: [] })).toBe('bob');
    expect(defaultAccountOf({ user: 1 })).toBeUndefined();
    expect(defaultAccountOf(true)).toBeUndefined();
    const { server } = await serve({ maxConnectionsPerAccount: 1, authenticate: ({ token }) => ({ user: token }), accountOf: (auth) => (auth as { user: string }).user });
    const bearer = (t: string) => ({ headers: { Authorization: `Bearer ${t}` } });
    const x = rawPeer(server.url, bearer('x'));
    await x.opened;
    expect(await refused(server.url, bearer('x'))).toBe(429);
    const y = rawPeer(server.url, bearer('y'));
    await y.opened;
    x.ws.close();
    y.ws.close();
  });

  it('property: a cap never grants more than its limit per key, and released slots are reusable', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(fc.tuple(fc.boolean(), fc.constantFrom('a', 'b', 'c')), { maxLength: 80 }), (limit, ops) => {
        const caps = new ConnectionCaps(limit);
        const model = new Map<string, number>();
        for (const [take, key] of ops) {
          const n = model.get(key) ?? 0;
          if (take) {
            expect(caps.tryAcquire(key)).toBe(n < limit);
            if (n < limit) model.set(key, n + 1);
          } else if (n > 0) {
            caps.release(key);
            model.set(key, n - 1);
          }
          expect(caps.count(key)).toBe(model.get(key) ?? 0);
        }
      }),
    );
  });
});

describe('the no-progress deadline (fake clock)', () => {
  const options = (clock: FakeClock): Partial<ServerOptions> => ({ clock, noProgressTimeoutMs: 1000, minProgressBytes: 1000, idleTimeoutMs: 3_600_000, maxConnectionMs: 3_600_000 });

  it('a peer trickling bytes of a message it never completes is closed with timeout (4408) at the deadline, not a tick before', async () => {
    const clock = new FakeClock();
    const { server, reports } = await serve(options(clock));
    const peer = rawPeer(server.url);
    await peer.opened;
    await until(() => server.connections === 1, 'accepted');
    peer.header(100_000);
    peer.payload(500);
    await until(() => held(server) === 500, 'trickle held');
    clock.advance(999);
    peer.payload(480); // 14 + 500 + 480 = 994 socket bytes since the start: under minProgressBytes
    await until(() => held(server) === 980, 'trickle held');
    expect(server.connections).toBe(1);
    expect(reports).toHaveLength(0);
    clock.advance(1);
    const { code } = await peer.closed;
    expect(code).toBe(ErrorCloseCodes.timeout);
    await until(() => reports.length === 1, 'report');
    expect(reports[0]).toMatchObject({ outcome: 'failed', code: 'timeout' });
  });

  it('a slow honest upload (minProgressBytes per window) is not cut, and its message arrives', async () => {
    const clock = new FakeClock();
    const { server, sizes } = await serve(options(clock));
    const peer = rawPeer(server.url);
    await peer.opened;
    peer.header(5000);
    for (let sent = 0; sent < 5000; sent += 1000) {
      peer.payload(1000);
      await until(() => held(server) === sent + 1000 || sizes.length === 1, 'chunk held');
      clock.advance(900);
    }
    await until(() => sizes.length === 1, 'message delivered');
    expect(sizes[0]).toBe(5000);
    expect(server.connections).toBe(1);
    // A complete message is progress too: the deadline restarts from it.
    clock.advance(999);
    expect(server.connections).toBe(1);
    clock.advance(1);
    expect((await peer.closed).code).toBe(ErrorCloseCodes.timeout);
  });

  it('pongs keep a silent peer alive for idleTimeoutMs but not past noProgressTimeoutMs', async () => {
    const clock = new FakeClock();
    const { server } = await serve({ clock, heartbeatIntervalMs: 100, idleTimeoutMs: 250, noProgressTimeoutMs: 1000, maxConnectionMs: 3_600_000 });
    const peer = rawPeer(server.url);
    await peer.opened;
    let pongs = 0;
    peer.ws.on('ping', () => pongs++);
    for (let i = 0; i < 9; i++) {
      const before = pongs;
      clock.advance(100);
      await until(() => pongs > before && server.connectionStats()[0]?.idleMs === 0, 'pong received by the server');
      expect(server.connectionStats()[0]?.noProgressMs).toBe((i + 1) * 100);
    }
    expect(server.connections).toBe(1); // 900 ms: idle (250) kept alive by pongs
    clock.advance(100);
    expect((await peer.closed).code).toBe(ErrorCloseCodes.timeout);
  });
});
