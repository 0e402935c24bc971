/**
 * The WebSocket transport with honest peers, over real loopback sockets: results,
 * progress, auth, connection limits, heartbeat, graceful shutdown, timeouts.
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { nobleRistretto255 } from '../src/group/noble.js';
import { createSuite, Modes } from '../src/oprf/index.js';
import { ClientSession, type ClientResult } from '../src/protocol/client-session.js';
import { decodeMessage, encodeMessage } from '../src/protocol/codec.js';
import { ProtocolError, ProtocolErrorCodes } from '../src/protocol/errors.js';
import { DEFAULT_LIMITS } from '../src/protocol/limits.js';
import { psiSchemas } from '../src/protocol/messages.js';
import { ServerSession } from '../src/protocol/server-session.js';
import { prepareServerSet } from '../src/protocol/server-set.js';
import type { SansIoSession, SessionEvent } from '../src/protocol/session-core.js';
import {
  closeCodeFor,
  ConnectionClosedError,
  ErrorCloseCodes,
  errorCodeForClose,
  runClientSession,
  startServer,
  SUBPROTOCOL,
  type PsiServer,
  type ServerOptions,
  type SessionReport,
  type WebSocketConstructor,
} from '../src/transport/index.js';
import { plainIntersection, utf8 } from './helpers/psi.js';
import { seededRng } from './helpers/rng.js';
import { FakeClock } from './helpers/fake-clock.js';

const suite = createSuite('ristretto255-SHA512', Modes.OPRF, nobleRistretto255);
const serverItems = Array.from({ length: 12 }, (_, i) => `+4155550${100 + i}`);
const clientItems = ['+41555500101', '+15550000001', '+41555500107', 'x@example.org', '+41555500111', '+41555500103'];
const expected = plainIntersection(clientItems, serverItems);
const decode = (b: Uint8Array) => decodeMessage<{ t: string; code?: string }>(b, psiSchemas(DEFAULT_LIMITS), DEFAULT_LIMITS.maxMessageBytes);

const psiSession = ({ connectionId, now }: { connectionId: number; now: number }) => {
  const rng = seededRng(connectionId);
  return new ServerSession({ prepared: prepareServerSet(suite, serverItems.map(utf8), rng), rng, now });
};
const client = (seed = 7, chunkSize = 2) => new ClientSession({ suite, items: clientItems.map(utf8), rng: seededRng(seed), chunkSize });

const servers: { server: PsiServer; clock?: FakeClock }[] = [];
async function serve(options: Partial<ServerOptions> = {}): Promise<PsiServer> {
  const server = await startServer({ createSession: psiSession, heartbeatIntervalMs: 0, ...options });
  servers.push({ server, clock: options.clock instanceof FakeClock ? options.clock : undefined });
  return server;
}
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(async ({ server, clock }) => {
      // With a fake clock, time moves only when told: move it on until the close is over.
      let done = false;
      const closing = server.close({ graceMs: 0 }).then(() => void (done = true));
      while (clock && !done) {
        clock.advance(1000);
        await new Promise((r) => setImmediate(r));
      }
      await closing;
    }),
  );
});

const reports = (server: PsiServer): SessionReport[] => {
  const out: SessionReport[] = [];
  server.on('session', (r) => out.push(r));
  return out;
};

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A raw ws peer that records what it receives and how it was closed. */
function rawPeer(url: string, options: WebSocket.ClientOptions = {}) {
  const ws = new WebSocket(url, [SUBPROTOCOL], options);
  const messages: Uint8Array[] = [];
  ws.on('message', (data) => messages.push(new Uint8Array(data as Buffer)));
  ws.on('error', () => {});
  const opened = new Promise<void>((resolve) => ws.once('open', () => resolve()));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  return { ws, messages, opened, closed };
}

/** The HTTP status of a refused upgrade. */
function refusedStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('error', () => {});
    ws.once('open', () => reject(new Error('upgrade was accepted')));
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
  });
}

