/**
 * Hostile peers against the WebSocket server, each while an honest client is connected
 * at the same time and still gets its result. Every failure reaches the peer as a
 * decodable `error` message with the code, then the close code from the table.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { nobleRistretto255 } from '../src/group/noble.js';
import { createSuite, Modes } from '../src/oprf/index.js';
import { ClientSession } from '../src/protocol/client-session.js';
import { Packr } from 'msgpackr';
import { decodeMessage, encodeMessage, WIRE_VERSION } from '../src/protocol/codec.js';
import { isProtocolErrorCode, type ProtocolErrorCode } from '../src/protocol/errors.js';
import { DEFAULT_LIMITS } from '../src/protocol/limits.js';
import { psiSchemas } from '../src/protocol/messages.js';
import { ServerSession } from '../src/protocol/server-session.js';
import { prepareServerSet } from '../src/protocol/server-set.js';
import type { SansIoSession, SessionEvent } from '../src/protocol/session-core.js';
import {
  closeCodeFor,
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

const suite = createSuite('ristretto255-SHA512', Modes.OPRF, nobleRistretto255);
const serverItems = Array.from({ length: 10 }, (_, i) => `user${i}@example.org`);
const clientItems = ['user3@example.org', 'nobody@example.org', 'user7@example.org'];
const expected = plainIntersection(clientItems, serverItems);
/** Plain msgpack, maps as Map: how a hostile peer in another language would encode. */
const rawPackr = new Packr({ useRecords: false, mapsAsObjects: false, moreTypes: false, variableMapSize: true });
const decode = (b: Uint8Array) => decodeMessage<{ t: string; code?: string }>(b, psiSchemas(DEFAULT_LIMITS), DEFAULT_LIMITS.maxMessageBytes);
const hello = (total: number, chunk: number) =>
  encodeMessage({ t: 'psi.hello', suite: suite.id, mode: 'intersection', verifiable: false, encoding: 'raw', fpr: 1e-6, total, chunk });
/** Valid blinded elements: hashes to the group (what an honest client sends). */
const validPoints = (n: number) => suite.group.hashToGroupBatch(Array.from({ length: n }, (_, i) => utf8(`p${i}`)), suite.hashToGroupDST);

const psiSession = ({ connectionId, now }: { connectionId: number; now: number }) => {
  const rng = seededRng(connectionId);
  return new ServerSession({ prepared: prepareServerSet(suite, serverItems.map(utf8), rng), rng, now });
};

const servers: PsiServer[] = [];
async function serve(options: Partial<ServerOptions> = {}): Promise<{ server: PsiServer; seen: SessionReport[] }> {
  const server = await startServer({ createSession: psiSession, heartbeatIntervalMs: 0, ...options });
  servers.push(server);
  const seen: SessionReport[] = [];
  server.on('session', (r) => seen.push(r));
  return { server, seen };
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close({ graceMs: 0 })));
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function rawPeer(url: string, options: WebSocket.ClientOptions = {}) {
  const ws = new WebSocket(url, [SUBPROTOCOL], options);
  const messages: Uint8Array[] = [];
  ws.on('message', (data) => messages.push(new Uint8Array(data as Buffer)));
  ws.on('error', () => {});
  const opened = new Promise<void>((resolve) => ws.once('open', () => resolve()));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  return { ws, messages, opened, closed };
}

/**
 * An honest client that connects now but holds its session back until released: it is
 * connected during the whole hostile exchange, and must still get the right answer.
 */
async function honestBystander(server: PsiServer) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  class Gated extends WebSocket {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- matching ws's overloads
    override addEventListener(type: string, listener: any, options?: any): void {
      const wrapped = type === 'open' ? (...args: unknown[]) => void gate.then(() => listener(...args)) : listener;
      super.addEventListener(type as 'open', wrapped, options);
    }
  }
  const before = server.connections;
  const session = new ClientSession({ suite, items: clientItems.map(utf8), rng: seededRng(99), chunkSize: 1 });
  const result = runClientSession(server.url, session, { WebSocket: Gated as unknown as WebSocketConstructor });
  await waitFor(() => server.connections > before);
  return {
    finish: async () => {
      release();
      expect(await result).toMatchObject({ matches: expected });
    },
  };
}

