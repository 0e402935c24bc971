/**
 * The hand-written WebSocket upgrade the bin's entry sends for `contact-psi sync` before ws
 * loads (src/cli/early-upgrade*.ts, issue 13 §1), and its handover to ws
 * (early-connect.ts's connectStarted). Every server here is a real one on a loopback port:
 * the project's WebSocket server, ws's WebSocketServer, or a TCP server writing the bytes a
 * case needs (a wrong Sec-WebSocket-Accept cannot be had from an honest server). Waits are
 * on events, never on time.
 */
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import WebSocket, { WebSocketServer } from 'ws';
import { connectStarted } from '../src/cli/early-connect.js';
import { acceptFor, EarlyUpgrade, keyNonce, type UpgradeOutcome } from '../src/cli/early-upgrade.js';
import { DEFAULT_MAX_RESPONSE_HEAD_BYTES, upgradeRequest, upgradeTarget } from '../src/cli/early-upgrade-wire.js';
import { DEFAULT_LIMITS } from '../src/protocol/limits.js';
import { SUBPROTOCOL } from '../src/transport/ws/auth.js';
import { nobleRistretto255 } from '../src/group/noble.js';
import { createSuite, Modes } from '../src/oprf/index.js';
import { ClientSession } from '../src/protocol/client-session.js';
import { ServerSession } from '../src/protocol/server-session.js';
import { prepareServerSet } from '../src/protocol/server-set.js';
import { runClientSession, startServer, UpgradeRejectedError, type PsiServer, type ServerOptions } from '../src/transport/index.js';
import { plainIntersection, utf8 } from './helpers/psi.js';
import { seededRng } from './helpers/rng.js';
import { FakeClock } from './helpers/fake-clock.js';

const suite = createSuite('ristretto255-SHA512', Modes.OPRF, nobleRistretto255);
const serverItems = Array.from({ length: 8 }, (_, i) => `+4155550${100 + i}`);
const clientItems = ['+41555500101', '+15550000001', '+41555500107'];
const expected = plainIntersection(clientItems, serverItems);
const client = () => new ClientSession({ suite, items: clientItems.map(utf8), rng: seededRng(7) });

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(options: Partial<ServerOptions> = {}) {
  const createSession = vi.fn(({ connectionId, now }: { connectionId: number; now: number }) => {
    const rng = seededRng(connectionId);
    return new ServerSession({ prepared: prepareServerSet(suite, serverItems.map(utf8), rng), rng, now });
  });
  const server: PsiServer = await startServer({ createSession, heartbeatIntervalMs: 0, ...options });
  cleanups.push(() => server.close({ graceMs: 0 }));
  return { server, createSession };
}

/** Starts the early upgrade as the bin's entry does. */
function startUpgrade(url: string, token: string | undefined, extra: { maxResponseHeadBytes?: number; keyBytes?: Uint8Array } = {}): EarlyUpgrade {
  const target = upgradeTarget(url);
  if (!target) throw new Error(`not an early-upgrade URL: ${url}`);
  const upgrade = new EarlyUpgrade(url, target, { protocol: SUBPROTOCOL, token, ...extra });
  cleanups.push(() => upgrade.abort());
  return upgrade;
}

/** The first outcome (open, refused or dropped). */
const firstOutcome = (u: EarlyUpgrade): Promise<UpgradeOutcome> => (u.outcome ? Promise.resolve(u.outcome) : new Promise((r) => u.onOutcome(r)));

/** A TCP server that reads each request head and answers it with `answer(head, key, socket, index)`. */
async function rawServer(answer: (head: string, key: string, socket: Socket, index: number) => void): Promise<{ url: string; server: Server; connections: () => number }> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    const index = count++;
    sockets.add(socket);
    let buffered = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buffered = Buffer.concat([buffered, d]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const head = buffered.subarray(0, end + 4).toString('latin1');
      const key = /\r\nsec-websocket-key: *([^\r]*)\r\n/i.exec(head)?.[1] ?? '';
      answer(head, key, socket, index);
    };
    socket.on('data', onData);
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => new Promise((r) => server.close(r)));
  cleanups.push(() => sockets.forEach((s) => s.destroy()));
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, server, connections: () => count };
}

