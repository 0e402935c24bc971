/**
 * A sync cut off part-way, then retried on another server of the same directory (issue 11
 * §4, spec/sync-failover.md), without PostgreSQL: the real client sync (runSync of
 * src/browser/sync-core.ts over the Node FileSyncCache) against real DiscoveryServerSessions
 * over one SQLite directory, connected by an in-memory WebSocket that dies — as a node under
 * `kill -9` does — after an adversary-chosen number of messages (both directions counted):
 * the client sees the messages before the cut, then a close 1006; charges the server already
 * started still land in the store, their answers never leave.
 *
 * Properties (fast-check over book sizes, chunk sizes and cut points, which land before,
 * inside and after the evaluation phase: checked with fc.sample below):
 * - the retry on server B (same store, same identity, another URL) has the right matches;
 * - no element of the receipt the client kept is sent again (no receipted contact is
 *   charged twice), and of the elements whose evaluations reached the client before the
 *   cut, the retry sends again at most those whose labels the receipt cannot cover (known
 *   outputs that need a label beyond the label allowance: label-allowance.ts);
 * - the retry is charged exactly for what it sends (it charges nothing else);
 * - after it, server A evaluates nothing and charges nothing (the outputs are the
 *   directory's, not a URL's);
 * - server C of ANOTHER identity (a copy of the same database: same epoch, same OPRF key)
 *   reuses nothing: the whole book is evaluated, with blinded elements unrelated to A's, and
 *   A's receipt is not presented to it.
 * Also: a returning account cut after its first answers keeps what its held receipt covered
 * (the server's receipt after the first chunk); a cache of the earlier layout (outputs and
 * receipt under the URL) is still used; a server claiming the identity without its
 * signatures (forged, unsigned) is sent no receipt, no element, no lookup key.
 * On the code before this change (outputs and receipt per URL), the retry on B evaluated the
 * whole book again: the second property fails for every cut inside or after evaluation.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSync } from '../src/browser/sync-core.js';
import { identityScope } from '../src/browser/sync-cache.js';
import { clientAccountOf } from '../src/client/client-account.js';
import { FileSyncCache } from '../src/client/file-sync-cache.js';
import { outputCacheKey } from '../src/client/output-keys.js';
import { deviceSecret } from '../src/client/snapshot-cache.js';
import { uniqueIdentifiers } from '../src/contacts/index.js';
import { seededRng } from '../src/contacts/generate.js';
import { DirectoryDiscoveryBackend } from '../src/directory/discovery-backend.js';
import type { Directory } from '../src/directory/index.js';
import type { DirectoryUser } from '../src/directory/types.js';
import type { DiscoveryBackend } from '../src/protocol/discovery/backend.js';
import { chargeHash, hexOf, type BucketPolicy, type QuotaConfig } from '../src/protocol/discovery/quota.js';
import { DiscoveryServerSession } from '../src/protocol/discovery/server.js';
import { BEARER_PROTOCOL_PREFIX } from '../src/transport/ws/auth.js';
import type { WebSocketConstructor } from '../src/transport/ws/client-socket.js';
import { HostileBackend, identityOf } from './helpers/verify-integration.js';
import { buildDirectory, decodeDiscovery, expectedRows, generateUsers, openSqliteDirectory, parsePlanned, smallBook, type PlannedContact } from './helpers/service.js';

const work = mkdtempSync(join(tmpdir(), 'contact-psi-failover-'));
const rng = seededRng(1107);
const users: DirectoryUser[] = generateUsers(rng, 400);
// No refill: every charge is exact, whatever the time between syncs.
const POLICY: BucketPolicy = { capacity: 1_000_000, refillPerMs: 0 };
const tokenKey = new Uint8Array(32).fill(11);
const ELEMENT = 32;

let same: Directory;
let other: Directory;
/** url -> the backend and quota store behind it. */
const nodes = new Map<string, { backend: DiscoveryBackend; quota: QuotaConfig }>();