/** The peer got exactly one error message, with `code`, then the matching close code. */
async function expectCodedClose(peer: ReturnType<typeof rawPeer>, code: ProtocolErrorCode) {
  const closed = await peer.closed;
  expect(peer.messages.length).toBeGreaterThan(0);
  expect(decode(peer.messages.at(-1)!)).toMatchObject({ t: 'error', code });
  expect(closed).toEqual({ code: closeCodeFor(code), reason: code });
}

/** A msgpack value of any type and shape: nil, bool, ints of every width, floats, str, bin, arrays, maps. */
const msgpackValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.oneof(fc.constant(2 ** 32), fc.constant(-(2 ** 31) - 1), fc.constant(Number.MAX_SAFE_INTEGER), fc.nat({ max: 255 })),
    fc.double(),
    fc.string({ maxLength: 40 }),
    fc.uint8Array({ maxLength: 80 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.array(fc.tuple(fc.oneof(fc.string({ maxLength: 8 }), fc.integer()), tie('value')), { maxLength: 4 }).map((entries) => new Map(entries)),
  ),
})).value;

const realTypes = Object.keys(psiSchemas(DEFAULT_LIMITS));
const realFields = [...new Set(Object.values(psiSchemas(DEFAULT_LIMITS)).flatMap((schema) => Object.keys(schema)))];
/** Values that pass a real field's kind check more often than random ones do (so schema checks past the first field are reached). */
const plausibleValue = fc.oneof(
  fc.constantFrom(suite.id, 'intersection', 'raw', 'gcs', 'P256-SHA256', 'cardinality'),
  fc.nat({ max: 20 }),
  fc.constantFrom(1e-6, 0.5, -1, 2),
  fc.boolean(),
  fc.constant(validPoints(1)[0]),
  fc.uint8Array({ minLength: 32, maxLength: 32 }),
);
/**
 * Messages that look like ours: a map with `v` (usually the real version) and `t` (usually
 * a real type), then fields with real or random names and plausible or random values.
 */
const lookalikeMessage = fc
  .record({
    v: fc.oneof({ weight: 4, arbitrary: fc.constant(WIRE_VERSION) }, { weight: 1, arbitrary: msgpackValue }),
    t: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...realTypes) }, { weight: 1, arbitrary: msgpackValue }),
    fields: fc.array(
      fc.tuple(
        fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...realFields) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }),
        fc.oneof(plausibleValue, msgpackValue),
      ),
      { maxLength: 9 },
    ),
  })
  .map(({ v, t, fields }) => rawPackr.pack(new Map<unknown, unknown>([['v', v], ['t', t], ...fields])) as Uint8Array);
/** What a hostile peer sends: mostly look-alike messages, also raw bytes and random msgpack values. */
const hostileInput = fc.oneof(
  { weight: 6, arbitrary: lookalikeMessage },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 0, maxLength: 300 }) },
  { weight: 1, arbitrary: msgpackValue.map((value) => rawPackr.pack(value) as Uint8Array) },
);

