/**
 * The discovery client against a hostile server (issue 9 §4, §3 labels): every field the
 * client parses from the server (dir.info, dir.delta, dir.snapshot.part, dir.evaluated,
 * dir.labels) is bounded, and a lie is refused with a coded error, within a memory bound,
 * before the client allocates or parses what the lie asks for. Driven message by message
 * (no socket): the "server" here is the test, answering with whatever it likes.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../src/protocol/codec.js';
import {
  DELTA_TAGS_PER_VERSION,
  DEFAULT_MAX_DOWNLOAD_BYTES,
  DiscoveryClientSession,
  type CachedSnapshot,
  type DiscoveryClientOptions,
  type DiscoveryResult,
} from '../src/protocol/discovery/client.js';
import { DiscoveryServerSession } from '../src/protocol/discovery/server.js';
import { DEFAULT_DISCOVERY_LIMITS, discoverySchemas, type DirInfo, type DiscoveryMessage } from '../src/protocol/discovery/messages.js';
import { ProtocolError } from '../src/protocol/errors.js';
import { readVarint, writeVarint } from '../src/protocol/discovery/labels.js';
import { runSessionPairAsync } from '../src/protocol/session-pair.js';
import { memoryBackend, type TestUser } from './helpers/discovery.js';
import { seededRng } from './helpers/rng.js';

const ids = Array.from({ length: 30 }, (_, i) => `tel:+4179${3000000 + i}`);
const users: TestUser[] = ids.map((id, i) => ({ userId: `u${i}`, identifiers: [id], label: `label ${i}` }));
const dir = memoryBackend(users);
const { suite, view } = dir;
const snap = view.snapshot;
const honestInfo: DirInfo = {
  t: 'dir.info',
  suite: suite.id,
  epoch: view.epoch,
  version: snap.version,
  publicKey: dir.keys.publicKey,
  digest: snap.digest,
  encoding: snap.encoding,
  count: snap.count,
  size: snap.bytes.length,
  chunk: 4096,
};
/** Anything the client may send, decoded without the limits a server would apply. */
const wide = discoverySchemas({ ...DEFAULT_DISCOVERY_LIMITS, maxLabelBytes: 1 << 30 });
/** The answers of a dir.labels (label-wire.ts: `varint(n) || n bytes` each). */
const answersOf = (m: { labels: Uint8Array }): Uint8Array[] => {
  const out: Uint8Array[] = [];
  for (let at = 0; at < m.labels.length; ) {
    const [n, next] = readVarint(m.labels, at, m.labels.length, 5)!;
    out.push(m.labels.subarray(next, next + n));
    at = next + n;
  }
  return out;
};
/** Packs answers as a hostile server would: whatever their sizes. */
const packRaw = (items: Uint8Array[]): Uint8Array => {
  const parts: Uint8Array[] = [];
  for (const s of items) {
    const v = new Uint8Array(5);
    parts.push(v.subarray(0, writeVarint(v, 0, s.length)), s);
  }
  return new Uint8Array(Buffer.concat(parts));
};

function honestSync(identifiers: string[], options: Partial<DiscoveryClientOptions> = {}, toClient?: (b: Uint8Array, i: number) => Uint8Array | undefined) {
  const client = new DiscoveryClientSession({ suite, identifiers, rng: seededRng(1), ...options });
  const server = new DiscoveryServerSession({ backend: dir.backend, rng: seededRng(2), now: 0 });
  return runSessionPairAsync<DiscoveryResult, unknown>(client, server, 0, { toClient });
}
const cache: CachedSnapshot = (await honestSync(ids)).clientResult!.snapshot;

