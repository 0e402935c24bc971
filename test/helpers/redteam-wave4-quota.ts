/**
 * Red team (wave 4, quota ledger's charged record): a hostile client that speaks the
 * discovery wire to the real DiscoveryServerSession by hand, so it can keep whichever
 * dir.receipt it likes (the one before the first charge, the one right after it, the last),
 * cut the session anywhere, and present any receipt it ever got. Deferred work (the charges,
 * the evaluations) runs in the order the session queues it, as the WebSocket pump does.
 */
import { decodeMessage, encodeMessage } from '../../src/protocol/codec.js';
import type { DiscoveryBackend } from '../../src/protocol/discovery/backend.js';
import { DEFAULT_DISCOVERY_LIMITS, discoverySchemas } from '../../src/protocol/discovery/messages.js';
import { chargeHashesHex, nextReceiptSets, type QuotaConfig, type QuotaReceipt } from '../../src/protocol/discovery/quota.js';
import { DiscoveryServerSession } from '../../src/protocol/discovery/server.js';
import { seededRng } from './rng.js';

const schemas = discoverySchemas(DEFAULT_DISCOVERY_LIMITS);
const DST = new TextEncoder().encode('redteam-wave4-quota-element');

/** A valid group element per number (what a client would blind; the server cannot tell). */
export function elements(backend: DiscoveryBackend, ids: readonly number[]): Uint8Array {
  const group = backend.current().suite.group;
  const size = group.elementSize;
  const out = new Uint8Array(ids.length * size);
  ids.forEach((id, i) => out.set(group.hashToGroup(new TextEncoder().encode(`e${id}`), DST), i * size));
  return out;
}

export interface WireReceipt {
  /** Order among the messages the server sent in this session. */
  readonly index: number;
  readonly type: 'dir.receipt' | 'dir.labels';
  readonly token: Uint8Array;
  readonly accepted: boolean;
  readonly generation: number;
  readonly chain: Uint8Array;
  /** dir.evaluated messages the server sent before this receipt (the chunks it covers). */
  readonly answeredBefore: number;
}

export interface HostileRun {
  /** Every receipt the server sent, in order (dir.receipt and the one in dir.labels). */
  readonly receipts: WireReceipt[];
  /** Elements answered (dir.evaluated), per chunk in order. */
  readonly answeredChunks: number;
  readonly evaluated: number;
  readonly error: { code: string } | undefined;
  readonly epoch: number;
}

export interface HostileSession {
  backend: DiscoveryBackend;
  config: QuotaConfig;
  account: string;
  presented?: QuotaReceipt;
  /** The chunks to send (each a list of element numbers), all pipelined after dir.quota. */
  chunks: readonly (readonly number[])[];
  /** Ask for labels (zero keys) at the end, to get the receipt over every chunk. */
  labels?: boolean;
  seed: number;
  now?: number;
}

/** One session: hello, quota, every chunk, (labels), then the server's deferred work run to the end. */
export async function hostileSession(s: HostileSession): Promise<HostileRun> {
  const now = s.now ?? 0;
  const server = new DiscoveryServerSession({ backend: s.backend, rng: seededRng(s.seed), now, quota: { account: s.account, config: s.config } });
  const view = s.backend.current();
  const sent: Record<string, unknown>[] = [];
  const drain = () => {
    for (let b = server.pollTransmit(); b; b = server.pollTransmit()) sent.push(decodeMessage<{ t: string }>(b, schemas, 1 << 30) as unknown as Record<string, unknown>);
  };
  const run = async () => {
    for (let w = server.pollWork(); w; w = server.pollWork()) await w(() => now);
    drain();
  };
  server.handle(encodeMessage({ t: 'dir.hello', suite: view.suite.id, purpose: 'sync' }), now);
  drain();
  const p = s.presented;
  if (p) server.handle(encodeMessage({ t: 'dir.quota', token: p.token, set: p.set, chain: p.chain, epoch: p.epoch, generation: p.generation, evaluated: p.evaluated }), now);
  s.chunks.forEach((chunk, seq) => server.handle(encodeMessage({ t: 'dir.evaluate', epoch: view.epoch, seq, blinded: elements(s.backend, chunk) }), now));
  drain();
  await run();
  await run();
  if (s.labels && !server.error) {
    server.handle(encodeMessage({ t: 'dir.labels.get', epoch: view.epoch, keys: new Uint8Array(0), format: 2 }), now);
    await run();
  }
  drain();
  const receipts: WireReceipt[] = [];
  let answeredChunks = 0;
  let evaluated = 0;
  let error: { code: string } | undefined;
  sent.forEach((m, index) => {
    if (m.t === 'dir.evaluated') {
      answeredChunks++;
      evaluated += (m.evaluated as Uint8Array).length / view.suite.group.elementSize;
    }
    if (m.t === 'error') error = { code: m.code as string };
    if ((m.t === 'dir.receipt' || m.t === 'dir.labels') && m.quotaToken) {
      receipts.push({ index, type: m.t, token: m.quotaToken as Uint8Array, accepted: m.tokenAccepted as boolean, generation: m.quotaGeneration as number, chain: m.quotaChain as Uint8Array, answeredBefore: answeredChunks });
    }
  });
  return { receipts, answeredChunks, evaluated, error, epoch: view.epoch };
}

/**
 * The full receipt a client holds for a wire receipt: the sets it computes itself
 * (nextReceiptSets) over the chunks answered before that receipt was sent.
 */
export function receiptOf(run: HostileRun, r: WireReceipt, presented: QuotaReceipt | undefined, chunkHashes: readonly (readonly string[])[]): QuotaReceipt {
  const sets = nextReceiptSets(presented, r.accepted, run.epoch, chunkHashes.slice(0, r.answeredBefore).flat());
  return { token: r.token, chain: r.chain, generation: r.generation, epoch: run.epoch, ...sets };
}

/** The charge hashes of each chunk, as the server computes them. */
export function chunkHashesOf(backend: DiscoveryBackend, chunks: readonly (readonly number[])[]): string[][] {
  const size = backend.current().suite.group.elementSize;
  return chunks.map((c) => chargeHashesHex(elements(backend, c), size));
}

/** The ledger as these tests drive it (structural: it moved from quota.ts to quota-ledger.ts while the lead fixed it). */
export interface LedgerLike {
  presentToken(receipt: QuotaReceipt): boolean;
  openChain(): { token: Uint8Array; generation: number; chain: Uint8Array } | undefined;
  charge(blinded: Uint8Array, size: number, now: number, precomputed?: readonly string[]): Promise<void>;
  issueToken(chunks?: number): { token: Uint8Array; generation: number; chain: Uint8Array } | undefined;
  readonly tokenAccepted: boolean | undefined;
  readonly counts: { charged: number; free: number; credited: number };
}
export type LedgerConstructor = new (config: QuotaConfig, account: string, purpose: 'sync' | 'lookup', epoch?: number, random?: (n: number) => Uint8Array) => LedgerLike;

/** QuotaLedger, from quota-ledger.ts if there is one, else from quota.ts (where 739e8b4 has it). */
export async function loadQuotaLedger(): Promise<LedgerConstructor> {
  const fromQuota = (await import('../../src/protocol/discovery/quota.js')) as unknown as { QuotaLedger?: LedgerConstructor };
  if (fromQuota.QuotaLedger) return fromQuota.QuotaLedger;
  const moved = '../../src/protocol/discovery/quota-ledger.js';
  return ((await import(/* @vite-ignore */ moved)) as { QuotaLedger: LedgerConstructor }).QuotaLedger;
}