beforeAll(async () => {
  same = await buildDirectory(join(work, 'a'), users);
  await same.close();
  // Server C: the same database and OPRF key file, but no identity file: a fresh identity signs it.
  copyFileSync(join(work, 'a', 'directory.db'), join(work, 'c.db'));
  copyFileSync(join(work, 'a', 'directory.db.key'), join(work, 'c.db.key'));
  same = await openSqliteDirectory(join(work, 'a', 'directory.db'));
  other = await openSqliteDirectory(join(work, 'c.db'));
  const shared = await DirectoryDiscoveryBackend.open(same);
  const quota = { store: same, tokenKey, sync: POLICY };
  nodes.set('mem://a', { backend: shared, quota });
  nodes.set('mem://b', { backend: shared, quota });
  nodes.set('mem://c', { backend: await DirectoryDiscoveryBackend.open(other), quota: { store: other, tokenKey, sync: POLICY } });
  // Servers that claim A's identity without its signatures (spec/verifiability.md attacks).
  for (const kind of ['forgedSignature', 'unsigned'] as const) {
    nodes.set(`mem://${kind}`, { backend: new HostileBackend(shared, identityOf(1), { kind, plant: 'tel:+41790000000', hide: 0, flip: 7 }), quota });
  }
}, 120_000);

afterAll(async () => {
  await same?.close();
  await other?.close();
  rmSync(work, { recursive: true, force: true });
});

interface Logged {
  dir: 'up' | 'down';
  t: string;
  /** dir.evaluate: the chunk's charge hashes; dir.evaluated: its seq. */
  hashes?: string[];
  seq?: number;
  identity?: Uint8Array;
}

/**
 * In-memory WebSockets to the nodes above. `cutAfter` messages (both directions) go
 * through; the next one kills the node for this connection: nothing more is delivered
 * either way, and the client sees a close 1006 after what it was sent before.
 */
class Net {
  readonly log: Logged[] = [];
  /** Whether the node died (the cut came before the sync ended). */
  killed = false;
  private readonly inflight = new Set<Promise<void>>();

  constructor(private readonly cutAfter = Infinity) {}

  /** Waits for the server work still running (a charge started before the cut still lands). */
  async settled(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  get WebSocket(): WebSocketConstructor {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const net = this;
    return class MemorySocket {
      binaryType = 'arraybuffer';
      readonly bufferedAmount = 0;
      readyState = 0;
      private readonly listeners = new Map<string, ((event: unknown) => void)[]>();
      private readonly server: DiscoveryServerSession;
      private dead = false;

      constructor(url: string, protocols?: string | string[]) {
        const node = nodes.get(url)!;
        const token = [protocols ?? []].flat().find((p) => p.startsWith(BEARER_PROTOCOL_PREFIX))?.slice(BEARER_PROTOCOL_PREFIX.length);
        this.server = new DiscoveryServerSession({
          backend: node.backend,
          rng: seededRng(3),
          now: 0,
          quota: token === undefined ? undefined : { account: token, config: node.quota },
        });
        setImmediate(() => {
          this.readyState = 1;
          this.emit('open', {});
        });
      }

      addEventListener(type: string, listener: (event: never) => void): void {
        this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener as (event: unknown) => void]);
      }

      private emit(type: string, event: unknown): void {
        for (const l of this.listeners.get(type) ?? []) l(event);
      }

      /** One message through the link, or the node dies here. */
      private pass(dir: 'up' | 'down', bytes: Uint8Array): boolean {
        if (this.dead) return false;
        if (net.log.length >= net.cutAfter) {
          this.kill();
          return false;
        }
        const m = decodeDiscovery(bytes);
        const entry: Logged = { dir, t: m.t };
        if (m.t === 'dir.evaluate') entry.hashes = Array.from({ length: m.blinded.length / ELEMENT }, (_, i) => hexOf(chargeHash(m.blinded.subarray(i * ELEMENT, (i + 1) * ELEMENT))));
        if (m.t === 'dir.evaluated') entry.seq = m.seq;
        if (m.t === 'dir.info') entry.identity = m.identity;
        net.log.push(entry);
        return true;
      }

      send(data: Uint8Array): void {
        const bytes = new Uint8Array(data);
        if (!this.pass('up', bytes)) return;
        this.server.handle(bytes, 0);
        this.flush();
      }

      private flush(): void {
        for (let out = this.server.pollTransmit(); out !== undefined; out = this.server.pollTransmit()) {
          if (!this.pass('down', out)) return;
          const data = out.slice().buffer;
          setImmediate(() => this.emit('message', { data }));
        }
        for (let work = this.server.pollWork(); work !== undefined; work = this.server.pollWork()) {
          const running: Promise<void> = work(() => 0).then(() => this.flush());
          net.inflight.add(running);
          void running.finally(() => net.inflight.delete(running));
        }
        while (this.server.pollEvent() !== undefined);
      }

      /** kill -9: the server's queued answers never leave; the client sees the TCP connection drop. */
      private kill(): void {
        if (this.dead) return;
        this.dead = true;
        net.killed = true;
        this.readyState = 3;
        setImmediate(() => this.emit('close', { code: 1006, reason: '' }));
      }

      close(code?: number, reason?: string): void {
        if (this.dead) return;
        this.dead = true;
        this.readyState = 3;
        setImmediate(() => this.emit('close', { code: code ?? 1000, reason: reason ?? '' }));
      }
    } as unknown as WebSocketConstructor;
  }

  /** Charge hashes of the elements sent for evaluation. */
  sent(): string[] {
    return this.log.filter((m) => m.dir === 'up' && m.t === 'dir.evaluate').flatMap((m) => m.hashes!);
  }

  /** Charge hashes of the elements whose evaluation reached the client. */
  received(): string[] {
    const chunks = this.log.filter((m) => m.dir === 'up' && m.t === 'dir.evaluate');
    return this.log.filter((m) => m.dir === 'down' && m.t === 'dir.evaluated').flatMap((m) => chunks[m.seq!]!.hashes!);
  }

  /** Where the cut fell: before any evaluation reached the client, inside (some did), or after the last one. */
  phase(): 'before' | 'inside' | 'after' {
    const sent = this.log.filter((m) => m.dir === 'up' && m.t === 'dir.evaluate').length;
    const answered = this.log.filter((m) => m.dir === 'down' && m.t === 'dir.evaluated').length;
    return answered === 0 ? 'before' : answered < sent ? 'inside' : 'after';
  }
}

