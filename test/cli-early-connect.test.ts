/**
 * `contact-psi sync` opens its connection before it loads the client (src/cli/early-connect.ts,
 * issue 13 §1): the transport (runClientSession) must get that socket when it still fits and
 * behave exactly as with a socket of its own otherwise: the same result, the same errors
 * (401, connection refused), and a fresh socket when the early one died or was opened with
 * other options. Every wait is on an event (the socket opened or closed), never a sleep.
 */
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import fc from 'fast-check';
import { connectEarly } from '../src/cli/early-connect.js';
import { DEFAULT_LIMITS } from '../src/protocol/limits.js';
import { SUBPROTOCOL } from '../src/transport/ws/auth.js';
import { nobleRistretto255 } from '../src/group/noble.js';
import { createSuite, Modes } from '../src/oprf/index.js';
import { ClientSession } from '../src/protocol/client-session.js';
import { ServerSession } from '../src/protocol/server-session.js';
import { prepareServerSet } from '../src/protocol/server-set.js';
import { ConnectFailedError, runClientSession, startServer, UpgradeRejectedError, type PsiServer, type ServerOptions } from '../src/transport/index.js';
import { plainIntersection, utf8 } from './helpers/psi.js';
import { seededRng } from './helpers/rng.js';

const suite = createSuite('ristretto255-SHA512', Modes.OPRF, nobleRistretto255);
const serverItems = Array.from({ length: 8 }, (_, i) => `+4155550${100 + i}`);
const clientItems = ['+41555500101', '+15550000001', '+41555500107'];
const expected = plainIntersection(clientItems, serverItems);
const client = () => new ClientSession({ suite, items: clientItems.map(utf8), rng: seededRng(7) });

const servers: PsiServer[] = [];
async function serve(options: Partial<ServerOptions> = {}) {
  const createSession = vi.fn(({ connectionId, now }: { connectionId: number; now: number }) => {
    const rng = seededRng(connectionId);
    return new ServerSession({ prepared: prepareServerSet(suite, serverItems.map(utf8), rng), rng, now });
  });
  const server = await startServer({ createSession, heartbeatIntervalMs: 0, ...options });
  servers.push(server);
  return { server, createSession };
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close({ graceMs: 0 })));
});

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