describe('malformed input', () => {
  it('the hostile generator mostly reaches the schema checks (msgpack maps with a real v and t)', () => {
    const samples = fc.sample(hostileInput, { numRuns: 2000, seed: 11 });
    const decoded = samples.map((bytes) => {
      try {
        return rawPackr.unpack(bytes) as unknown;
      } catch {
        return undefined;
      }
    });
    const maps = decoded.filter((m): m is Map<unknown, unknown> => m instanceof Map);
    const lookalikes = maps.filter((m) => m.get('v') === WIRE_VERSION && realTypes.includes(m.get('t') as string));
    // fc.sample, 2,000 inputs: ~65% maps, ~50% with the real v and a real t (was 4 maps in 4,000).
    expect(maps.length).toBeGreaterThan(1000);
    expect(lookalikes.length).toBeGreaterThan(800);
  });

  it('random and look-alike messages: a coded error and its close code, never a crash (property)', async () => {
    const { server } = await serve();
    const bystander = await honestBystander(server);
    const codes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(hostileInput, async (bytes) => {
        const peer = rawPeer(server.url);
        await peer.opened;
        const first = new Promise<Uint8Array>((resolve) => peer.ws.once('message', (data) => resolve(new Uint8Array(data as Buffer))));
        peer.ws.send(bytes);
        const reply = decode(await first);
        if (reply.t !== 'error') {
          // A valid psi.hello by chance: the server answered it; the peer leaves.
          expect(reply.t).toBe('psi.setup');
          codes.set('accepted', (codes.get('accepted') ?? 0) + 1);
          peer.ws.close();
          await peer.closed;
          return;
        }
        const closed = await peer.closed;
        expect(isProtocolErrorCode(reply.code)).toBe(true);
        expect(closed).toEqual({ code: closeCodeFor(reply.code as ProtocolErrorCode), reason: reply.code });
        codes.set(reply.code!, (codes.get(reply.code!) ?? 0) + 1);
      }),
      { numRuns: 80, seed: 5 },
    );
    await bystander.finish();
    await waitFor(() => server.connections === 0);
    // The inputs reached every check of the decoder, not only "not msgpack": version, type, schema.
    expect([...codes.keys()]).toEqual(expect.arrayContaining(['malformed', 'bad_version', 'unknown_type', 'bad_field']));
    expect(codes.get('bad_field')).toBeGreaterThan(20);
  });

  it('a text frame is malformed (4400)', async () => {
    const { server, seen } = await serve();
    const bystander = await honestBystander(server);
    const peer = rawPeer(server.url);
    await peer.opened;
    peer.ws.send('{"t":"psi.hello"}');
    await expectCodedClose(peer, 'malformed');
    await bystander.finish();
    await waitFor(() => seen.length === 2);
    expect(seen.find((r) => r.outcome === 'failed')).toMatchObject({ code: 'malformed', remote: false });
  });

  it('messages in the wrong order: unexpected_message (4409)', async () => {
    const { server } = await serve();
    const bystander = await honestBystander(server);
    const peer = rawPeer(server.url);
    await peer.opened;
    peer.ws.send(encodeMessage({ t: 'psi.query', seq: 0, blinded: validPoints(1) }));
    await expectCodedClose(peer, 'unexpected_message');
    // And a second hello after the first.
    const twice = rawPeer(server.url);
    await twice.opened;
    twice.ws.send(hello(2, 2));
    twice.ws.send(hello(2, 2));
    await expectCodedClose(twice, 'unexpected_message');
    expect(decode(twice.messages[0]).t).toBe('psi.setup');
    await bystander.finish();
  });

  it('invalid and identity points: bad_element (4424)', async () => {
    const { server } = await serve();
    const bystander = await honestBystander(server);
    for (const bad of [new Uint8Array(32), new Uint8Array(32).fill(0xff)]) {
      const peer = rawPeer(server.url);
      await peer.opened;
      peer.ws.send(hello(2, 2));
      const points = validPoints(2);
      points.set(bad, 32);
      peer.ws.send(encodeMessage({ t: 'psi.query', seq: 0, blinded: points }));
      await expectCodedClose(peer, 'bad_element');
    }
    await bystander.finish();
  });
});

describe('limits', () => {
  it('a frame over maxPayloadBytes is refused by ws as soon as its length is known (1009)', async () => {
    const { server, seen } = await serve({ maxPayloadBytes: 64 * 1024 });
    const bystander = await honestBystander(server);
    const peer = rawPeer(server.url);
    await peer.opened;
    peer.ws.send(new Uint8Array(64 * 1024 + 1));
    expect((await peer.closed).code).toBe(1009);
    await bystander.finish();
    await waitFor(() => seen.length === 2);
    expect(seen.find((r) => r.outcome === 'failed')).toMatchObject({ code: 'too_large' });
  });

  it('a stalled peer times out with a coded error (4408), before and mid-query', async () => {
    const { server, seen } = await serve({ idleTimeoutMs: 400 });
    const silent = rawPeer(server.url);
    const midQuery = rawPeer(server.url);
    await Promise.all([silent.opened, midQuery.opened]);
    midQuery.ws.send(hello(3, 1));
    midQuery.ws.send(encodeMessage({ t: 'psi.query', seq: 0, blinded: validPoints(1) }));
    // The bystander connects while both stall and finishes before its own idle timeout.
    const bystander = await honestBystander(server);
    await bystander.finish();
    await expectCodedClose(silent, 'timeout');
    await expectCodedClose(midQuery, 'timeout');
    expect(midQuery.messages.map((m) => decode(m).t)).toEqual(['psi.setup', 'psi.evaluation', 'error']);
    await waitFor(() => seen.length === 3);
    expect(seen.filter((r) => r.code === 'timeout')).toHaveLength(2);
  });

  it('a peer that disconnects mid-query: the session is aborted with closed, the count returns to 0', async () => {
    const { server, seen } = await serve();
    const bystander = await honestBystander(server);
    const peer = rawPeer(server.url);
    await peer.opened;
    peer.ws.send(hello(4, 1));
    peer.ws.send(encodeMessage({ t: 'psi.query', seq: 0, blinded: validPoints(1) }));
    await waitFor(() => peer.messages.length === 2);
    expect(server.connections).toBe(2);
    peer.ws.terminate();
    await waitFor(() => seen.length === 1);
    expect(seen[0]).toMatchObject({ outcome: 'failed', code: 'closed', messagesIn: 2 });
    await bystander.finish();
    await waitFor(() => server.connections === 0);
  });
});

