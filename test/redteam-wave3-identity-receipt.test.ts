/**
 * Red team (wave 3): outputs and receipts keyed by directory identity (751fe96).
 * A server at another URL that relays directory X (or replays X's public signed dir.info)
 * is "verified" as X; whatever receipt it hands out is saved under X's identity scope, which
 * every URL of X then presents.
 *
 * Regression test of the fix (src/browser/identity-share.ts, spec/sync-failover.md §1): X's URL
 * here is not declared (identity pinned on first use), so X's receipt and label checks are in
 * X's URL folder, and the relay's answers stay in its own. The property over falsifications,
 * declarations and orders is test/redteam-wave3-identity-relay.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSync } from '../src/browser/sync-core.js';
import { identityScope } from '../src/browser/sync-cache.js';
import { FileSyncCache } from '../src/client/file-sync-cache.js';
import { seededRng } from '../src/contacts/generate.js';
import { DirectoryDiscoveryBackend } from '../src/directory/discovery-backend.js';
import type { Directory } from '../src/directory/index.js';
import type { DirectoryUser } from '../src/directory/types.js';
import { encodeMessage } from '../src/protocol/codec.js';
import type { BucketPolicy, QuotaConfig } from '../src/protocol/discovery/quota.js';
import { DiscoveryServerSession } from '../src/protocol/discovery/server.js';
import { BEARER_PROTOCOL_PREFIX } from '../src/transport/ws/auth.js';
import type { WebSocketConstructor } from '../src/transport/ws/client-socket.js';
import { buildDirectory, decodeDiscovery, generateUsers, parsePlanned, smallBook } from './helpers/service.js';

const work = mkdtempSync(join(tmpdir(), 'contact-psi-rt3-identity-'));
const rng = seededRng(3301);
const users: DirectoryUser[] = generateUsers(rng, 200);
const POLICY: BucketPolicy = { capacity: 1_000_000, refillPerMs: 0 };
const tokenKey = new Uint8Array(32).fill(7);
let directory: Directory;
let backend: DirectoryDiscoveryBackend;
let quota: QuotaConfig;

beforeAll(async () => {
  directory = await buildDirectory(join(work, 'x'), users);
  backend = await DirectoryDiscoveryBackend.open(directory);
  quota = { store: directory, tokenKey, sync: POLICY };
}, 120_000);
afterAll(async () => {
  await directory?.close();
  rmSync(work, { recursive: true, force: true });
});

/** In-memory sockets to directory X; `mem://evil` relays X but rewrites the receipt in dir.labels. */
function socketTo(): WebSocketConstructor {
  return class MemorySocket {
    binaryType = 'arraybuffer';
    readonly bufferedAmount = 0;
    readyState = 0;
    private readonly listeners = new Map<string, ((event: unknown) => void)[]>();
    private readonly server: DiscoveryServerSession;
    private readonly evil: boolean;
    constructor(url: string, protocols?: string | string[]) {
      this.evil = url === 'mem://evil';
      const token = [protocols ?? []].flat().find((p) => p.startsWith(BEARER_PROTOCOL_PREFIX))?.slice(BEARER_PROTOCOL_PREFIX.length);
      this.server = new DiscoveryServerSession({ backend, rng: seededRng(3), now: 0, quota: token === undefined ? undefined : { account: token, config: quota } });
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
    send(data: Uint8Array): void {
      this.server.handle(new Uint8Array(data), 0);
      this.flush();
    }
    private flush(): void {
      for (let out = this.server.pollTransmit(); out !== undefined; out = this.server.pollTransmit()) {
        let bytes: Uint8Array = out.slice();
        if (this.evil) {
          const m = decodeDiscovery(bytes);
          // The relay's only change: a receipt it made up (it cannot MAC one; it does not need to).
          if (m.t === 'dir.labels') bytes = encodeMessage({ ...m, quotaToken: new Uint8Array(32).fill(0xee), tokenAccepted: true, quotaGeneration: 1 });
        }
        const data = bytes.slice().buffer;
        setImmediate(() => this.emit('message', { data }));
      }
      for (let work = this.server.pollWork(); work !== undefined; work = this.server.pollWork()) void work(() => 0).then(() => this.flush());
      while (this.server.pollEvent() !== undefined);
    }
    close(code?: number, reason?: string): void {
      this.readyState = 3;
      setImmediate(() => this.emit('close', { code: code ?? 1000, reason: reason ?? '' }));
    }
  } as unknown as WebSocketConstructor;
}

describe('identity-scoped receipt vs a relaying server at another URL', () => {
  it('a receipt made up by mem://evil must not replace the one directory X issued (X must still accept it)', async () => {
    const plan = smallBook(seededRng(8), users, { contacts: 20, registered: 12, unregistered: 10 });
    const book = parsePlanned(plan, 'csv', 'CH');
    const root = join(work, 'victim');
    const account = 'victim-account';
    const sync = (url: string) => runSync({ server: url, book, cache: new FileSyncCache(root, url), rng: seededRng(9), token: account, backend: 'sodium', WebSocket: socketTo() });

    const first = await sync('mem://x');
    expect(first.matches.length).toBeGreaterThan(0);
    const identity = (first as unknown as { result: { outputs: { identity: Uint8Array } } }).result.outputs.identity;
    const scope = identityScope(identity);
    const good = await new FileSyncCache(root, 'mem://x').loadReceipt('mem://x');
    expect(good).toBeDefined();

    // One sync against another URL that relays X (or replays its public signed dir.info).
    await sync('mem://evil');
    const after = await new FileSyncCache(root, 'mem://x').loadReceipt('mem://x');
    // BUG: the made-up token is now the receipt of identity X, for every URL of X.
    console.log('POISONED', after?.token[0] === 0xee);

    // Back on X with one more contact (charged, so X reads the receipt): every hash X charged
    // before must stay in the receipt, or the next rotation charges the whole book again.
    const more = parsePlanned([...plan, ...smallBook(seededRng(10), users, { contacts: 3, registered: 1, unregistered: 2 })], 'csv', 'CH');
    await runSync({ server: 'mem://x', book: more, cache: new FileSyncCache(root, 'mem://x'), rng: seededRng(9), token: account, backend: 'sodium', WebSocket: socketTo() });
    const final = await new FileSyncCache(root, 'mem://x').loadReceipt('mem://x');
    const hashes = (r: typeof good) => new Set(Array.from({ length: (r?.set.length ?? 0) / 8 }, (_, i) => Buffer.from(r!.set.subarray(i * 8, i * 8 + 8)).toString('hex')));
    const kept = hashes(final);
    console.log('GOOD', hashes(good).size, 'FINAL', kept.size);
    expect([...hashes(good)].filter((h) => !kept.has(h))).toEqual([]);
  }, 120_000);
});
