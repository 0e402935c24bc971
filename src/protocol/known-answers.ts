/**
 * Known-answer vectors for the wire format (spec/vectors/). Everything here is a pure,
 * deterministic function: the "randomness" is a SHA-256 counter-mode stream seeded by a
 * label, which is fine for published test vectors and must never be used for real keys.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { nobleP256, nobleRistretto255 } from '../group/noble.js';
import type { Rng } from '../group/types.js';
import { ascii, concat, i2osp } from '../oprf/encoding.js';
import { createSuite, Modes, type Mode, type SuiteId } from '../oprf/suite.js';
import type { EncodingKind } from '../setenc/types.js';
import { ClientSession } from './client-session.js';
import { encodeMessage, type WireMessage } from './codec.js';
import type { PsiMode } from './messages.js';
import { ServerSession } from './server-session.js';
import { prepareServerSet } from './server-set.js';
import { runSessionPair } from './session-pair.js';

export function deterministicRng(label: string): Rng {
  let counter = 0;
  return (n) => {
    const out = new Uint8Array(n);
    for (let off = 0; off < n; off += 32) {
      out.set(sha256(concat(ascii(label), i2osp(counter++, 4))).subarray(0, Math.min(32, n - off)), off);
    }
    return out;
  };
}

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** JSON form of a message: byte strings (also inside arrays) become `{ "hex": "..." }`. */
function jsonable(message: WireMessage): Record<string, unknown> {
  const value = (v: unknown): unknown => (v instanceof Uint8Array ? { hex: hex(v) } : Array.isArray(v) ? v.map(value) : v);
  return Object.fromEntries(Object.entries(message as Record<string, unknown>).map(([k, v]) => [k, value(v)]));
}

export interface MessageVector {
  name: string;
  message: Record<string, unknown>;
  encoded: string;
}

export function messageVectors(): MessageVector[] {
  const g = nobleRistretto255.generator;
  const messages: [string, WireMessage][] = [
    ['hello', { t: 'psi.hello', suite: 'ristretto255-SHA512', mode: 'intersection', verifiable: true, encoding: 'gcs', fpr: 1e-9, total: 1024, chunk: 512 } as WireMessage],
    ['setup', { t: 'psi.setup', encoding: ascii('CPSE'), serverCount: 3, publicKey: g } as WireMessage],
    ['query', { t: 'psi.query', seq: 0, blinded: concat(g, g) } as WireMessage],
    ['evaluation', { t: 'psi.evaluation', seq: 0, evaluated: concat(g, g), proof: new Uint8Array(64).fill(1) } as WireMessage],
    ['error', { t: 'error', code: 'bad_element', message: 'element at index 1 is the identity' } as WireMessage],
  ];
  return messages.map(([name, m]) => ({ name, message: jsonable(m), encoded: hex(encodeMessage(m)) }));
}

/** One message of each directory-discovery type (spec/discovery.md §2). */
export function discoveryMessageVectors(): MessageVector[] {
  const g = nobleRistretto255.generator;
  const messages: [string, WireMessage][] = [
    ['hello', { t: 'dir.hello', suite: 'ristretto255-SHA512', purpose: 'sync' } as WireMessage],
    ['quota', { t: 'dir.quota', token: new Uint8Array(32).fill(9), set: new Uint8Array(16).fill(3) } as WireMessage],
    ['info', { t: 'dir.info', suite: 'ristretto255-SHA512', epoch: 3, version: 1234, publicKey: g, digest: new Uint8Array(32).fill(0xab), encoding: 'fuse', count: 1000, size: 4096, chunk: 4096 } as WireMessage],
    ['delta.get', { t: 'dir.delta.get', epoch: 3, fromVersion: 1200 } as WireMessage],
    ['delta', { t: 'dir.delta', epoch: 3, fromVersion: 1200, toVersion: 1234, available: true, added: new Uint8Array(16).fill(1), removed: new Uint8Array(8).fill(2) } as WireMessage],
    ['snapshot.get', { t: 'dir.snapshot.get', epoch: 3, version: 1234, offset: 0, length: 1048576 } as WireMessage],
    ['snapshot.part', { t: 'dir.snapshot.part', offset: 0, data: ascii('CPSE') } as WireMessage],
    ['evaluate', { t: 'dir.evaluate', epoch: 3, seq: 0, blinded: concat(g, g) } as WireMessage],
    ['evaluated', { t: 'dir.evaluated', seq: 0, evaluated: concat(g, g), proof: new Uint8Array(64).fill(1) } as WireMessage],
    // Label format 2: two 8-byte wire lookup keys; answers `varint(n) || n bytes` (a 52-byte seal, then none).
    ['labels.get', { t: 'dir.labels.get', epoch: 3, keys: new Uint8Array(16).fill(5), format: 2 } as WireMessage],
    ['labels', { t: 'dir.labels', format: 2, labels: concat(Uint8Array.of(52), new Uint8Array(52).fill(6), Uint8Array.of(0)), quotaToken: new Uint8Array(32).fill(7), tokenAccepted: true } as WireMessage],
    ['error', { t: 'error', code: 'rate_limited', message: 'quota exhausted', retryAfterMs: 3600000 } as WireMessage],
  ];
  return messages.map(([name, m]) => ({ name, message: jsonable(m), encoded: hex(encodeMessage(m)) }));
}