/** ws with its 'open' held back until `gate` resolves: a client connected but not yet talking. */
function gatedWebSocket(gate: Promise<void>): WebSocketConstructor {
  class Gated extends WebSocket {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- matching ws's overloads
    override addEventListener(type: string, listener: any, options?: any): void {
      const wrapped = type === 'open' ? (...args: unknown[]) => void gate.then(() => listener(...args)) : listener;
      super.addEventListener(type as 'open', wrapped, options);
    }
  }
  return Gated as unknown as WebSocketConstructor;
}

/** Only the WHATWG surface, as in a browser: no headers, no write callbacks, no pause. */
class BrowserLikeWebSocket {
  private readonly inner: WebSocket;
  constructor(url: string, protocols?: string | string[]) {
    this.inner = new WebSocket(url, protocols);
  }
  get binaryType() {
    return this.inner.binaryType;
  }
  set binaryType(v) {
    this.inner.binaryType = v;
  }
  get bufferedAmount() {
    return this.inner.bufferedAmount;
  }
  get readyState() {
    return this.inner.readyState;
  }
  get protocol() {
    return this.inner.protocol;
  }
  send(data: Uint8Array) {
    this.inner.send(data);
  }
  close(code?: number, reason?: string) {
    this.inner.close(code, reason);
  }
  addEventListener(type: string, listener: (e: never) => void) {
    this.inner.addEventListener(type as 'open', listener as never);
  }
}

describe('close codes', () => {
  it('every protocol error code has its own application close code, and maps back', () => {
    const codes = ProtocolErrorCodes.map(closeCodeFor);
    expect(new Set(codes).size).toBe(ProtocolErrorCodes.length);
    for (const code of ProtocolErrorCodes) {
      expect(ErrorCloseCodes[code]).toBeGreaterThanOrEqual(4000);
      expect(ErrorCloseCodes[code]).toBeLessThanOrEqual(4999);
      expect(errorCodeForClose(closeCodeFor(code))).toBe(code);
    }
    expect(errorCodeForClose(1000)).toBeUndefined();
  });
});

describe('a client session over the socket', () => {
  it('gets the right intersection, with progress events, and the server reports the outcome', async () => {
    const server = await serve();
    const seen = reports(server);
    const events: SessionEvent<ClientResult>[] = [];
    const result = await runClientSession(server.url, client(), { WebSocket: WebSocket as unknown as WebSocketConstructor, onEvent: (e) => events.push(e) });
    expect(result).toEqual({ mode: 'intersection', matches: expected, serverCount: serverItems.length });
    const progress = events.filter((e) => e.type === 'progress');
    expect(progress.map((e) => e.type === 'progress' && e.done)).toEqual([2, 4, 6]);
    expect(events.at(-1)).toMatchObject({ type: 'result' });
    await waitFor(() => seen.length === 1 && server.connections === 0);
    expect(seen[0]).toMatchObject({ outcome: 'result', connectionId: 1, messagesIn: 4, messagesOut: 4 });
    expect(Object.keys(seen[0])).not.toContain('result'); // counts only, never payloads
  });

  it('uses ws by default in Node, and cardinality mode works too', async () => {
    const server = await serve();
    const session = new ClientSession({ suite, items: clientItems.map(utf8), rng: seededRng(3), mode: 'cardinality' });
    await expect(runClientSession(server.url, session)).resolves.toEqual({ mode: 'cardinality', count: expected.length, serverCount: 12 });
  });

  it('works with a browser-style WebSocket (token in a subprotocol, polled backpressure)', async () => {
    const server = await serve({ authenticate: ({ token }) => token === 's3cret' && { user: 'alice' }, highWaterMarkBytes: 1 });
    const result = await runClientSession(server.url, client(), { WebSocket: BrowserLikeWebSocket as unknown as WebSocketConstructor, token: 's3cret', highWaterMarkBytes: 1 });
    expect(result).toMatchObject({ matches: expected });
  });

  it('stays correct when every send waits for the buffer to drain (high-water mark of 1 byte)', async () => {
    const server = await serve({ highWaterMarkBytes: 1 });
    const result = await runClientSession(server.url, client(9, 1), { highWaterMarkBytes: 1 });
    expect(result).toMatchObject({ matches: expected });
  });

  it('rejects with the remote error when the server fails the session (remote: true)', async () => {
    const server = await serve();
    const p256 = createSuite('P256-SHA256', Modes.OPRF, (await import('../src/group/noble.js')).nobleP256);
    const session = new ClientSession({ suite: p256, items: [utf8('a')], rng: seededRng(1) });
    await expect(runClientSession(server.url, session)).rejects.toMatchObject({ code: 'unsupported', remote: true });
  });

  it('a createSession that throws a ProtocolError is reported to the client with its code', async () => {
    const server = await serve({
      createSession: () => {
        throw new ProtocolError('overloaded', 'try later');
      },
    });
    const seen = reports(server);
    await expect(runClientSession(server.url, client())).rejects.toMatchObject({ code: 'overloaded', remote: true });
    const peer = rawPeer(server.url);
    const { code } = await peer.closed;
    expect(code).toBe(ErrorCloseCodes.overloaded);
    expect(decode(peer.messages[0])).toMatchObject({ t: 'error', code: 'overloaded' });
    expect(seen[0]).toMatchObject({ outcome: 'failed', code: 'overloaded' });
  });

  it('an async createSession is awaited; messages that arrive meanwhile are kept in order', async () => {
    let created!: () => void;
    const creating = new Promise<void>((r) => (created = r));
    let asked!: () => void;
    const wasAsked = new Promise<void>((r) => (asked = r));
    const server = await serve({ createSession: async (ctx) => (asked(), await creating, psiSession(ctx)) });
    // The session is created only after the client has sent its first messages.
    void wasAsked.then(() => setImmediate(created));
    await expect(runClientSession(server.url, client())).resolves.toMatchObject({ matches: expected });
  });
});