/** A client whose "server" is the test. */
class Scripted {
  readonly client: DiscoveryClientSession;
  constructor(options: Partial<DiscoveryClientOptions> = {}) {
    this.client = new DiscoveryClientSession({ suite, identifiers: ids.slice(0, 3), rng: seededRng(7), ...options });
    this.client.start(0);
    this.sent();
  }
  /** Messages the client sent since the last call. */
  sent(): DiscoveryMessage[] {
    const out: DiscoveryMessage[] = [];
    for (let b = this.client.pollTransmit(); b; b = this.client.pollTransmit()) out.push(decodeMessage<DiscoveryMessage>(b, wide, 1 << 30));
    return out;
  }
  feed(msg: DiscoveryMessage | Record<string, unknown>): DiscoveryMessage[] {
    this.client.handle(encodeMessage(msg as DiscoveryMessage), 0);
    return this.sent();
  }
  get code(): string | undefined {
    return this.client.error?.code;
  }
}

const packed = (values: bigint[]): Uint8Array => {
  const out = new Uint8Array(values.length * 8);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setBigUint64(i * 8, v, false));
  return out;
};
const distinctSorted = (n: number, seed: number): bigint[] => {
  const r = seededRng(seed)(n * 8);
  const dv = new DataView(r.buffer);
  return [...new Set(Array.from({ length: n }, (_, i) => dv.getBigUint64(i * 8, false)))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
};

/** Extra memory (heap + array buffers) held after `f`, with a GC first if exposed. */
function extraMemory(f: () => void): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage();
  f();
  const after = process.memoryUsage();
  return after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
}

const MiB = 1024 * 1024;