export interface SessionVectorCase {
  name: string;
  suite: SuiteId;
  oprfMode: Mode;
  mode: PsiMode;
  encoding: EncodingKind;
  chunkSize: number;
  client: string[];
  server: string[];
}

export const SESSION_CASES: SessionVectorCase[] = [
  { name: 'ristretto255-intersection-raw', suite: 'ristretto255-SHA512', oprfMode: Modes.OPRF, mode: 'intersection', encoding: 'raw', chunkSize: 2, client: ['tel:+41791234567', 'mailto:a@b.c', 'tel:+41790000000'], server: ['tel:+41791234567', 'tel:+14155550100', 'mailto:a@b.c'] },
  { name: 'ristretto255-voprf-gcs', suite: 'ristretto255-SHA512', oprfMode: Modes.VOPRF, mode: 'intersection', encoding: 'gcs', chunkSize: 2, client: ['alice', 'bob', 'carol'], server: ['bob', 'dave', 'carol', 'erin'] },
  { name: 'ristretto255-cardinality-bloom', suite: 'ristretto255-SHA512', oprfMode: Modes.OPRF, mode: 'cardinality', encoding: 'bloom', chunkSize: 4, client: ['a', 'b', 'c', 'd'], server: ['b', 'd', 'x'] },
  { name: 'p256-intersection-fuse', suite: 'P256-SHA256', oprfMode: Modes.OPRF, mode: 'intersection', encoding: 'fuse', chunkSize: 8, client: ['one', 'two'], server: ['two', 'three'] },
  { name: 'p256-voprf-raw', suite: 'P256-SHA256', oprfMode: Modes.VOPRF, mode: 'intersection', encoding: 'raw', chunkSize: 1, client: ['x', 'y'], server: ['y'] },
];

export interface SessionVector extends SessionVectorCase {
  transcript: { from: 'client' | 'server'; hex: string }[];
  result: unknown;
}

export function sessionVector(c: SessionVectorCase): SessionVector {
  const suite = createSuite(c.suite, c.oprfMode, c.suite === 'P256-SHA256' ? nobleP256 : nobleRistretto255);
  const serverRng = deterministicRng(`${c.name}/server`);
  const utf8 = (s: string) => ascii(s);
  const server = new ServerSession({ prepared: prepareServerSet(suite, c.server.map(utf8), serverRng), rng: serverRng, now: 0 });
  const client = new ClientSession({
    suite,
    items: c.client.map(utf8),
    mode: c.mode,
    encoding: c.encoding,
    falsePositiveRate: 1e-6,
    chunkSize: c.chunkSize,
    rng: deterministicRng(`${c.name}/client`),
  });
  const transcript: SessionVector['transcript'] = [];
  const outcome = runSessionPair(client, server, 0, {
    toServer: (b) => (transcript.push({ from: 'client', hex: hex(b) }), b),
    toClient: (b) => (transcript.push({ from: 'server', hex: hex(b) }), b),
  });
  return { ...c, transcript, result: outcome.clientResult ?? { error: outcome.clientError?.code } };
}

export const sessionVectors = (): SessionVector[] => SESSION_CASES.map(sessionVector);
