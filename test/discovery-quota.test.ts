import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DiscoveryClientSession, type DiscoveryResult, type KnownOutputs, type QuotaReceipt } from '../src/protocol/discovery/client.js';
import { DEFAULT_LOOKUP_POLICY, DEFAULT_SYNC_POLICY, type QuotaConfig } from '../src/protocol/discovery/quota.js';
import { DiscoveryServerSession } from '../src/protocol/discovery/server.js';
import { runSessionPairAsync } from '../src/protocol/session-pair.js';
import { MapQuotaStore, memoryBackend, type TestUser } from './helpers/discovery.js';
import { seededRng } from './helpers/rng.js';

const universe = Array.from({ length: 40 }, (_, i) => `tel:+4179${1000000 + i}`);
const users: TestUser[] = universe.filter((_, i) => i % 3 === 0).map((id, i) => ({ userId: `u${i}`, identifiers: [id], label: `l${i}` }));
const dir = memoryBackend(users);
const tokenKey = new Uint8Array(32).fill(7);

function syncOnce(config: QuotaConfig, contacts: string[], opts: { receipt?: QuotaReceipt; outputs?: KnownOutputs; secret?: Uint8Array; now?: number; purpose?: 'sync' | 'lookup'; account?: string } = {}) {
  const client = new DiscoveryClientSession({
    suite: dir.suite,
    identifiers: contacts,
    rng: seededRng(contacts.length),
    blindSecret: opts.secret ?? new Uint8Array(32).fill(1),
    quotaReceipt: opts.receipt,
    outputs: opts.outputs,
    purpose: opts.purpose,
  });
  const server = new DiscoveryServerSession({ backend: dir.backend, rng: seededRng(2), now: opts.now ?? 0, quota: { account: opts.account ?? 'alice', config } });
  return runSessionPairAsync<DiscoveryResult, unknown>(client, server, opts.now ?? 0).then((out) => ({ ...out, session: client }));
}

const spent = (store: MapQuotaStore, account = 'sync:alice') => DEFAULT_SYNC_POLICY.capacity - (store.buckets.get(account)?.tokens ?? DEFAULT_SYNC_POLICY.capacity);

describe('quotas against enumeration', () => {
  // Incremental sync (issue 10 §4): the client keeps its outputs of the epoch, so a re-sync
  // evaluates (and is charged for) only contacts not in its previous book.
  it('accounting is exact under random sync histories, and nothing is charged twice', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.subarray(universe, { maxLength: 25 }), { minLength: 1, maxLength: 5 }), async (books) => {
        const store = new MapQuotaStore();
        const config = { store, tokenKey };
        let receipt: QuotaReceipt | undefined;
        let outputs: KnownOutputs | undefined;
        let charged = 0;
        for (const book of books) {
          const before = spent(store);
          const out = await syncOnce(config, book, { receipt, outputs });
          expect(out.clientError).toBeUndefined();
          const fresh = book.filter((c) => !outputs?.entries.has(c));
          // Exactly the contacts without an output of this epoch are evaluated and charged (time is frozen: no refill).
          expect(spent(store) - before).toBe(new Set(fresh).size);
          expect(out.clientResult!.evaluated).toBe(new Set(fresh).size);
          charged += new Set(fresh).size;
          if (out.clientResult!.quotaReceipt) receipt = out.clientResult!.quotaReceipt;
          outputs = out.clientResult!.outputs;
        }
        expect(spent(store)).toBe(charged);
      }),
      { numRuns: 15 },
    );
  });

  it('a forged or stale receipt is not trusted: everything is charged again', async () => {
    const store = new MapQuotaStore();
    const config = { store, tokenKey };
    const first = (await syncOnce(config, universe.slice(0, 10))).clientResult!.quotaReceipt!;
    const forgedSet = first.set.slice();
    forgedSet[0] ^= 1;
    const out = await syncOnce(config, universe.slice(0, 10), { receipt: { ...first, set: forgedSet } });
    expect(spent(store)).toBe(20);
    // The token is bound to the account: another account cannot use it.
    await syncOnce(config, universe.slice(0, 10), { receipt: first, account: 'mallory' });
    expect(spent(store, 'sync:mallory')).toBe(10);
    // The new receipt starts over from this sync, and is honoured next time (nothing to evaluate again).
    const again = await syncOnce(config, universe.slice(0, 10), { receipt: out.clientResult!.quotaReceipt, outputs: out.clientResult!.outputs });
    expect(again.clientResult!.evaluated).toBe(0);
    expect(spent(store)).toBe(20);
  });

  it('going over the quota is rate_limited with a retry-after, and the refill lets the sync through', async () => {
    const store = new MapQuotaStore();
    const small = { capacity: 10, refillPerMs: 1 / 1000 };
    const config = { store, tokenKey, sync: small };
    const first = await syncOnce(config, universe.slice(0, 8));
    expect(first.clientError).toBeUndefined();
    const receipt = first.clientResult!.quotaReceipt;
    const outputs = first.clientResult!.outputs;
    // More new contacts than the whole bucket holds: refused, and no retry can help.
    expect((await syncOnce(config, universe.slice(20, 40), { receipt })).clientError).toMatchObject({ code: 'rate_limited', retryAfterMs: undefined });
    const over = await syncOnce(config, universe.slice(0, 14), { now: 0, receipt, outputs });
    expect(over.clientError).toMatchObject({ code: 'rate_limited', remote: true });
    const retry = over.clientError!.retryAfterMs!;
    expect(retry).toBeGreaterThan(0);
    // (6 new needed, 2 left: 4 more tokens at 1/s.)
    expect(retry).toBe(4000);
    // Each refused sync bumped the receipt generation: its receipt (sent before the error) is the one to present.
    const stillOver = await syncOnce(config, universe.slice(0, 14), { now: retry - 1, receipt: over.session.quotaReceipt ?? receipt, outputs });
    expect(stillOver.clientError?.code).toBe('rate_limited');
    const ok = await syncOnce(config, universe.slice(0, 14), { now: retry, receipt: stillOver.session.quotaReceipt ?? receipt, outputs });
    expect(ok.clientError).toBeUndefined();
  });

  it('one-off lookups have their own small bucket', async () => {
    const store = new MapQuotaStore();
    const config = { store, tokenKey };
    await syncOnce(config, universe.slice(0, 3), { purpose: 'lookup' });
    expect(store.buckets.get('lookup:alice')?.tokens).toBe(DEFAULT_LOOKUP_POLICY.capacity - 3);
    expect(store.buckets.has('sync:alice')).toBe(false);
  });
  // The enumeration figures of spec/discovery.md §9 are measured on the real charge path
  // (session + store + client) in test/enumeration-quota.test.ts, not simulated here.

});