const switching = (key: string, lines: string[] = []): string =>
  ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${acceptFor(key)}`, `Sec-WebSocket-Protocol: ${SUBPROTOCOL}`, ...lines].join('\r\n') + '\r\n\r\n';

/** What ws writes for the transport's socket (openSocket's options), captured instead of sent. */
function wsOwnRequest(url: string, token: string | undefined): Promise<string> {
  return new Promise((resolve) => {
    const connection = new Duplex({
      read() {},
      write(chunk: Buffer, _e, cb) {
        resolve(chunk.toString('latin1'));
        cb();
      },
    });
    const ws = new WebSocket(url, [SUBPROTOCOL], {
      headers: token ? { Authorization: `Bearer ${token}` } : {},
      maxPayload: DEFAULT_LIMITS.maxMessageBytes,
      perMessageDeflate: false,
      createConnection: () => connection as unknown as Socket,
    });
    ws.on('error', () => undefined);
    cleanups.push(() => ws.terminate());
  });
}

/** Request line and headers (names lower-cased) of a request head; throws unless every line is well-formed HTTP/1.1. */
function parseRequest(head: string): { line: string; headers: Map<string, string> } {
  expect(head.endsWith('\r\n\r\n')).toBe(true);
  const lines = head.slice(0, -4).split('\r\n');
  expect(lines[0]).toMatch(/^GET \/[!-~]* HTTP\/1\.1$/);
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+): ([!-~](?:[ -~]*[!-~])?)$/.exec(l);
    expect(m, l).not.toBeNull();
    expect(headers.has(m![1].toLowerCase())).toBe(false);
    headers.set(m![1].toLowerCase(), m![2]);
  }
  return { line: lines[0], headers };
}

const hostArb = fc.oneof(
  fc.domain(),
  fc.ipV4(),
  fc.ipV6().map((a) => `[${a}]`),
  fc.constant('localhost'),
);
const urlArb = fc
  .record({
    scheme: fc.constantFrom('ws', 'wss'),
    host: hostArb,
    port: fc.option(fc.oneof(fc.constantFrom(80, 443), fc.integer({ min: 1, max: 65535 })), { nil: undefined }),
    segments: fc.array(fc.webSegment(), { maxLength: 4 }),
    query: fc.option(fc.webQueryParameters(), { nil: undefined }),
  })
  .map(({ scheme, host, port, segments, query }) => `${scheme}://${host}${port === undefined ? '' : `:${port}`}/${segments.join('/')}${query === undefined ? '' : `?${query}`}`);
const tokenArb = fc.option(fc.stringMatching(/^[!-~]{1,64}$/), { nil: undefined });

