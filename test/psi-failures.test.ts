import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nobleRistretto255 } from '../src/group/noble.js';
import { createSuite, Modes } from '../src/oprf/index.js';
import { ClientSession } from '../src/protocol/client-session.js';
import { decodeMessage, encodeMessage } from '../src/protocol/codec.js';
import { DEFAULT_LIMITS } from '../src/protocol/limits.js';
import { psiSchemas } from '../src/protocol/messages.js';
import { ServerSession } from '../src/protocol/server-session.js';
import { prepareServerSet } from '../src/protocol/server-set.js';
import { runSessionPair } from '../src/protocol/session-pair.js';
import { runPsi, utf8 } from './helpers/psi.js';
import { seededRng } from './helpers/rng.js';

const schemas = psiSchemas(DEFAULT_LIMITS);
const decode = (b: Uint8Array) => decodeMessage<{ t: string } & Record<string, unknown>>(b, schemas, DEFAULT_LIMITS.maxMessageBytes);
const suite = createSuite('ristretto255-SHA512', Modes.OPRF, nobleRistretto255);

function freshServer(items = ['a', 'b', 'c'], seed = 1) {
  const rng = seededRng(seed);
  return new ServerSession({ prepared: prepareServerSet(suite, items.map(utf8), rng), rng, now: 0 });
}

const hello = { t: 'psi.hello', suite: 'ristretto255-SHA512', mode: 'intersection', verifiable: false, encoding: 'raw', fpr: 1e-6, total: 2, chunk: 2 };

describe('key-bound', () => {
  it('evaluations under another key than the setup find no matches', () => {
    const items = ['a', 'b', 'c'];
    const rng = seededRng(3);
    const honest = new ServerSession({ prepared: prepareServerSet(suite, items.map(utf8), rng), rng, now: 0 });
    const other = new ServerSession({ prepared: prepareServerSet(suite, items.map(utf8), rng), rng, now: 0 });
    const client = new ClientSession({ suite, items: items.map(utf8), rng });
    client.start(0);
    const helloBytes = client.pollTransmit()!;
    honest.handle(helloBytes, 0);
    other.handle(helloBytes, 0);
    other.pollTransmit(); // the other server's setup is dropped
    client.handle(honest.pollTransmit()!, 0); // setup (encoding) from the honest key
    const out = runSessionPair(client, other); // evaluations from the other key
    expect(out.clientResult).toMatchObject({ matches: [] });
  });
});