const spent = async (directory: Directory, account: string): Promise<number> => POLICY.capacity - ((await directory.getBucket(`sync:${account}`))?.tokens ?? POLICY.capacity);
const rowsOf = (matches: readonly { identifier: string; userId: string }[]) => new Set(matches.map((m) => `${m.identifier} ${m.userId}`));
const secureRng = seededRng(99);

interface Case {
  size: 'small' | 'large';
  /** The account synced half the book before (uncut): it holds a receipt when the cut comes. */
  returning?: boolean;
  chunk: number;
  /** The cut, in thousandths of the messages of the same sync uncut (above 1: never cut). */
  cut: number;
}

const books = new Map<string, { plan: PlannedContact[]; messages: number }>();
let accounts = 0;

/** A book per size: small (no running receipt: under 1,024 items), large (running receipts every 4 chunks). */
function bookOf(size: Case['size']): PlannedContact[] {
  let b = books.get(size);
  if (!b) {
    const r = seededRng(size === 'small' ? 5 : 6);
    const plan = size === 'small' ? smallBook(r, users, { contacts: 30, registered: 18, unregistered: 30 }) : smallBook(r, users, { contacts: 300, registered: 140, unregistered: 1000 });
    b = { plan, messages: 0 };
    books.set(size, b);
  }
  return b.plan;
}