describe('the hand-written upgrade request (RFC 6455 §4.1)', () => {
  it('is byte-valid HTTP/1.1 and carries what ws would send for the transport (same line, same headers; only the key differs)', async () => {
    // The generators reach IPv6 hosts, default and explicit ports, queries and tokens.
    const sample = fc.sample(fc.tuple(urlArb, tokenArb), 200);
    expect(sample.some(([u]) => u.includes('['))).toBe(true);
    expect(sample.some(([u]) => u.includes('?'))).toBe(true);
    expect(sample.some(([u]) => /^wss:\/\/[^/]*:443\//.test(u))).toBe(true);
    expect(sample.some(([, t]) => t !== undefined)).toBe(true);
    await fc.assert(
      fc.asyncProperty(urlArb, tokenArb, fc.uint8Array({ minLength: 16, maxLength: 16 }), async (url, token, keyBytes) => {
        const target = upgradeTarget(url)!;
        expect(target).toBeDefined();
        const key = Buffer.from(keyBytes).toString('base64');
        const ours = parseRequest(upgradeRequest(target, key, SUBPROTOCOL, token));
        const theirs = parseRequest(await wsOwnRequest(url, token));
        expect(ours.line).toBe(theirs.line);
        expect(ours.headers.get('sec-websocket-key')).toBe(key);
        expect(theirs.headers.get('sec-websocket-key')).toMatch(/^[A-Za-z0-9+/]{22}==$/);
        ours.headers.delete('sec-websocket-key');
        theirs.headers.delete('sec-websocket-key');
        expect(Object.fromEntries(ours.headers)).toEqual(Object.fromEntries(theirs.headers));
      }),
      { numRuns: 150 },
    );
  });

  it('a fresh 16-byte nonce per connection (RFC 6455 §4.1), from the system\'s CSPRNG; the accept value of RFC 6455 §1.3\'s example', () => {
    const nonces = Array.from({ length: 64 }, () => Buffer.from(keyNonce()).toString('hex'));
    expect(nonces.every((n) => n.length === 32)).toBe(true);
    expect(new Set(nonces).size).toBe(64);
    expect(acceptFor('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('takes only what it can send as ws would: credentials, a fragment, another scheme are left to ws', () => {
    expect(upgradeTarget('ws://user:pw@127.0.0.1:1/')).toBeUndefined();
    expect(upgradeTarget('ws://127.0.0.1:1/#f')).toBeUndefined();
    expect(upgradeTarget('http://127.0.0.1:1/')).toBeUndefined();
    expect(upgradeTarget('not a url')).toBeUndefined();
    expect(upgradeTarget('wss://[::1]/x?y')).toEqual({ secure: true, host: '::1', port: 443, hostHeader: '[::1]', path: '/x?y' });
  });

  it('refuses a value that would start another header line', () => {
    const target = upgradeTarget('ws://127.0.0.1:1/')!;
    fc.assert(
      fc.property(fc.constantFrom('\r\nX: y', ' ', '\n', 'é'), (bad) => {
        expect(() => upgradeRequest(target, 'dGhlIHNhbXBsZSBub25jZQ==', SUBPROTOCOL, `tok${bad}`)).toThrow(TypeError);
      }),
    );
  });

  it('is accepted by ws\'s own server over paths, queries, keys and tokens (the server sees them)', async () => {
    const seen: { url: string; auth: string | undefined; key: string | undefined }[] = [];
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => SUBPROTOCOL });
    await once(wss, 'listening');
    cleanups.push(() => new Promise((r) => wss.close(r)));
    wss.on('connection', (ws, req) => {
      seen.push({ url: req.url ?? '', auth: req.headers.authorization, key: req.headers['sec-websocket-key'] });
      ws.on('error', () => undefined);
    });
    const base = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.webSegment(), { maxLength: 3 }), fc.option(fc.webQueryParameters(), { nil: undefined }), tokenArb, fc.uint8Array({ minLength: 16, maxLength: 16 }), async (segments, query, token, keyBytes) => {
        const url = `${base}/${segments.join('/')}${query === undefined ? '' : `?${query}`}`;
        const upgrade = startUpgrade(url, token, { keyBytes });
        const outcome = await firstOutcome(upgrade);
        expect(outcome.kind).toBe('open');
        const last = seen.at(-1)!;
        expect(last.url).toBe(upgradeTarget(url)!.path);
        expect(last.auth).toBe(token === undefined ? undefined : `Bearer ${token}`);
        expect(last.key).toBe(Buffer.from(keyBytes).toString('base64'));
        upgrade.abort();
      }),
      { numRuns: 25 },
    );
  });
});

