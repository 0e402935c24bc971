import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DiscoveryClientSession, type DiscoveryResult } from '../src/protocol/discovery/client.js';
import { DiscoveryServerSession } from '../src/protocol/discovery/server.js';
import { decodeMessage, encodeMessage } from '../src/protocol/codec.js';
import { DEFAULT_DISCOVERY_LIMITS, discoverySchemas } from '../src/protocol/discovery/messages.js';
import { ProtocolError } from '../src/protocol/errors.js';
import { runSessionPairAsync } from '../src/protocol/session-pair.js';
import { memoryBackend, type TestUser } from './helpers/discovery.js';
import { seededRng } from './helpers/rng.js';

const schemas = discoverySchemas(DEFAULT_DISCOVERY_LIMITS);
const decode = (b: Uint8Array) => decodeMessage<{ t: string } & Record<string, unknown>>(b, schemas, 1 << 30);

function sync(backend: ReturnType<typeof memoryBackend>, identifiers: string[], extra: Partial<ConstructorParameters<typeof DiscoveryClientSession>[0]> = {}, hooks = {}) {
  const client = new DiscoveryClientSession({ suite: backend.suite, identifiers, rng: seededRng(11), partBytes: 64, ...extra });
  const server = new DiscoveryServerSession({ backend: backend.backend, rng: seededRng(12), now: 0, limits: { maxChunkItems: 3 } });
  return runSessionPairAsync(client, server, 0, hooks);
}

const users: TestUser[] = [
  { userId: 'u1', identifiers: ['tel:+41791234567', 'mailto:alice@example.org'], label: 'pk-alice' },
  { userId: 'u2', identifiers: ['tel:+14155550100'], label: 'pk-bob' },
  { userId: 'u3', identifiers: ['tel:+33612345678'], label: 'pk-carol', discoverable: false },
];

describe('directory discovery session', () => {
  const dir = memoryBackend(users);

  it('finds exactly the registered, discoverable identifiers, with their labels', async () => {
    const out = await sync(dir, ['tel:+41791234567', 'tel:+33612345678', 'mailto:alice@example.org', 'tel:+10000000000', 'mailto:x@y.z']);
    expect(out.clientError).toBeUndefined();
    const r = out.clientResult!;
    expect(r.matches.map((m) => [m.identifier, m.userId, new TextDecoder().decode(m.label)]).sort()).toEqual([
      ['mailto:alice@example.org', 'u1', 'pk-alice'],
      ['tel:+41791234567', 'u1', 'pk-alice'],
    ]);
    expect(r.cacheHit).toBe(false);
    expect(r.downloadedBytes).toBe(dir.view.snapshot.bytes.length);
    expect(out.client.filter((e) => e.type === 'progress' && e.phase === 'download').length).toBeGreaterThan(1);
  });

  it('matches exactly the discoverable registered identifiers for generated directories', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 0, max: 200 }), { maxLength: 30 }), fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 30 }), fc.integer(), async (registered, contacts, seed) => {
        const us: TestUser[] = registered.map((n, i) => ({ userId: `u${n}`, identifiers: [`tel:+4179${n}`], label: `l${n}`, discoverable: i % 5 !== 0 }));
        const b = memoryBackend(us, { seed });
        const out = await sync(b, contacts.map((n) => `tel:+4179${n}`));
        const expected = us.filter((u) => u.discoverable).map((u) => u.identifiers[0]).filter((id) => contacts.some((n) => `tel:+4179${n}` === id));
        expect(out.clientResult!.matches.map((m) => m.identifier).sort()).toEqual([...new Set(expected)].sort());
      }),
      { numRuns: 6 },
    );
  });

  it('a cached snapshot with the same digest is not downloaded again', async () => {
    const first = (await sync(dir, ['tel:+14155550100'])).clientResult!;
    const second = await sync(dir, ['tel:+14155550100'], { cache: first.snapshot });
    expect(second.clientResult).toMatchObject({ cacheHit: true, downloadedBytes: 0 });
    expect(second.clientResult!.matches.map((m) => m.userId)).toEqual(['u2']);
    expect(second.client.some((e) => e.type === 'progress' && e.phase === 'download')).toBe(false);
  });

  it('a different pinned key, a tampered snapshot or tampered evaluations are detected', async () => {
    const other = memoryBackend(users, { seed: 99 });
    expect((await sync(dir, ['tel:+14155550100'], { pinnedPublicKey: other.keys.publicKey })).clientError?.code).toBe('proof_invalid');

    const flipPart = (b: Uint8Array) => {
      const m = decode(b);
      if (m.t !== 'dir.snapshot.part') return b;
      const data = (m.data as Uint8Array).slice();
      data[0] ^= 1;
      return encodeMessage({ ...m, data });
    };
    expect((await sync(dir, ['tel:+14155550100'], {}, { toClient: flipPart })).clientError?.code).toBe('bad_encoding');

    const flipEval = (b: Uint8Array) => {
      const m = decode(b);
      if (m.t !== 'dir.evaluated') return b;
      const proof = (m.proof as Uint8Array).slice();
      proof[5] ^= 1;
      return encodeMessage({ ...m, proof });
    };
    expect((await sync(dir, ['tel:+14155550100'], {}, { toClient: flipEval })).clientError?.code).toBe('proof_invalid');
  });

  it('a server evaluating with another key than the one in dir.info is caught by the proof', async () => {
    const other = memoryBackend(users, { seed: 42 });
    // The backend announces dir's key and snapshot but evaluates with other's key.
    const lyingView = { ...dir.view, keys: { ...other.keys, publicKey: dir.keys.publicKey } };
    const lying = { ...dir.backend, current: () => lyingView, epoch: () => lyingView };
    const client = new DiscoveryClientSession({ suite: dir.suite, identifiers: ['tel:+14155550100'], rng: seededRng(1) });
    const server = new DiscoveryServerSession({ backend: lying, rng: seededRng(2), now: 0 });
    expect((await runSessionPairAsync(client, server)).clientError?.code).toBe('proof_invalid');
  });

  it('hostile inputs to the server are coded errors', async () => {
    const bad: [Record<string, unknown>[], string][] = [
      [[{ t: 'dir.evaluate', epoch: 1, seq: 0, blinded: new Uint8Array(32) }], 'unexpected_message'],
      [[{ t: 'dir.hello', suite: 'ristretto255-SHA512' }, { t: 'dir.evaluate', epoch: 1, seq: 0, blinded: new Uint8Array(32) }], 'bad_element'],
      [[{ t: 'dir.hello', suite: 'ristretto255-SHA512' }, { t: 'dir.evaluate', epoch: 7, seq: 0, blinded: dir.suite.group.generator }], 'unsupported'],
      // (Label keys beyond what was evaluated or paid for: test/incremental-sync.test.ts, with quotas.)
      [[{ t: 'dir.hello', suite: 'ristretto255-SHA512' }, { t: 'dir.snapshot.get', epoch: 1, version: 1, offset: 1e9, length: 10 }], 'bad_field'],
    ];
    for (const [msgs, code] of bad) {
      const server = new DiscoveryServerSession({ backend: dir.backend, rng: seededRng(2), now: 0 });
      for (const m of msgs) server.handle(encodeMessage(m as { t: string }), 0);
      expect(server.error, JSON.stringify(msgs.map((m) => m.t))).toBeInstanceOf(ProtocolError);
      expect(server.error!.code).toBe(code);
    }
  });

  it('the result carries no secret: the server never sees identifiers, and a gate can refuse', async () => {
    const server = new DiscoveryServerSession({
      backend: dir.backend,
      rng: seededRng(2),
      now: 0,
      gate: () => {
        throw new ProtocolError('rate_limited', 'quota exhausted; retry after 3600 s');
      },
    });
    const client = new DiscoveryClientSession({ suite: dir.suite, identifiers: ['tel:+14155550100'], rng: seededRng(1) });
    const out = await runSessionPairAsync<DiscoveryResult, unknown>(client, server);
    expect(out.clientError).toMatchObject({ code: 'rate_limited', remote: true });
  });
});