describe('dir.delta from a hostile server', () => {
  it('the 60 MiB delta of random prefixes (issue 9): refused at once, nothing parsed', () => {
    const added = new Uint8Array(randomBytes(60 * MiB));
    const msg = encodeMessage({ t: 'dir.delta', epoch: 1, fromVersion: cache.version, toVersion: cache.version + 1, available: true, added, removed: new Uint8Array(0) } as DiscoveryMessage);
    const s = new Scripted({ cache });
    expect(s.feed({ ...honestInfo, version: cache.version + 1, digest: new Uint8Array(32).fill(9) })).toMatchObject([{ t: 'dir.delta.get' }]);
    const started = performance.now();
    const extra = extraMemory(() => s.client.handle(msg, 0));
    expect(performance.now() - started).toBeLessThan(1000);
    expect(s.code).toBe('too_large');
    expect(extra).toBeLessThan(64 * MiB);
  });

  it('a 60 MiB delta that dir.info makes look plausible (huge directory, huge version span) is not applied: the snapshot is downloaded instead', () => {
    // Sorted and distinct (the cheapest lie to check would be an unsorted one).
    const added = new Uint8Array(60 * MiB);
    const dv = new DataView(added.buffer);
    for (let off = 0, i = 0; off < added.length; off += 8, i++) dv.setUint32(off, i, false);
    const s = new Scripted({ cache });
    const info = { ...honestInfo, version: 2 ** 40, count: 150_000_000, size: 500 * MiB, digest: new Uint8Array(32).fill(9) };
    s.feed(info);
    const msg = encodeMessage({ t: 'dir.delta', epoch: 1, fromVersion: cache.version, toVersion: info.version, available: true, added, removed: new Uint8Array(0) } as DiscoveryMessage);
    let sent: DiscoveryMessage[] = [];
    const extra = extraMemory(() => {
      s.client.handle(msg, 0);
      sent = s.sent();
    });
    expect(s.code).toBeUndefined();
    expect(sent).toMatchObject([{ t: 'dir.snapshot.get', offset: 0 }]);
    expect(extra).toBeLessThan(64 * MiB);
  });

  /** One lie per case, everything else consistent; `cached` = entries at the cached version. */
  const cached = cache.infoCount!;
  const lie = fc.oneof(
    fc.record({ kind: fc.constant('unsorted'), n: fc.integer({ min: 2, max: 50 }) }),
    fc.record({ kind: fc.constant('duplicate'), n: fc.integer({ min: 1, max: 50 }) }),
    fc.record({ kind: fc.constant('overlap'), n: fc.integer({ min: 1, max: 50 }) }),
    fc.record({ kind: fc.constant('removes more than there were'), n: fc.integer({ min: cached + 1, max: cached + 200 }) }),
    fc.record({ kind: fc.constant('adds more than there are'), n: fc.integer({ min: 1, max: 200 }) }),
    fc.record({ kind: fc.constant('net change below the count difference'), n: fc.integer({ min: 1, max: 200 }) }),
    fc.record({ kind: fc.constant('more than 64 per version'), n: fc.integer({ min: DELTA_TAGS_PER_VERSION + 1, max: 400 }) }),
    fc.record({ kind: fc.constant('not smaller than the snapshot'), n: fc.integer({ min: 1, max: 200 }) }),
    fc.record({ kind: fc.constant('unavailable with prefixes'), n: fc.integer({ min: 1, max: 50 }) }),
  );

  it('every generated lying delta is refused with bad_field or too_large, never applied', () => {
    fc.assert(
      fc.property(lie, fc.integer({ min: 1, max: 1_000_000 }), ({ kind, n }, seed) => {
        const p = distinctSorted(n + 1, seed);
        const big = 10_000_000;
        let info = { ...honestInfo, version: cache.version + 1_000_000, count: big, size: big, digest: new Uint8Array(32).fill(7) };
        let added: bigint[] = p.slice(0, n);
        let removed: bigint[] = [];
        let available = true;
        switch (kind) {
          case 'unsorted':
            added = p.slice(0, n).reverse();
            break;
          case 'duplicate':
            added = [...p.slice(0, n), p[n - 1]];
            break;
          case 'overlap':
            removed = [p[0]];
            info = { ...info, count: cached + n };
            break;
          case 'removes more than there were':
            added = [];
            removed = p.slice(0, n);
            info = { ...info, count: 0 };
            break;
          case 'adds more than there are':
            info = { ...info, count: n - 1 };
            break;
          case 'net change below the count difference':
            info = { ...info, count: cached + n + 1 };
            break;
          case 'more than 64 per version':
            info = { ...info, version: cache.version + 1, count: cached + n };
            break;
          case 'not smaller than the snapshot':
            info = { ...info, count: cached + n, size: n * 8 };
            break;
          case 'unavailable with prefixes':
            available = false;
            break;
        }
        const s = new Scripted({ cache });
        expect(s.feed(info)).toMatchObject([{ t: 'dir.delta.get' }]);
        const sent = s.feed({ t: 'dir.delta', epoch: 1, fromVersion: cache.version, toVersion: info.version, available, added: packed(added), removed: packed(removed) });
        expect(s.client.currentState).toBe('failed');
        expect(['bad_field', 'too_large']).toContain(s.code);
        expect(s.client.error).toBeInstanceOf(ProtocolError);
        // Nothing was evaluated on the strength of the lie.
        expect(sent.filter((m) => m.t === 'dir.evaluate')).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('a consistent delta is applied; past maxDeltaPrefixes the client downloads instead', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 1_000_000 }), (a, cap, seed) => {
        const s = new Scripted({ cache, maxDeltaPrefixes: cap });
        const info = { ...honestInfo, version: cache.version + 1, count: cached + a, size: MiB, digest: new Uint8Array(32).fill(5) };
        s.feed(info);
        const sent = s.feed({ t: 'dir.delta', epoch: 1, fromVersion: cache.version, toVersion: info.version, available: true, added: packed(distinctSorted(a, seed)), removed: new Uint8Array(0) });
        expect(s.code).toBeUndefined();
        expect(sent[0].t).toBe(a > cap ? 'dir.snapshot.get' : 'dir.evaluate');
      }),
      { numRuns: 100 },
    );
  });
});