describe('the 101 is checked strictly (RFC 6455 §4.1, the client\'s checks)', () => {
  type Fault = 'none' | 'accept-wrong' | 'accept-missing' | 'accept-twice' | 'upgrade-other' | 'upgrade-missing' | 'connection-without-upgrade' | 'protocol-missing' | 'protocol-other' | 'extension' | 'folded-line';
  const faults: Fault[] = ['none', 'accept-wrong', 'accept-missing', 'accept-twice', 'upgrade-other', 'upgrade-missing', 'connection-without-upgrade', 'protocol-missing', 'protocol-other', 'extension', 'folded-line'];

  function response101(key: string, fault: Fault, wrongAccept: string, caseOf: (name: string) => string, ows: string): string {
    const headers: [string, string][] = [
      ['Upgrade', fault === 'upgrade-other' ? 'h2c' : 'websocket'],
      ['Connection', fault === 'connection-without-upgrade' ? 'keep-alive' : 'keep-alive, Upgrade'],
      ['Sec-WebSocket-Accept', fault === 'accept-wrong' ? wrongAccept : acceptFor(key)],
      ['Sec-WebSocket-Protocol', fault === 'protocol-other' ? 'other' : SUBPROTOCOL],
    ];
    if (fault === 'accept-twice') headers.push(['Sec-WebSocket-Accept', acceptFor(key)]);
    if (fault === 'extension') headers.push(['Sec-WebSocket-Extensions', 'permessage-deflate']);
    const drop = { 'accept-missing': 'Sec-WebSocket-Accept', 'upgrade-missing': 'Upgrade', 'protocol-missing': 'Sec-WebSocket-Protocol' } as Record<Fault, string | undefined>;
    const lines = headers.filter(([n]) => n !== drop[fault]).map(([n, v]) => `${caseOf(n)}:${ows}${v}${ows}`);
    if (fault === 'folded-line') lines.push('X-Note: a', ' folded');
    return `HTTP/1.1 101 Switching Protocols\r\n${lines.join('\r\n')}\r\n\r\n`;
  }

  it('opens only on a 101 that passes every check; a wrong Sec-WebSocket-Accept (or any other fault) drops the connection', async () => {
    let plan: { fault: Fault; wrongAccept: string; upper: boolean; ows: string } = { fault: 'none', wrongAccept: '', upper: false, ows: ' ' };
    const raw = await rawServer((_head, key, socket) => socket.write(response101(key, plan.fault, plan.wrongAccept, (n) => (plan.upper ? n.toUpperCase() : n.toLowerCase()), plan.ows)));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...faults),
        fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => Buffer.from(b).toString('base64')),
        fc.boolean(),
        fc.constantFrom('', ' ', '\t', '  '),
        async (fault, wrongAccept, upper, ows) => {
          plan = { fault, wrongAccept, upper, ows };
          const upgrade = startUpgrade(raw.url, undefined);
          const outcome = await firstOutcome(upgrade);
          if (fault === 'none') expect(outcome.kind).toBe('open');
          else {
            expect(outcome).toMatchObject({ kind: 'dropped' });
            await upgrade.closed;
          }
          upgrade.abort();
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a response head up to the limit is read; one byte past it drops the connection', async () => {
    const max = 1024;
    let padding = 0;
    const raw = await rawServer((_h, key, socket) => {
      const base = switching(key, ['X-Pad: ']);
      // X-Pad's value sized so the head is exactly `padding` bytes long.
      socket.write(switching(key, [`X-Pad: ${'p'.repeat(padding - base.length)}`]));
    });
    const headOf = (key: string) => switching(key, ['X-Pad: ']).length;
    const keyBytes = new Uint8Array(16);
    const key = Buffer.from(keyBytes).toString('base64');
    padding = max;
    expect(headOf(key)).toBeLessThan(max);
    const atLimit = startUpgrade(raw.url, undefined, { maxResponseHeadBytes: max, keyBytes });
    expect((await firstOutcome(atLimit)).kind).toBe('open');
    atLimit.abort();
    padding = max + 1;
    const past = startUpgrade(raw.url, undefined, { maxResponseHeadBytes: max, keyBytes });
    expect(await firstOutcome(past)).toMatchObject({ kind: 'dropped', reason: `a response head over ${max} bytes` });
    expect(DEFAULT_MAX_RESPONSE_HEAD_BYTES).toBe(16 * 1024);
  });
});

describe('a refused upgrade (not 101)', () => {
  it('is replayed to ws: the transport reports the server\'s status, over the one connection (no second request)', async () => {
    let status = 401;
    const raw = await rawServer((_h, _k, socket) => {
      socket.end(`HTTP/1.1 ${status} Refused\r\nContent-Length: 5\r\nConnection: close\r\n\r\nnope.`);
    });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 200, max: 599 }), fc.boolean(), async (s, waitFirst) => {
        status = s;
        const before = raw.connections();
        const early = connectStarted({ server: raw.url, token: undefined, upgrade: startUpgrade(raw.url, undefined) });
        // Handed over after the refusal landed, or while the upgrade still travels.
        if (waitFirst) expect(await early.opened).toBe(false);
        const err = await runClientSession(raw.url, client(), { WebSocket: early.WebSocket }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(UpgradeRejectedError);
        expect(err).toMatchObject({ status: s });
        expect(early.state).toBe('handed-over');
        expect(raw.connections() - before).toBe(1);
      }),
      { numRuns: 20 },
    );
  });

  it('an interim answer (1xx but 101) or a status line that is not HTTP/1.1\'s is not replayed: dropped, the transport reads that server itself', async () => {
    let line = 'HTTP/1.1 100 Continue';
    const raw = await rawServer((_h, _k, socket) => socket.write(`${line}\r\nContent-Length: 0\r\n\r\n`));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.integer({ min: 100, max: 199 }).filter((s) => s !== 101).map((s) => `HTTP/1.1 ${s} Interim`),
          fc.constantFrom('HTTP/1.0 401 Unauthorized', 'HTTP/2 401', 'HTTP/1.1 40 Short', 'ICY 200 OK', 'HTTP/1.1 401\tTab'),
        ),
        async (l) => {
          line = l;
          const upgrade = startUpgrade(raw.url, undefined);
          expect(await firstOutcome(upgrade), l).toMatchObject({ kind: 'dropped', reason: 'not a final HTTP/1.1 answer' });
        },
      ),
      { numRuns: 20 },
    );
  });

  it('with the project\'s server: a 401 is unauthorized, as without the early path', async () => {
    const { server, createSession } = await serve({ authenticate: ({ token }) => token === 'good-token' && { account: 1 } });
    const early = connectStarted({ server: server.url, token: 'bad', upgrade: startUpgrade(server.url, 'bad') });
    const err = await runClientSession(server.url, client(), { WebSocket: early.WebSocket, token: 'bad' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'unauthorized', status: 401 });
    expect(createSession).not.toHaveBeenCalled();
  });
});