describe('server defences found in review', () => {
  const dir = memoryBackend(users);

  it('a blinded element repeated within a session is refused', async () => {
    const server = new DiscoveryServerSession({ backend: dir.backend, rng: seededRng(2), now: 0 });
    const g = dir.suite.group.generator;
    server.handle(encodeMessage({ t: 'dir.hello', suite: 'ristretto255-SHA512' }), 0);
    server.handle(encodeMessage({ t: 'dir.evaluate', epoch: 1, seq: 0, blinded: new Uint8Array([...g, ...g]) }), 0);
    expect(server.error?.code).toBe('bad_field');
  });

  it('dir.delta.get is served at most once per session', async () => {
    const server = new DiscoveryServerSession({ backend: dir.backend, rng: seededRng(2), now: 0 });
    server.handle(encodeMessage({ t: 'dir.hello', suite: 'ristretto255-SHA512' }), 0);
    server.handle(encodeMessage({ t: 'dir.delta.get', epoch: 1, fromVersion: 1 }), 0);
    expect(server.error).toBeUndefined();
    server.handle(encodeMessage({ t: 'dir.delta.get', epoch: 1, fromVersion: 1 }), 0);
    expect(server.error?.code).toBe('unexpected_message');
  });

  it('a label that does not open is dropped and counted; the other matches stand', async () => {
    const client = new DiscoveryClientSession({ suite: dir.suite, identifiers: ['tel:+41791234567', 'tel:+14155550100'], rng: seededRng(1) });
    const server = new DiscoveryServerSession({ backend: dir.backend, rng: seededRng(2), now: 0 });
    const out = (await runSessionPairAsync<DiscoveryResult, unknown>(client, server, 0, {
      toClient: (b) => {
        const m = decode(b);
        if (m.t !== 'dir.labels') return b;
        // The first answer's seal starts after its 1-byte length (label-wire.ts): flip its first byte.
        const labels = (m.labels as Uint8Array).slice();
        labels[1] ^= 1;
        return encodeMessage({ ...m, labels });
      },
    }));
    expect(out.clientError).toBeUndefined();
    expect(out.clientResult!.badLabels).toBe(1);
    expect(out.clientResult!.matches).toHaveLength(1);
  });

  it('a cache whose version is newer than the server announces is a rollback: split_view', async () => {
    const first = (await sync(dir, ['tel:+14155550100'])).clientResult!;
    const out = await sync(dir, ['tel:+14155550100'], { cache: { ...first.snapshot, version: first.snapshot.version + 5 } });
    expect(out.clientError?.code).toBe('split_view');
  });
});