describe('dir.info and dir.snapshot.part from a hostile server', () => {
  it('a dir.info size over maxDownloadBytes is too_large before anything is requested or allocated', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 * MiB }), fc.integer({ min: 1, max: 64 * MiB }), (limit, over) => {
        const s = new Scripted({ maxDownloadBytes: limit });
        const sent = s.feed({ ...honestInfo, size: Math.min(limit + over, DEFAULT_DISCOVERY_LIMITS.maxSnapshotBytes) });
        expect(s.code).toBe('too_large');
        expect(sent.map((m) => m.t)).toEqual(['error']);
      }),
      { numRuns: 50 },
    );
    // Exactly at the limit is accepted (the download starts).
    const at = new Scripted({ maxDownloadBytes: 5000 });
    expect(at.feed({ ...honestInfo, size: 5000 })).toMatchObject([{ t: 'dir.snapshot.get', offset: 0 }]);
    for (const bad of [-1, 1.5, Number.NaN]) {
      expect(() => new DiscoveryClientSession({ suite, identifiers: [], rng: seededRng(1), maxDownloadBytes: bad })).toThrow(expect.objectContaining({ code: 'invalid_option' }));
      expect(() => new DiscoveryClientSession({ suite, identifiers: [], rng: seededRng(1), maxDeltaPrefixes: bad })).toThrow(expect.objectContaining({ code: 'invalid_option' }));
    }
    expect(DEFAULT_MAX_DOWNLOAD_BYTES).toBe(512 * MiB);
    // The default: a 1 GiB announcement is refused; one at the limit is accepted.
    const s = new Scripted();
    s.feed({ ...honestInfo, size: DEFAULT_MAX_DOWNLOAD_BYTES + 1 });
    expect(s.code).toBe('too_large');
  });

  it('announcing a 500 MiB snapshot costs the client nothing until the bytes arrive', () => {
    const s = new Scripted();
    let sent: DiscoveryMessage[] = [];
    const extra = extraMemory(() => (sent = s.feed({ ...honestInfo, size: 500 * MiB })));
    expect(sent).toMatchObject([{ t: 'dir.snapshot.get', offset: 0 }]);
    expect(extra).toBeLessThan(16 * MiB);
  });

  /** A sequence of parts, some honest and one lying; the buffer never exceeds 2x the bytes received (+1 MiB). */
  const partLie = fc.constantFrom('wrong offset', 'longer than requested', 'empty', 'past the announced size', 'wrong digest');
  it('generated lying parts are refused with a coded error; memory grows only with the bytes received', () => {
    fc.assert(
      fc.property(partLie, fc.integer({ min: 0, max: 5 }), fc.integer({ min: 64, max: 4096 }), (kind, honestParts, partBytes) => {
        const size = 50 * MiB;
        const s = new Scripted({ partBytes });
        let sent = s.feed({ ...honestInfo, size });
        let received = 0;
        for (let i = 0; i < honestParts; i++) {
          const get = sent.at(-1) as { offset: number; length: number };
          sent = s.feed({ t: 'dir.snapshot.part', offset: get.offset, data: new Uint8Array(get.length) });
          received += get.length;
        }
        const get = sent.at(-1) as { offset: number; length: number };
        const part =
          kind === 'wrong offset' ? { offset: get.offset + 1, data: new Uint8Array(get.length) }
          : kind === 'longer than requested' ? { offset: get.offset, data: new Uint8Array(get.length + 1) }
          : kind === 'empty' ? { offset: get.offset, data: new Uint8Array(0) }
          : kind === 'past the announced size' ? { offset: get.offset, data: new Uint8Array(get.length) }
          : { offset: get.offset, data: new Uint8Array(get.length) };
        if (kind === 'past the announced size' || kind === 'wrong digest') {
          // A small snapshot, so the next part reaches or passes its end.
          const t = new Scripted({ partBytes });
          const small = get.length + (kind === 'wrong digest' ? 0 : -1);
          const first = t.feed({ ...honestInfo, size: Math.max(1, small) })[0] as { length: number };
          t.feed({ t: 'dir.snapshot.part', offset: 0, data: new Uint8Array(kind === 'wrong digest' ? first.length : first.length + 1) });
          expect(['too_large', 'bad_encoding']).toContain(t.code);
          return;
        }
        s.feed({ t: 'dir.snapshot.part', ...part });
        expect(['unexpected_message', 'too_large', 'bad_field']).toContain(s.code);
        const buffer = (s.client as unknown as { download?: Uint8Array }).download;
        expect(buffer!.length).toBeLessThanOrEqual(2 * received + MiB);
      }),
      { numRuns: 200 },
    );
  });
});