describe('a server that speaks before the handover (the client speaks first in this protocol)', () => {
  it('gets the early connection dropped, nothing kept, whether its bytes come with the 101 or after; the transport connects afresh', async () => {
    let plan = { together: false, messages: 1, bytes: 1 };
    const raw = await rawServer((_h, key, socket) => {
      const frames = Buffer.concat(
        Array.from({ length: plan.messages }, () => {
          // Unmasked binary frames (server to client), 64-bit length.
          const header = Buffer.alloc(10);
          header[0] = 0x82;
          header[1] = 127;
          header.writeBigUInt64BE(BigInt(plan.bytes), 2);
          return Buffer.concat([header, Buffer.alloc(plan.bytes)]);
        }),
      );
      if (plan.together) socket.write(Buffer.concat([Buffer.from(switching(key)), frames]));
      else {
        socket.write(switching(key));
        socket.write(frames);
      }
    });
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 1 << 20 }), async (together, messages, bytes) => {
        plan = { together, messages, bytes };
        const upgrade = startUpgrade(raw.url, undefined);
        const early = connectStarted({ server: raw.url, token: undefined, upgrade });
        await early.closed;
        expect(upgrade.outcome).toMatchObject({ kind: 'dropped', reason: 'the server spoke before the client' });
        const fresh = new early.WebSocket(raw.url, [SUBPROTOCOL], { headers: {}, maxPayload: DEFAULT_LIMITS.maxMessageBytes, perMessageDeflate: false } as never) as unknown as WebSocket;
        expect(early.state).toBe('replaced');
        expect(fresh).toBeInstanceOf(WebSocket);
        fresh.on('error', () => undefined);
        fresh.terminate();
      }),
      { numRuns: 8 },
    );
  });

  it('with ws\'s own server sending on connection, the same', async () => {
    const flood = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => SUBPROTOCOL });
    await once(flood, 'listening');
    cleanups.push(() => new Promise((r) => flood.close(r)));
    flood.on('connection', (ws) => {
      ws.on('error', () => undefined);
      ws.send(new Uint8Array(64));
    });
    const url = `ws://127.0.0.1:${(flood.address() as AddressInfo).port}`;
    const upgrade = startUpgrade(url, undefined);
    const early = connectStarted({ server: url, token: undefined, upgrade });
    await early.closed;
    expect(upgrade.outcome).toMatchObject({ kind: 'dropped' });
  });
});