describe('authentication', () => {
  const authenticate = vi.fn(({ token }: { token?: string }) => (token === 'good-token' ? { account: 42 } : undefined));

  it('missing or wrong token: HTTP 401 and no session; right token: works, and auth reaches createSession', async () => {
    const createSession = vi.fn(psiSession);
    const server = await serve({ authenticate, createSession });
    const rejected: unknown[] = [];
    server.on('rejected', (e) => rejected.push(e));

    await expect(runClientSession(server.url, client())).rejects.toMatchObject({ code: 'unauthorized', status: 401, remote: true });
    await expect(runClientSession(server.url, client(), { token: 'bad' })).rejects.toMatchObject({ code: 'unauthorized' });
    expect(await refusedStatus(server.url, { Authorization: 'Bearer bad' })).toBe(401);
    expect(createSession).not.toHaveBeenCalled();
    expect(server.connections).toBe(0);
    expect(rejected).toEqual([
      { status: 401, reason: 'unauthorized' },
      { status: 401, reason: 'unauthorized' },
      { status: 401, reason: 'unauthorized' },
    ]);

    await expect(runClientSession(server.url, client(), { token: 'good-token' })).resolves.toMatchObject({ matches: expected });
    expect(createSession).toHaveBeenCalledTimes(1);
    expect(createSession.mock.calls[0][0]).toMatchObject({ auth: { account: 42 }, connectionId: 1 });

    // The browser form: the token rides in a subprotocol, and the server selects contact-psi, not it.
    const browser = new WebSocket(server.url, [SUBPROTOCOL, 'bearer.good-token']);
    await new Promise((r) => browser.once('open', r));
    expect(browser.protocol).toBe(SUBPROTOCOL);
    browser.close();
  });

  it('a throwing authenticate refuses with 401; a rate_limited ProtocolError with 429', async () => {
    let mode = 'throw';
    const server = await serve({
      authenticate: () => {
        if (mode === 'throw') throw new Error('db down');
        throw new ProtocolError('rate_limited', 'slow down');
      },
    });
    expect(await refusedStatus(server.url)).toBe(401);
    mode = 'rate';
    await expect(runClientSession(server.url, client())).rejects.toMatchObject({ code: 'rate_limited', status: 429 });
  });
});