/**
 * A session that answers every message with 256 KiB: with a peer that never reads, an
 * unthrottled server would buffer 256 KiB per message it reads.
 */
class Amplifier implements SansIoSession<never> {
  static readonly REPLY = 256 * 1024;
  handled = 0;
  private owed = 0;
  private failure: SansIoSession['error'];
  private readonly events: SessionEvent<never>[] = [];
  handle(): void {
    this.handled++;
    this.owed++;
  }
  handleTimeout(): void {}
  pollTransmit(): Uint8Array | undefined {
    if (this.failure) return undefined;
    if (this.owed === 0) return undefined;
    this.owed--;
    return new Uint8Array(Amplifier.REPLY);
  }
  pollEvent() {
    return this.events.shift();
  }
  pollTimeout(): number | undefined {
    return undefined;
  }
  abort(error: NonNullable<SansIoSession['error']>): void {
    this.failure ??= error;
    this.events.push({ type: 'failed', error });
  }
  isFinished(): boolean {
    return false;
  }
  get currentState() {
    return this.failure ? 'failed' : 'amplifying';
  }
  get error() {
    return this.failure;
  }
}

describe('backpressure', () => {
  it('a peer that pipelines requests and never reads: reading pauses, buffered output stays bounded', async () => {
    const highWaterMarkBytes = 256 * 1024;
    const amplifiers: Amplifier[] = [];
    const { server, seen } = await serve({
      highWaterMarkBytes,
      idleTimeoutMs: 1500,
      closeTimeoutMs: 200,
      authenticate: ({ token }) => token ?? 'honest',
      createSession: (ctx) => {
        if (ctx.auth !== 'amplify') return psiSession(ctx);
        const amp = new Amplifier();
        amplifiers.push(amp);
        return amp;
      },
    });
    const paused: boolean[] = [];
    server.on('backpressure', (e) => paused.push(e.paused));

    const peer = rawPeer(server.url, { headers: { Authorization: 'Bearer amplify' } });
    await peer.opened;
    peer.ws.pause(); // never read
    const requests = 2000;
    for (let i = 0; i < requests; i++) peer.ws.send(new Uint8Array(16 * 1024));

    let maxBuffered = 0;
    const sampler = setInterval(() => {
      for (const s of server.connectionStats()) maxBuffered = Math.max(maxBuffered, s.bufferedAmount);
    }, 2);
    await waitFor(() => server.connectionStats().some((s) => s.readingPaused));
    await new Promise((r) => setTimeout(r, 500));

    // An honest client is served meanwhile.
    const bystander = await honestBystander(server);
    await bystander.finish();
    clearInterval(sampler);

    const amp = amplifiers[0];
    expect(paused[0]).toBe(true);
    // Without the pause it would have read all 2000 (32 MiB in, 500 MiB owed).
    expect(amp.handled).toBeLessThan(requests / 4);
    // Pulls stop at the mark, so at most one reply (plus a frame header) goes past it.
    expect(maxBuffered).toBeLessThan(highWaterMarkBytes + Amplifier.REPLY + 1024);

    // No progress for idleTimeoutMs: the server fails the session and drops the socket.
    await waitFor(() => server.connections === 0);
    expect(seen.find((r) => r.code !== undefined)).toMatchObject({ outcome: 'failed', code: 'timeout' });
    peer.ws.terminate();
  });
});