describe('the early connection of contact-psi sync', () => {
  it('opened long before the transport asks, it is the socket the session runs on (one connection, events replayed)', async () => {
    const { server, createSession } = await serve({ authenticate: ({ token }) => token === 'good-token' && { account: 1 } });
    const early = connectEarly(server.url, 'good-token');
    // The open event fired before the transport attached any listener.
    expect(await early.opened).toBe(true);
    const result = await runClientSession(server.url, client(), { WebSocket: early.WebSocket, token: 'good-token' });
    expect(result).toMatchObject({ matches: expected });
    expect(early.state).toBe('handed-over');
    expect(createSession).toHaveBeenCalledTimes(1);
  });

  it('a refused upgrade (401) held until the transport listens is reported as without it', async () => {
    const { server, createSession } = await serve({ authenticate: ({ token }) => token === 'good-token' && { account: 1 } });
    const early = connectEarly(server.url, 'bad');
    expect(await early.opened).toBe(false);
    const err = await runClientSession(server.url, client(), { WebSocket: early.WebSocket, token: 'bad' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpgradeRejectedError);
    expect(err).toMatchObject({ code: 'unauthorized', status: 401 });
    expect(early.state).toBe('handed-over');
    expect(createSession).not.toHaveBeenCalled();
  });

  it('an early socket that could not connect is replaced: the transport meets the refusal itself (connect_refused)', async () => {
    const url = `ws://127.0.0.1:${await closedPort()}`;
    const early = connectEarly(url, undefined);
    expect(await early.opened).toBe(false);
    const err = await runClientSession(url, client(), { WebSocket: early.WebSocket }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectFailedError);
    expect(err).toMatchObject({ code: 'connect_refused' });
    expect(early.state).toBe('replaced');
  });

  it('an early socket the server closed while the client was busy is replaced by a fresh connection', async () => {
    // A server that closes the first connection as soon as it opens.
    const raw = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => raw.once('listening', r));
    raw.once('connection', (ws) => ws.close(1001, 'going away'));
    const rawUrl = `ws://127.0.0.1:${(raw.address() as AddressInfo).port}`;
    try {
      const early = connectEarly(rawUrl, undefined);
      expect(await early.opened).toBe(true);
      await early.closed;
      // The transport asks for the same URL: it gets a new socket (here: the second connection, kept open).
      const second = new Promise<unknown>((r) => raw.once('connection', r));
      const fresh = new early.WebSocket(rawUrl, ['contact-psi'], { headers: {}, maxPayload: 1, perMessageDeflate: false } as never) as unknown as WebSocket;
      expect(early.state).toBe('replaced');
      expect(fresh).toBeInstanceOf(WebSocket);
      await new Promise((r) => fresh.once('open', r));
      expect(await second).toBeDefined();
      fresh.close();
    } finally {
      await new Promise((r) => raw.close(r));
    }
  });

  it('asked with other options (another token), the transport gets a fresh socket and the early one is closed', async () => {
    const { server, createSession } = await serve({ authenticate: ({ token }) => (token === 'good-token' || token === 'other-token') && { account: 1 } });
    const early = connectEarly(server.url, 'other-token');
    expect(await early.opened).toBe(true);
    const result = await runClientSession(server.url, client(), { WebSocket: early.WebSocket, token: 'good-token' });
    expect(result).toMatchObject({ matches: expected });
    expect(early.state).toBe('replaced');
    await early.closed;
    expect(createSession).toHaveBeenCalledTimes(2); // the early connection's session, never used, and the fresh one
  });

  it('another URL (a witness) gets its own socket and leaves the early one waiting for the sync', async () => {
    const { server: main } = await serve();
    const { server: witness, createSession: witnessSessions } = await serve();
    const early = connectEarly(main.url, undefined);
    expect(await early.opened).toBe(true);
    await expect(runClientSession(witness.url, client(), { WebSocket: early.WebSocket })).resolves.toMatchObject({ matches: expected });
    expect(witnessSessions).toHaveBeenCalledTimes(1);
    expect(early.state).toBe('waiting');
    await expect(runClientSession(main.url, client(), { WebSocket: early.WebSocket })).resolves.toMatchObject({ matches: expected });
    expect(early.state).toBe('handed-over');
  });

  it('discarded unused (the sync failed before connecting), it is closed so the process can exit; discarding twice is harmless', async () => {
    const { server } = await serve();
    const early = connectEarly(server.url, undefined);
    expect(await early.opened).toBe(true);
    early.discard();
    early.discard();
    await early.closed;
    expect(early.state).toBe('discarded');
  });
  it('a server that sends before the handover (out of turn: the client speaks first) gets its early socket dropped, nothing held; the transport connects afresh', async () => {
    // Red team, wave 3: the early socket held whatever the server sent while the process
    // loaded, without bound (64 MiB in the repro). Any message before the handover now
    // drops the early socket, however many or large.
    const { server } = await serve();
    const flood = new WebSocketServer({ port: 0, handleProtocols: () => SUBPROTOCOL });
    await new Promise<void>((r) => flood.once('listening', () => r()));
    const floodUrl = `ws://127.0.0.1:${(flood.address() as AddressInfo).port}`;
    let plan = { messages: 1, bytes: 1 };
    flood.on('connection', (ws) => {
      for (let i = 0; i < plan.messages; i++) ws.send(new Uint8Array(plan.bytes));
    });
    try {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 1 << 20 }), async (messages, bytes) => {
          plan = { messages, bytes };
          const early = connectEarly(floodUrl, undefined);
          await early.closed; // dropped by the client as soon as the first out-of-turn message arrived
          // Asked exactly as the transport asks, it is no longer alive: replaced by a fresh socket.
          const fresh = new early.WebSocket(floodUrl, [SUBPROTOCOL], { headers: {}, maxPayload: DEFAULT_LIMITS.maxMessageBytes, perMessageDeflate: false } as never) as unknown as WebSocket;
          expect(early.state).toBe('replaced');
          fresh.on('error', () => undefined); // terminated while connecting: ws reports it as an error
          fresh.terminate();
        }),
        { numRuns: 6 },
      );
    } finally {
      await new Promise((r) => flood.close(r));
    }
    // An honest server never speaks first: its early socket is still handed over.
    const early = connectEarly(server.url, undefined);
    expect(await early.opened).toBe(true);
    await expect(runClientSession(server.url, client(), { WebSocket: early.WebSocket })).resolves.toMatchObject({ matches: expected });
    expect(early.state).toBe('handed-over');
  });
});