describe('connection limits', () => {
  it('refuses the (max+1)th connection with 503, and accepts again once one closes', async () => {
    const server = await serve({ maxConnections: 2 });
    const a = rawPeer(server.url);
    const b = rawPeer(server.url);
    await Promise.all([a.opened, b.opened]);
    expect(server.connections).toBe(2);
    expect(await refusedStatus(server.url)).toBe(503);
    await expect(runClientSession(server.url, client())).rejects.toMatchObject({ code: 'overloaded', status: 503 });
    a.ws.close();
    await waitFor(() => server.connections === 1);
    await expect(runClientSession(server.url, client())).resolves.toMatchObject({ matches: expected });
    b.ws.close();
  });

  it('a plain HTTP request gets 426; a TCP peer that never upgrades is dropped after handshakeTimeoutMs (fake clock)', async () => {
    const clock = new FakeClock();
    const server = await serve({ handshakeTimeoutMs: 150, clock });
    const res = await fetch(server.url.replace('ws:', 'http:'));
    expect(res.status).toBe(426);
    const pending = clock.pending;
    const socket = connect(server.port, '127.0.0.1');
    socket.on('error', () => {});
    let closed = false;
    const gone = new Promise((r) => socket.once('close', r)).then(() => (closed = true));
    await waitFor(() => clock.pending === pending + 1); // the server armed the handshake timer
    clock.advance(149);
    expect(clock.pending).toBe(pending + 1); // not due yet
    await new Promise((r) => setImmediate(r));
    expect(closed).toBe(false);
    clock.advance(1);
    await gone;
  });

  it('maxConnectionMs bounds a connection that keeps talking (fake clock)', async () => {
    const clock = new FakeClock();
    const server = await serve({ maxConnectionMs: 200, idleTimeoutMs: 5000, clock });
    const peer = rawPeer(server.url);
    await peer.opened;
    await waitFor(() => server.connections === 1);
    clock.advance(199);
    expect(server.connections).toBe(1);
    clock.advance(1);
    const { code } = await peer.closed;
    expect(code).toBe(ErrorCloseCodes.timeout);
    expect(decode(peer.messages[0])).toMatchObject({ t: 'error', code: 'timeout' });
  });
});

describe('heartbeat', () => {
  it('terminates a peer that does not answer pings, and keeps one that does (fake clock)', async () => {
    const clock = new FakeClock();
    const server = await serve({ heartbeatIntervalMs: 100, idleTimeoutMs: 5000, noProgressTimeoutMs: 5000, clock });
    const seen = reports(server);
    const deaf = rawPeer(server.url, { autoPong: false });
    const healthy = rawPeer(server.url);
    await Promise.all([deaf.opened, healthy.opened]);
    await waitFor(() => server.connections === 2);
    const healthyPonged = () => server.connectionStats().some((c) => c.idleMs === 0);
    // First tick: both are pinged; only the healthy one answers.
    clock.advance(100);
    await waitFor(healthyPonged);
    // Second tick: the deaf one showed no sign of life for a whole period.
    clock.advance(100);
    const { code } = await deaf.closed;
    expect(code).toBe(1006); // terminated: no close frame
    await waitFor(() => seen.length === 1);
    expect(seen[0]).toMatchObject({ outcome: 'failed', code: 'timeout' });
    // More periods: the healthy peer keeps answering and stays.
    for (let i = 0; i < 3; i++) {
      await waitFor(healthyPonged);
      clock.advance(100);
    }
    await waitFor(healthyPonged);
    expect(healthy.ws.readyState).toBe(WebSocket.OPEN);
    expect(server.connections).toBe(1);
    healthy.ws.close();
  });
});