describe('dir.evaluated and dir.labels from a hostile server', () => {
  it('an evaluation chunk of another size than requested, or out of order, is refused', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 }).filter((n) => n !== 3), fc.boolean(), (n, wrongSeq) => {
        const s = new Scripted({ cache });
        const sent = s.feed(honestInfo);
        expect(sent.map((m) => m.t)).toEqual(['dir.evaluate']);
        s.feed({ t: 'dir.evaluated', seq: wrongSeq ? 1 : 0, evaluated: new Uint8Array(32 * (wrongSeq ? 3 : n)), proof: new Uint8Array(64) });
        expect(s.code).toBe(wrongSeq ? 'unexpected_message' : 'bad_field');
      }),
      { numRuns: 40 },
    );
  });

  it('a sealed label over the client limit is dropped and counted; the other matches stand (issue 9 §3)', async () => {
    const wanted = ids.slice(0, 6);
    const out = await honestSync(wanted, {}, (bytes) => {
      const msg = decodeMessage<DiscoveryMessage>(bytes, wide, 1 << 30);
      if (msg.t !== 'dir.labels') return bytes;
      const labels = packRaw(answersOf(msg).map((s, i) => (i % 2 === 0 ? new Uint8Array(DEFAULT_DISCOVERY_LIMITS.maxLabelBytes + 1 + i) : s)));
      return encodeMessage({ ...msg, labels });
    });
    expect(out.clientError).toBeUndefined();
    const r = out.clientResult!;
    expect(r.oversizedLabels).toBe(3);
    expect(r.matches.map((m) => m.identifier).sort()).toEqual([wanted[1], wanted[3], wanted[5]]);
    // Exactly at the limit is not "oversized" (it is opened, and fails to open: a bad label).
    const atLimit = (await honestSync(wanted, {}, (bytes) => {
      const msg = decodeMessage<DiscoveryMessage>(bytes, wide, 1 << 30);
      if (msg.t !== 'dir.labels') return bytes;
      return encodeMessage({ ...msg, labels: packRaw(answersOf(msg).map((s, i) => (i === 0 ? new Uint8Array(DEFAULT_DISCOVERY_LIMITS.maxLabelBytes) : s))) });
    })).clientResult!;
    expect([atLimit.oversizedLabels, atLimit.badLabels, atLimit.matches.length]).toEqual([0, 1, 5]);
  });

  it('a dir.labels with another count than requested is bad_field; one over the message limit is still refused', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 20 }).filter((n) => n !== 4), async (n) => {
        const out = await honestSync(ids.slice(0, 4), {}, (bytes) => {
          const msg = decodeMessage<DiscoveryMessage>(bytes, wide, 1 << 30);
          return msg.t === 'dir.labels' ? encodeMessage({ ...msg, labels: packRaw(Array.from({ length: n }, () => new Uint8Array(10))) }) : bytes;
        });
        expect(out.clientError?.code).toBe('bad_field');
      }),
      { numRuns: 20 },
    );
    const out = await honestSync(ids.slice(0, 4), { limits: { maxMessageBytes: 64 * 1024 } }, (bytes) => {
      const msg = decodeMessage<DiscoveryMessage>(bytes, wide, 1 << 30);
      return msg.t === 'dir.labels' ? encodeMessage({ ...msg, labels: packRaw(answersOf(msg).map(() => new Uint8Array(20_000))) }) : bytes;
    });
    expect(out.clientError?.code).toBe('too_large');
  });
});