describe('the handover to the transport', () => {
  it.each([
    ['after the 101 landed', true],
    ['while the upgrade still travels', false],
  ])('%s: the session runs on the early connection (one connection)', async (_name, waitFirst) => {
    const { server, createSession } = await serve({ authenticate: ({ token }) => token === 'good-token' && { account: 1 } });
    const early = connectStarted({ server: server.url, token: 'good-token', upgrade: startUpgrade(server.url, 'good-token') });
    if (waitFirst) expect(await early.opened).toBe(true);
    const result = await runClientSession(server.url, client(), { WebSocket: early.WebSocket, token: 'good-token' });
    expect(result).toMatchObject({ matches: expected });
    expect(early.state).toBe('handed-over');
    expect(createSession).toHaveBeenCalledTimes(1);
  });

  it('a dropped upgrade met after the handover: the transport gets a fresh connection and the session runs on it', async () => {
    const { server, createSession } = await serve();
    const target = new URL(server.url);
    // The first connection is answered with a wrong Sec-WebSocket-Accept; later ones go to the server.
    const raw = await rawServer((head, _key, socket, index) => {
      if (index === 0) {
        socket.write(switching('not the key'));
        return;
      }
      const up = connect(Number(target.port), target.hostname, () => up.write(head));
      socket.pipe(up).pipe(socket);
      up.on('error', () => socket.destroy());
    });
    const early = connectStarted({ server: raw.url, token: undefined, upgrade: startUpgrade(raw.url, undefined) });
    const result = await runClientSession(raw.url, client(), { WebSocket: early.WebSocket });
    expect(result).toMatchObject({ matches: expected });
    expect(early.state).toBe('replaced');
    expect(raw.connections()).toBe(2);
    expect(createSession).toHaveBeenCalledTimes(1);
  });

  it('closed by the transport (its timeout) while the upgrade still travels: the connection is closed, the transport reports its timeout', async () => {
    // A server that reads the request and never answers.
    let requestRead!: () => void;
    const reached = new Promise<void>((r) => (requestRead = r));
    const raw = await rawServer(() => requestRead());
    const upgrade = startUpgrade(raw.url, undefined);
    const early = connectStarted({ server: raw.url, token: undefined, upgrade });
    const clock = new FakeClock();
    const result = runClientSession(raw.url, client(), { WebSocket: early.WebSocket, clock, timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(early.state).toBe('handed-over');
    // The request reached the server: the upgrade travels, unanswered.
    await reached;
    expect(upgrade.outcome).toBeUndefined();
    clock.advance(1000);
    expect(await result).toMatchObject({ code: 'timeout' });
    await upgrade.closed;
    expect(upgrade.outcome).toMatchObject({ kind: 'dropped', reason: 'closed by the transport' });
  });

  it('asked with other options (another token), the transport gets a fresh socket and the early one is closed', async () => {
    const { server, createSession } = await serve({ authenticate: ({ token }) => (token === 'good-token' || token === 'other-token') && { account: 1 } });
    const early = connectStarted({ server: server.url, token: 'other-token', upgrade: startUpgrade(server.url, 'other-token') });
    expect(await early.opened).toBe(true);
    const result = await runClientSession(server.url, client(), { WebSocket: early.WebSocket, token: 'good-token' });
    expect(result).toMatchObject({ matches: expected });
    expect(early.state).toBe('replaced');
    await early.closed;
    expect(createSession).toHaveBeenCalledTimes(2);
  });

  it('discarded unused, the connection is closed; twice is harmless', async () => {
    const { server } = await serve();
    const early = connectStarted({ server: server.url, token: undefined, upgrade: startUpgrade(server.url, undefined) });
    expect(await early.opened).toBe(true);
    early.discard();
    early.discard();
    await early.closed;
    expect(early.state).toBe('discarded');
  });

  it('the socket ws takes over is configured as one ws opened itself (ws\'s private setSocket path, pinned ws version)', async () => {
    const { server } = await serve();
    const early = connectStarted({ server: server.url, token: undefined, upgrade: startUpgrade(server.url, undefined) });
    expect(await early.opened).toBe(true);
    const options = { headers: {}, maxPayload: DEFAULT_LIMITS.maxMessageBytes, perMessageDeflate: false };
    const held = new early.WebSocket(server.url, [SUBPROTOCOL], options as never) as unknown as { ws: WebSocket };
    const own = new WebSocket(server.url, [SUBPROTOCOL], options);
    await once(own, 'open');
    own.binaryType = 'arraybuffer'; // as the transport sets it
    const taken = held.ws;
    expect(taken.readyState).toBe(WebSocket.OPEN);
    const scalars = (o: object) =>
      Object.fromEntries(Object.entries(o).filter(([k, v]) => !['_url', '_eventsCount', '_closeTimer', '_req', '_redirects', '_bufferedAmount', '_originalIpc', '_originalSecure', '_originalHostOrSocketPath'].includes(k) && (v === null || typeof v !== 'object' || Array.isArray(v)) && typeof v !== 'function'));
    const internals = (w: WebSocket) => w as unknown as Record<string, object>;
    expect(scalars(internals(taken))).toEqual(scalars(internals(own)));
    expect(scalars(internals(taken)._receiver)).toEqual(scalars(internals(own)._receiver));
    expect(scalars(internals(taken)._sender)).toEqual(scalars(internals(own)._sender));
    expect(taken.protocol).toBe(SUBPROTOCOL);
    expect(taken.url).toBe(own.url);
    own.terminate();
    taken.terminate();
  });
});