async function runCase(c: Case) {
  const plan = bookOf(c.size);
  const book = parsePlanned(plan, 'csv', 'CH');
  const expected = rowsOf(expectedRows(plan, users));
  const account = `acct-${++accounts}`;
  const root = join(work, account);
  // A and B are declared nodes of one directory (what syncAcrossFleet passes): they share outputs,
  // label checks and receipt under the identity (spec/sync-failover.md §1). C is in the list too:
  // a declaration is by URL, and C's other identity still finds nothing of A's.
  const fleet = ['mem://a', 'mem://b', 'mem://c'];
  const sync = (url: string, net: Net, b = book) => runSync({ server: url, book: b, cache: new FileSyncCache(root, url), rng: secureRng, token: account, backend: 'sodium', chunkItems: c.chunk, WebSocket: net.WebSocket, fleet });
  const receiptSet = async (identity: Uint8Array | undefined): Promise<Set<string>> => {
    const receipt = identity ? await new FileSyncCache(root, 'mem://a').loadReceipt(identityScope(identity)) : undefined;
    const set = new Set<string>();
    for (let off = 0; receipt && off < receipt.set.length; off += 8) set.add(hexOf(receipt.set.subarray(off, off + 8)));
    return set;
  };

  // A returning account: half the book synced before, so it holds a receipt.
  let held = new Set<string>();
  if (c.returning) {
    const earlier = new Net();
    await sync('mem://a', earlier, parsePlanned(plan.slice(0, plan.length >> 1), 'csv', 'CH'));
    await earlier.settled();
    held = await receiptSet(earlier.log.find((m) => m.t === 'dir.info')?.identity);
    expect(held.size).toBe(earlier.sent().length);
  }

  // Uncut, the sync of this book takes `total` messages; the cut falls at a fraction of them.
  const total = c.cut > 1 ? Infinity : await countMessages(c, book);
  const charged0 = await spent(same, account);
  const first = new Net(Math.floor(c.cut * total));
  const firstOutcome = await sync('mem://a', first).catch((err: { code?: string }) => err);
  await first.settled();
  const charged1 = await spent(same, account);
  const identity = first.log.find((m) => m.t === 'dir.info')?.identity;
  const receipted = await receiptSet(identity);

  // The retry on B, the same directory behind another URL.
  const retry = new Net();
  const outcome = await sync('mem://b', retry);
  await retry.settled();
  expect(rowsOf(outcome.matches)).toEqual(expected);
  const sentAgain = retry.sent();
  // No receipted element evaluated (and charged) again.
  expect(sentAgain.filter((h) => receipted.has(h))).toEqual([]);
  // Of what reached the client before the cut, only outputs whose labels the receipt cannot cover are evaluated again.
  const received = new Set(first.received());
  const repeated = sentAgain.filter((h) => received.has(h)).length;
  // (labelsFetched: the lookup keys the retry asked for, known outputs' and new matches'.)
  expect(repeated).toBeLessThanOrEqual(Math.max(0, outcome.result.labelsFetched - receipted.size));
  // No element charged twice (spec/sync-failover.md §4). The dead node charged its chunks in
  // order, each element new (same epoch: nothing free), so what it charged is the first
  // `charged1 - charged0` elements sent; the retry is charged for exactly the rest of what it
  // sends: the dead node's charges are credited to the chain the client names, whether the
  // cut fell before the answers, between them, or before the client heard of its receipt.
  const chargedByDead = new Set(first.sent().slice(0, charged1 - charged0));
  expect((await spent(same, account)) - charged1).toBe(sentAgain.filter((h) => !chargedByDead.has(h)).length);
  // What the account held a receipt for is not forgotten once the cut sync's first answer
  // arrived (its receipt follows it: the first charge made the held one stale). Two answers
  // received means the receipt between them was too.
  if (first.log.filter((m) => m.dir === 'down' && m.t === 'dir.evaluated').length >= 2) {
    const kept = await receiptSet(identity);
    expect([...held].filter((h) => !kept.has(h))).toEqual([]);
  }

  // Back on A: the outputs are the directory's, nothing to evaluate or charge.
  const back = new Net();
  const before = await spent(same, account);
  const again = await sync('mem://a', back);
  await back.settled();
  expect(rowsOf(again.matches)).toEqual(expected);
  expect(back.sent()).toEqual([]);
  expect(await spent(same, account)).toBe(before);

  // C: another identity over the same database and OPRF key: nothing of A's is used or shown.
  const elsewhere = new Net();
  const foreign = await sync('mem://c', elsewhere);
  await elsewhere.settled();
  expect(rowsOf(foreign.matches)).toEqual(expected);
  const sentToC = elsewhere.sent();
  expect(sentToC.length).toBe(outcome.identifiersChecked);
  const seenByA = new Set([...first.sent(), ...retry.sent()]);
  expect(sentToC.filter((h) => seenByA.has(h))).toEqual([]);
  expect(elsewhere.log.some((m) => m.t === 'dir.quota')).toBe(false);
  // A cut before the end fails the first sync with a transport error the fleet client retries.
  if (first.killed) expect((firstOutcome as { code?: string }).code).toBe('closed');
  else expect(firstOutcome).toHaveProperty('matches');
  return { phase: c.cut > 1 ? ('uncut' as const) : first.phase(), repeated };
}