describe('failures are coded, reported to the peer, and final', () => {
  it('a message in the wrong state fails with unexpected_message and the session stays failed', () => {
    const server = freshServer();
    server.handle(encodeMessage({ t: 'psi.query', seq: 0, blinded: new Uint8Array(32) }), 0);
    expect(server.currentState).toBe('failed');
    expect(server.error?.code).toBe('unexpected_message');
    expect(server.error?.message).toMatch(/server in state awaiting_hello cannot accept psi.query/);
    expect(decode(server.pollTransmit()!)).toMatchObject({ t: 'error', code: 'unexpected_message' });
    // Later input, even valid, is ignored; nothing more is sent.
    server.handle(encodeMessage(hello), 1);
    expect(server.currentState).toBe('failed');
    expect(server.pollTransmit()).toBeUndefined();
    const events = [server.pollEvent(), server.pollEvent()];
    expect(events[0]).toMatchObject({ type: 'failed' });
    expect(events[1]).toBeUndefined();
  });

  it('invalid or identity points are refused with bad_element', () => {
    fc.assert(
      fc.property(fc.constantFrom(new Uint8Array(32), new Uint8Array(32).fill(0xff)), (bad) => {
        const server = freshServer();
        server.handle(encodeMessage(hello), 0);
        server.pollTransmit();
        const blinded = new Uint8Array(64);
        blinded.set(suite.group.generator);
        blinded.set(bad, 32);
        server.handle(encodeMessage({ t: 'psi.query', seq: 0, blinded }), 0);
        expect(server.error?.code).toBe('bad_element');
        expect(server.error?.remote).toBe(false);
      }),
    );
  });

  it('more items than announced, wrong sequence numbers and ragged batches are refused', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ t: 'psi.query', seq: 0, blinded: new Uint8Array(96) }, 'bad_field'],
      [{ t: 'psi.query', seq: 1, blinded: new Uint8Array(32) }, 'unexpected_message'],
      [{ t: 'psi.query', seq: 0, blinded: new Uint8Array(33) }, 'bad_field'],
      [{ t: 'psi.query', seq: 0, blinded: new Uint8Array(0) }, 'bad_field'],
    ];
    for (const [msg, code] of cases) {
      const server = freshServer();
      server.handle(encodeMessage(hello), 0);
      server.handle(encodeMessage(msg as { t: string }), 0);
      expect(server.error?.code, JSON.stringify(msg.t)).toBe(code);
    }
  });

  it('an unsupported suite or mode is refused with unsupported', () => {
    for (const h of [{ ...hello, suite: 'P256-SHA256' }, { ...hello, verifiable: true }]) {
      const server = freshServer();
      server.handle(encodeMessage(h), 0);
      expect(server.error?.code).toBe('unsupported');
    }
  });

  it('an error from the peer fails the client as remote, without an answer', () => {
    const out = runPsi({ client: ['a'], server: ['a'], options: { encoding: 'raw' }, hooks: { toServer: (b, i) => (i === 0 ? encodeMessage({ ...hello, suite: 'P256-SHA256' }) : b) } });
    expect(out.serverError?.code).toBe('unsupported');
    expect(out.clientError).toMatchObject({ code: 'unsupported', remote: true });
  });

  it('a corrupted set encoding is refused with bad_encoding', () => {
    const out = runPsi({
      client: ['a'],
      server: ['a', 'b'],
      hooks: {
        toClient: (b, i) => {
          if (i !== 0) return b;
          const m = decode(b) as { t: string; encoding: Uint8Array; serverCount: number };
          return encodeMessage({ ...m, encoding: m.encoding.subarray(0, m.encoding.length - 3) });
        },
      },
    });
    expect(out.clientError?.code).toMatch(/bad_encoding|too_large/);
  });

  it('a stalled peer fails with timeout at the deadline, not before', () => {
    const server = freshServer();
    expect(server.pollTimeout()).toBe(30_000);
    server.handleTimeout(29_999);
    expect(server.currentState).toBe('awaiting_hello');
    server.handleTimeout(30_000);
    expect(server.error?.code).toBe('timeout');
    expect(server.pollTimeout()).toBeUndefined();
  });

  it('random message sequences never throw out of handle()', () => {
    const anyMessage = fc.oneof(
      fc.constant(encodeMessage(hello)),
      fc.record({ seq: fc.nat(4), n: fc.nat(4) }).map(({ seq, n }) => encodeMessage({ t: 'psi.query', seq, blinded: new Uint8Array(32 * n) })),
      fc.uint8Array({ maxLength: 64 }),
    );
    fc.assert(
      fc.property(fc.array(anyMessage, { maxLength: 6 }), (msgs) => {
        const server = freshServer();
        for (const m of msgs) server.handle(m, 0);
        expect(['awaiting_hello', 'awaiting_queries', 'done', 'failed']).toContain(server.currentState);
      }),
      { numRuns: 200 },
    );
  });
});

describe('an encoding that cannot reach the requested rate', () => {
  it('is refused with unsupported, naming the alternatives, not as a broken encoding', () => {
    const server = freshServer();
    // 2^-40 per lookup is beyond a fuse filter's 32-bit fingerprints.
    server.handle(encodeMessage({ ...hello, encoding: 'fuse', fpr: 2 ** -40, total: 1 }), 0);
    expect(server.error?.code).toBe('unsupported');
    expect(server.error?.message).toMatch(/gcs or raw/);
  });
});