describe('timeouts', () => {
  it('the client timeoutMs fails the session with timeout and tells the server (close 4408) (fake clock)', async () => {
    const received: Uint8Array[] = [];
    let aborted: ProtocolError | undefined;
    // A server session that never answers.
    const silent: SansIoSession = {
      handle: (bytes) => void received.push(bytes),
      handleTimeout: () => {},
      pollTransmit: () => undefined,
      pollEvent: () => undefined,
      pollTimeout: () => undefined,
      abort: (e) => void (aborted ??= e),
      isFinished: () => false,
      currentState: 'silent',
      error: undefined,
    };
    const server = await serve({ createSession: () => silent });
    const clock = new FakeClock();
    const running = runClientSession(server.url, client(), { timeoutMs: 150, clock });
    await waitFor(() => received.length === 1); // the hello reached the silent server
    clock.advance(149);
    clock.advance(1);
    await expect(running).rejects.toMatchObject({ code: 'timeout', remote: false });
    await waitFor(() => aborted !== undefined);
    expect(received.map((b) => decode(b).t)).toEqual(['psi.hello', 'error']);
    expect(decode(received[1])).toMatchObject({ code: 'timeout' });
    expect(aborted).toMatchObject({ code: 'closed', closeCode: ErrorCloseCodes.timeout });
  });

  it('an unexpected close rejects with closed and the close code', async () => {
    // A bare ws server that drops the session without an error message.
    const bare = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => bare.once('listening', r));
    let mode: 'close' | 'terminate' = 'close';
    bare.on('connection', (ws) => ws.once('message', () => (mode === 'close' ? ws.close(1011, 'boom') : ws.terminate())));
    const url = `ws://127.0.0.1:${(bare.address() as { port: number }).port}`;
    try {
      await expect(runClientSession(url, client())).rejects.toMatchObject({ code: 'closed', closeCode: 1011, closeReason: 'boom', remote: false });
      mode = 'terminate';
      await expect(runClientSession(url, client())).rejects.toMatchObject({ code: 'closed', closeCode: 1006 });
      await expect(runClientSession(url, client())).rejects.toBeInstanceOf(ConnectionClosedError);
    } finally {
      await new Promise((r) => bare.close(r));
    }
  });
});

describe('graceful close', () => {
  it('lets an in-flight session finish, refuses new connections, then resolves without waiting for the grace period (fake clock)', async () => {
    const clock = new FakeClock();
    const server = await serve({ clock });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const inFlight = runClientSession(server.url, client(), { WebSocket: gatedWebSocket(gate) });
    await waitFor(() => server.connections === 1);
    const closing = server.close({ graceMs: 5000 });
    // Nothing listens any more: the client names the cause (ECONNREFUSED), not a bare close 1006.
    await expect(runClientSession(server.url, client())).rejects.toMatchObject({ code: 'connect_refused', systemCode: 'ECONNREFUSED' });
    release();
    await expect(inFlight).resolves.toMatchObject({ matches: expected });
    await closing; // the fake clock never moved: the 5 s grace was not waited for
    expect(server.connections).toBe(0);
  });

  it('after graceMs, a running session gets a closed error message and close 1001 (fake clock)', async () => {
    const clock = new FakeClock();
    const server = await serve({ clock });
    const seen = reports(server);
    const peer = rawPeer(server.url);
    await peer.opened;
    peer.ws.send(encodeMessage({ t: 'psi.hello', suite: suite.id, mode: 'intersection', verifiable: false, encoding: 'raw', fpr: 1e-6, total: 4, chunk: 4 }));
    await waitFor(() => peer.messages.length === 1); // psi.setup
    const closing = server.close({ graceMs: 100 });
    clock.advance(99);
    await new Promise((r) => setImmediate(r));
    expect(peer.ws.readyState).toBe(WebSocket.OPEN);
    clock.advance(1);
    await closing;
    const { code } = await peer.closed;
    expect(code).toBe(1001);
    expect(decode(peer.messages[1])).toMatchObject({ t: 'error', code: 'closed' });
    expect(seen[0]).toMatchObject({ outcome: 'failed', code: 'closed' });
  });
});