/** Messages of the same sync uncut (a throwaway account and cache; a returning one synced half the book first). */
async function countMessages(c: Case, book: ReturnType<typeof parsePlanned>): Promise<number> {
  return (await messageLog(c, book)).length;
}

/** A cut point in thousandths of the uncut sync's messages, uniform (no bias to the ends). */
const cutArb = (min: number) => fc.noBias(fc.integer({ min, max: 1000 })).map((k) => k / 1000);
const caseArb: fc.Arbitrary<Case> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ size: fc.constant('small' as const), returning: fc.boolean(), chunk: fc.constantFrom(4, 8, 16), cut: cutArb(0) }) },
  { weight: 1, arbitrary: fc.record({ size: fc.constant('large' as const), chunk: fc.constantFrom(128, 256), cut: cutArb(300) }) },
  { weight: 1, arbitrary: fc.record({ size: fc.constantFrom('small' as const, 'large' as const), chunk: fc.constant(128), cut: fc.constant(2) }) },
);

describe('a sync cut off part-way, retried on another server of the directory', () => {
  it('the generator reaches cuts before, inside and after the evaluation phase', async () => {
    const phases = new Set<string>();
    const returning = new Set<string>();
    for (const c of fc.sample(caseArb, { numRuns: 40, seed: 11 })) {
      if (c.cut > 1) continue;
      // Where the cut falls is a function of the message log of an uncut sync: classify from it.
      const book = parsePlanned(bookOf(c.size), 'csv', 'CH');
      const total = await countMessages(c, book);
      const log = await messageLog(c, book);
      const at = Math.floor(c.cut * total);
      const before = log.slice(0, at);
      const answered = before.filter((t) => t === 'down:dir.evaluated').length;
      const all = log.filter((t) => t === 'up:dir.evaluate').length;
      phases.add(answered === 0 ? 'before' : answered < all ? 'inside' : 'after');
      // A returning account cut after its first answer: what the held receipt covered must survive.
      if (c.returning) returning.add(answered >= 2 && at < total ? 'cut after its first answers' : 'other');
    }
    expect([...phases].sort()).toEqual(['after', 'before', 'inside']);
    expect(returning.has('cut after its first answers')).toBe(true);
  }, 300_000);

  it('retry: right matches, no receipted element charged twice, only what the receipt cannot cover evaluated again; another identity reuses nothing', async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const { phase } = await runCase(c);
        seen.add(phase);
      }),
      { numRuns: 12, seed: 20261202, endOnFailure: true },
    );
    expect(seen.has('inside') || seen.has('after')).toBe(true);
  }, 600_000);

  it('a cut after a running receipt: the retry evaluates exactly what the dead server did not answer', async () => {
    // Large book, chunks of 128: a running receipt after chunk 8 (1,024 items); cut after it.
    const c: Case = { size: 'large', chunk: 128, cut: 0 };
    const book = parsePlanned(bookOf('large'), 'csv', 'CH');
    const log = await messageLog(c, book);
    const receiptAt = log.indexOf('down:dir.receipt');
    expect(receiptAt).toBeGreaterThan(0);
    const total = await countMessages(c, book);
    const { repeated } = await runCase({ ...c, cut: (receiptAt + 1.5) / total });
    expect(repeated).toBe(0);
  }, 300_000);

  it('a returning account cut after its first answers: what its held receipt covered is still receipted after the retry', async () => {
    // The first charge of a session makes the held receipt stale (quota.ts generations): the
    // server sends a receipt after the first answer, so a cut after it loses nothing paid for.
    const c: Case = { size: 'small', returning: true, chunk: 4, cut: 0 };
    const book = parsePlanned(bookOf('small'), 'csv', 'CH');
    const log = await messageLog(c, book);
    const second = log.indexOf('down:dir.evaluated', log.indexOf('down:dir.evaluated') + 1);
    expect(second).toBeGreaterThan(0);
    const { phase } = await runCase({ ...c, cut: (second + 1) / log.length });
    expect(phase).toBe('inside');
  }, 300_000);

  it('a cache of the earlier layout (outputs and receipt in the URL folder) is still used: nothing evaluated or charged', async () => {
    const plan = bookOf('small');
    const book = parsePlanned(plan, 'csv', 'CH');
    const account = `legacy-${++accounts}`;
    const root = join(work, account);
    const url = 'mem://a';
    const sync = async () => {
      const net = new Net();
      // Declared (a fleet of one): the layout read from the URL is the declared URL's legacy path.
      const outcome = await runSync({ server: url, book, cache: new FileSyncCache(root, url), rng: secureRng, token: account, backend: 'sodium', WebSocket: net.WebSocket, fleet: [url] });
      await net.settled();
      return { outcome, net };
    };
    const { outcome: first } = await sync();
    // Rewrite what the sync kept as an earlier version kept it: under the URL, not the identity.
    const identity = first.result.outputs.identity!;
    const cache = new FileSyncCache(root, url);
    const key = outputCacheKey(deviceSecret(root), identity, clientAccountOf(account));
    const outputs = (await cache.loadOutputs(identityScope(identity), uniqueIdentifiers(book), () => key))!;
    const receipt = (await cache.loadReceipt(identityScope(identity)))!;
    await cache.saveOutputs(url, outputs, key);
    await cache.saveReceipt(url, receipt);
    await cache.reset(identityScope(identity));
    expect(await cache.loadReceipt(identityScope(identity))).toBeUndefined();

    const before = await spent(same, account);
    const { outcome, net } = await sync();
    expect(rowsOf(outcome.matches)).toEqual(rowsOf(first.matches));
    expect(net.sent()).toEqual([]);
    expect(await spent(same, account)).toBe(before);
  }, 300_000);

  it('a server that claims the identity without its signatures gets nothing of its cache: no receipt, no element', async () => {
    const plan = bookOf('small');
    const book = parsePlanned(plan, 'csv', 'CH');
    const account = `hostile-${++accounts}`;
    const root = join(work, account);
    const run = async (url: string) => {
      const net = new Net();
      const outcome = await runSync({ server: url, book, cache: new FileSyncCache(root, url), rng: secureRng, token: account, backend: 'sodium', WebSocket: net.WebSocket }).catch((err: { code?: string }) => err);
      await net.settled();
      return { outcome, net };
    };
    const honest = await run('mem://a');
    expect(honest.outcome).toHaveProperty('matches');
    for (const kind of ['forgedSignature', 'unsigned']) {
      const { outcome, net } = await run(`mem://${kind}`);
      expect((outcome as { code?: string }).code).toBe('bad_signature');
      // It saw a hello, then the client's error: no receipt, no blinded element, no lookup key.
      expect(net.log.filter((m) => m.dir === 'up').map((m) => m.t)).toEqual(['dir.hello', 'error']);
    }
  }, 300_000);
});

const logs = new Map<string, string[]>();
async function messageLog(c: Case, book: ReturnType<typeof parsePlanned>): Promise<string[]> {
  const key = `${c.size}/${c.chunk}/${c.returning === true}`;
  let log = logs.get(key);
  if (!log) {
    const account = `log-${++accounts}`;
    const run = async (b: ReturnType<typeof parsePlanned>) => {
      const net = new Net();
      await runSync({ server: 'mem://a', book: b, cache: new FileSyncCache(join(work, account), 'mem://a'), rng: secureRng, token: account, backend: 'sodium', chunkItems: c.chunk, WebSocket: net.WebSocket });
      await net.settled();
      return net;
    };
    if (c.returning) {
      const plan = bookOf(c.size);
      await run(parsePlanned(plan.slice(0, plan.length >> 1), 'csv', 'CH'));
    }
    log = (await run(book)).log.map((m) => `${m.dir}:${m.t}`);
    logs.set(key, log);
  }
  return log;
}
