/**
 * Background scheduling of the client SDK on a fake clock: the first sync after start,
 * the 24 h cadence inside its jitter bounds, change-triggered syncs only when the set of
 * identifiers changed (debounced), exponential backoff (capped) with retryAfterMs
 * honoured, and a schedule that survives a restart of the SDK.
 */
import fc from 'fast-check';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  backoffCeiling,
  backoffDelay,
  DEFAULT_SCHEDULE_POLICY as P,
  debounceDelay,
  initialDelay,
  intervalDelay,
  resolvePolicy,
  retryAfterOf,
} from '../src/client/schedule-policy.js';
import { ContactDiscoveryClient, type ContactSyncResult, type SyncErrorEvent } from '../src/client/sdk.js';
import type { AddressBook } from '../src/contacts/index.js';
import { ContactPsiError } from '../src/errors.js';
import { ProtocolError } from '../src/protocol/errors.js';
import { bookOf, DAY, directoryOf, FakeClock, folders, HOUR, seededRandom, spyTransport, tempDir } from './client-helpers.js';

const tmp = tempDir('contact-psi-scheduler-');
afterAll(() => tmp.cleanup());
const fresh = folders(tmp.path);

const MIN_INTERVAL = P.intervalMs * (1 - P.intervalJitter); // 21.6 h
const MAX_INTERVAL = P.intervalMs * (1 + P.intervalJitter); // 26.4 h

const baseBook = bookOf([
  ['Alice', ['tel:+41791234567']],
  ['Bob', ['tel:+41797654321', 'mailto:bob@example.org']],
]);
const registered = { 'tel:+41791234567': 'u-alice', 'mailto:bob@example.org': 'u-bob' };

function setup(options: { random?: () => number; fail?: (call: number) => Error | undefined; book?: AddressBook; cacheDir?: string; clock?: FakeClock } = {}) {
  const clock = options.clock ?? new FakeClock();
  const spy = spyTransport(clock, async (o, call) => {
    const err = options.fail?.(call);
    if (err) throw err;
    return directoryOf(registered)(o);
  });
  const results: ContactSyncResult[] = [];
  const errors: SyncErrorEvent[] = [];
  const cacheDir = options.cacheDir ?? fresh();
  const sdk = new ContactDiscoveryClient({
    server: 'ws://127.0.0.1:1',
    cacheDir,
    clock,
    random: options.random ?? seededRandom(7),
    transport: spy.transport,
    onResult: (r) => results.push(r),
    onError: (e) => errors.push(e),
  });
  const state = { book: options.book ?? baseBook };
  return { clock, spy, sdk, results, errors, state, cacheDir, start: () => sdk.start(() => state.book) };
}

const gaps = (times: readonly number[]) => times.slice(1).map((t, i) => t - times[i]!);

describe('schedule policy (pure)', () => {
  const u = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });

  it('interval, first-sync and debounce delays stay inside their documented bounds', () => {
    fc.assert(
      fc.property(u, (x) => {
        const i = intervalDelay(P, x);
        expect(i).toBeGreaterThanOrEqual(MIN_INTERVAL);
        expect(i).toBeLessThan(MAX_INTERVAL);
        expect(initialDelay(P, x)).toBeGreaterThanOrEqual(0);
        expect(initialDelay(P, x)).toBeLessThan(P.initialDelayMaxMs);
        expect(debounceDelay(P, x)).toBeGreaterThanOrEqual(P.debounceMs);
        expect(debounceDelay(P, x)).toBeLessThan(P.debounceMs + P.debounceJitterMs);
      }),
    );
  });

  it('backoff: in [ceiling/2, ceiling], ceiling doubles up to the cap, retryAfterMs is never undercut', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), u, fc.option(fc.integer({ min: 0, max: 3 * DAY }), { nil: undefined }), (attempt, x, retryAfter) => {
        const c = backoffCeiling(P, attempt);
        expect(c).toBe(Math.min(P.backoffMaxMs, P.backoffBaseMs * 2 ** (attempt - 1)));
        expect(backoffCeiling(P, attempt + 1)).toBeGreaterThanOrEqual(c);
        const d = backoffDelay(P, attempt, x, retryAfter);
        expect(d).toBeGreaterThanOrEqual(c / 2 - 1);
        if (retryAfter === undefined) expect(d).toBeLessThanOrEqual(c);
        else {
          const hint = Math.min(retryAfter, P.maxRetryAfterMs);
          expect(d).toBeGreaterThanOrEqual(hint);
          expect(d).toBeLessThanOrEqual(Math.max(c, Math.ceil(hint * (1 + P.retryAfterJitter))));
        }
      }),
    );
  });

  it('a broken random source cannot produce NaN or out-of-bounds delays', () => {
    for (const x of [NaN, -1, 1, 2, Infinity, -Infinity]) {
      expect(intervalDelay(P, x)).toBeGreaterThanOrEqual(MIN_INTERVAL);
      expect(intervalDelay(P, x)).toBeLessThan(MAX_INTERVAL);
      expect(Number.isFinite(backoffDelay(P, 3, x, 5000))).toBe(true);
    }
  });

  it('retryAfterOf reads only a finite, non-negative retryAfterMs; options are validated', () => {
    expect(retryAfterOf(Object.assign(new Error('x'), { retryAfterMs: 1500 }))).toBe(1500);
    for (const v of [-1, NaN, '1500', Infinity, null]) expect(retryAfterOf({ retryAfterMs: v })).toBeUndefined();
    expect(retryAfterOf(undefined)).toBeUndefined();
    expect(() => resolvePolicy({ intervalJitter: 1 })).toThrow(ContactPsiError);
    expect(() => resolvePolicy({ backoffBaseMs: -5 })).toThrow(ContactPsiError);
    expect(() => resolvePolicy({ intervalMs: 40 * DAY })).toThrow(ContactPsiError);
    expect(() => resolvePolicy({ bogus: 1 } as never)).toThrow(ContactPsiError);
    expect(resolvePolicy({ intervalMs: HOUR }).intervalMs).toBe(HOUR);
  });
});

describe('first sync and the 24 h cadence', () => {
  it('the first sync comes within initialDelayMaxMs of start, not before consent', async () => {
    const t = setup({ random: () => 0.5 });
    const t0 = t.clock.now();
    t.start();
    await t.clock.advance(DAY);
    expect(t.spy.calls).toHaveLength(0); // no consent yet
    t.sdk.grantConsent();
    const granted = t.clock.now();
    expect(t.sdk.nextSync).toEqual({ dueAt: granted + P.initialDelayMaxMs / 2, reason: 'initial' });
    await t.clock.advance(P.initialDelayMaxMs / 2 - 1);
    expect(t.spy.calls).toHaveLength(0);
    await t.clock.advance(1);
    expect(t.spy.calls).toHaveLength(1);
    expect(t.spy.calls[0]!.options.book).toBe(t.state.book);
    expect(t.results).toHaveLength(1);
    expect(t.results[0]!.reason).toBe('initial');
    expect(t.results[0]!.contacts.map((c) => [c.name, c.userId, c.source])).toEqual([
      ['Alice', 'u-alice', 'directory'],
      ['Bob', 'u-bob', 'directory'],
    ]);
    expect(t0).toBeLessThan(granted);
  });

  it('then every 24 h ± 10 % (any random stream)', async () => {
    const SPAN = 12 * DAY;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 }), async (seed) => {
        const t = setup({ random: seededRandom(seed) });
        t.sdk.grantConsent();
        t.start();
        await t.clock.advance(SPAN);
        const times = t.spy.calls.map((c) => c.at);
        expect(times[0]! - (t.clock.now() - SPAN)).toBeLessThan(P.initialDelayMaxMs);
        for (const g of gaps(times)) {
          expect(g).toBeGreaterThanOrEqual(MIN_INTERVAL);
          expect(g).toBeLessThan(MAX_INTERVAL);
        }
        // The span holds between SPAN / 26.4 h and SPAN / 21.6 h intervals.
        expect(times.length).toBeGreaterThanOrEqual(1 + Math.floor((SPAN - P.initialDelayMaxMs) / MAX_INTERVAL));
        expect(times.length).toBeLessThanOrEqual(1 + Math.ceil(SPAN / MIN_INTERVAL));
        expect(t.results.slice(1).every((r) => r.reason === 'periodic')).toBe(true);
      }),
      { numRuns: 15 },
    );
  });

  it('the jitter reaches both ends of its range', async () => {
    for (const [x, expected] of [
      [0, MIN_INTERVAL],
      [1 - 2 ** -40, MAX_INTERVAL],
    ] as const) {
      const t = setup({ random: () => x });
      t.sdk.grantConsent();
      t.start();
      await t.clock.advance(3 * DAY);
      for (const g of gaps(t.spy.calls.map((c) => c.at))) expect(Math.abs(g - expected)).toBeLessThanOrEqual(2);
    }
  });

  it('a manual sync restarts the interval', async () => {
    const t = setup({ random: () => 0.5 });
    t.sdk.grantConsent();
    t.start();
    await t.clock.advance(HOUR);
    await t.clock.advance(10 * HOUR);
    await t.sdk.sync(t.state.book);
    const manualAt = t.clock.now();
    expect(t.sdk.nextSync).toEqual({ dueAt: manualAt + P.intervalMs, reason: 'periodic' });
    await t.clock.advance(P.intervalMs);
    expect(t.spy.calls.map((c) => c.at)).toEqual([t.spy.calls[0]!.at, manualAt, manualAt + P.intervalMs]);
  });
});

describe('change-triggered syncs', () => {
  async function synced() {
    const t = setup({ random: () => 0.5 });
    t.sdk.grantConsent();
    t.start();
    await t.clock.advance(HOUR);
    expect(t.spy.calls).toHaveLength(1);
    return t;
  }

  it('renaming, reordering or duplicating contacts (same identifiers) triggers nothing', async () => {
    const t = await synced();
    const periodic = t.sdk.nextSync;
    t.state.book = bookOf([
      ['Robert', ['mailto:bob@example.org', 'tel:+41797654321']],
      ['Alice Smith', ['tel:+41791234567']],
      ['Alice (work)', ['tel:+41791234567']],
      ['No number', []],
    ]);
    t.sdk.notifyAddressBookChanged();
    expect(t.sdk.nextSync).toEqual(periodic);
    await t.clock.advance(12 * HOUR);
    expect(t.spy.calls).toHaveLength(1);
  });

  it('a new identifier syncs after the debounce (30–60 s), with the new book', async () => {
    const t = await synced();
    t.state.book = bookOf([...baseBook.contacts.map((c) => [c.name, c.identifiers.map((i) => i.identifier)] as const), ['Carol', ['tel:+41790000001']]]);
    const notified = t.clock.now();
    t.sdk.notifyAddressBookChanged();
    expect(t.sdk.nextSync?.reason).toBe('change');
    await t.clock.advance(P.debounceMs - 1);
    expect(t.spy.calls).toHaveLength(1);
    await t.clock.advance(P.debounceJitterMs + 1);
    expect(t.spy.calls).toHaveLength(2);
    const delay = t.spy.calls[1]!.at - notified;
    expect(delay).toBeGreaterThanOrEqual(P.debounceMs);
    expect(delay).toBeLessThan(P.debounceMs + P.debounceJitterMs);
    expect(t.spy.calls[1]!.options.book).toBe(t.state.book);
    expect(t.results.at(-1)!.reason).toBe('change');
    // And the 24 h cadence restarts from there.
    expect(t.sdk.nextSync?.reason).toBe('periodic');
  });

  it('a removed identifier is a change too; a change undone before the debounce is dropped', async () => {
    const t = await synced();
    const original = t.state.book;
    t.state.book = bookOf([['Alice', ['tel:+41791234567']]]);
    t.sdk.notifyAddressBookChanged();
    expect(t.sdk.nextSync?.reason).toBe('change');
    t.state.book = original;
    t.sdk.notifyAddressBookChanged();
    expect(t.sdk.nextSync?.reason).toBe('periodic');
    await t.clock.advance(HOUR);
    expect(t.spy.calls).toHaveLength(1);
  });

  it('a burst of changes is one sync, at most maxDebounceMs after the first change', async () => {
    const t = await synced();
    const first = t.clock.now();
    for (let i = 0; i < 14; i++) {
      t.state.book = bookOf([['Alice', ['tel:+41791234567']], ['New', [`tel:+4179${String(2_000_000 + i)}`]]]);
      t.sdk.notifyAddressBookChanged();
      await t.clock.advance(20_000); // always inside the debounce window
    }
    await t.clock.advance(HOUR);
    expect(t.spy.calls).toHaveLength(2);
    expect(t.spy.calls[1]!.at - first).toBe(P.maxDebounceMs); // the last debounce would have ended later
  });

  it('a change during a running sync is synced after it', async () => {
    const t = setup({ random: () => 0.5 });
    let release = () => {};
    const slow = spyTransport(t.clock, async (o) => {
      if (slow.calls.length === 1) await new Promise<void>((r) => (release = r));
      return directoryOf(registered)(o);
    });
    const sdk = new ContactDiscoveryClient({ server: 'ws://x', cacheDir: fresh(), clock: t.clock, random: () => 0.5, transport: slow.transport });
    sdk.grantConsent();
    sdk.start(() => t.state.book);
    await t.clock.advance(P.initialDelayMaxMs);
    expect(slow.calls).toHaveLength(1);
    t.state.book = bookOf([['Dan', ['tel:+41790000009']]]);
    sdk.notifyAddressBookChanged();
    release();
    await t.clock.advance(0);
    expect(sdk.nextSync?.reason).toBe('change');
    await t.clock.advance(P.debounceMs + P.debounceJitterMs);
    expect(slow.calls).toHaveLength(2);
    expect(slow.calls[1]!.options.book).toBe(t.state.book);
  });
});

describe('failures', () => {
  it('retry with exponential backoff, capped, reported through onError; success resets it', async () => {
    const failures = 14;
    const t = setup({ random: seededRandom(99), fail: (n) => (n <= failures ? new ContactPsiError('closed', 'server down') : undefined) });
    t.sdk.grantConsent();
    t.start();
    await t.clock.advance(5 * DAY);
    const times = t.spy.calls.map((c) => c.at);
    expect(times.length).toBeGreaterThan(failures + 1);
    gaps(times)
      .slice(0, failures)
      .forEach((g, i) => {
        const ceiling = Math.min(P.backoffMaxMs, P.backoffBaseMs * 2 ** i);
        expect(g).toBeGreaterThanOrEqual(ceiling / 2 - 1);
        expect(g).toBeLessThanOrEqual(ceiling);
      });
    expect(backoffCeiling(P, failures)).toBe(P.backoffMaxMs); // the cap was reached
    expect(t.errors.map((e) => e.attempt)).toEqual(Array.from({ length: failures }, (_, i) => i + 1));
    t.errors.forEach((e, i) => {
      expect(e.error).toBeInstanceOf(ContactPsiError);
      expect(e.retryAt - e.retryInMs).toBe(times[i]); // failed at the call, retried retryInMs later
      expect(times[i + 1]).toBe(e.retryAt);
    });
    expect(t.errors[1]!.reason).toBe('retry');
    // After the success: back to the daily cadence.
    const after = gaps(times.slice(failures));
    for (const g of after) {
      expect(g).toBeGreaterThanOrEqual(MIN_INTERVAL);
      expect(g).toBeLessThan(MAX_INTERVAL);
    }
  });

  it('honours the retryAfterMs of the server (rate_limited: no earlier retry), and a change cannot cut it short', async () => {
    const t = setup({ random: () => 0.5, fail: (n) => (n === 1 ? new ProtocolError('rate_limited', 'quota exhausted', { remote: true, retryAfterMs: 2 * HOUR }) : undefined) });
    t.sdk.grantConsent();
    t.start();
    await t.clock.advance(P.initialDelayMaxMs);
    expect(t.spy.calls).toHaveLength(1);
    const failedAt = t.spy.calls[0]!.at;
    expect(t.errors[0]).toMatchObject({ attempt: 1, retryInMs: 2 * HOUR * (1 + P.retryAfterJitter / 2) });
    t.state.book = bookOf([['Eve', ['tel:+41790000042']]]);
    t.sdk.notifyAddressBookChanged();
    expect(t.sdk.nextSync?.reason).toBe('retry');
    await t.clock.advance(2 * HOUR - 1000);
    expect(t.spy.calls).toHaveLength(1);
    await t.clock.advance(HOUR);
    expect(t.spy.calls).toHaveLength(2);
    const wait = t.spy.calls[1]!.at - failedAt;
    expect(wait).toBeGreaterThanOrEqual(2 * HOUR);
    expect(wait).toBeLessThanOrEqual(2 * HOUR * (1 + P.retryAfterJitter));
    expect(t.spy.calls[1]!.options.book).toBe(t.state.book); // the retry reads the current book
  });

  it('a book that cannot be read is a failure with backoff, not a crash', async () => {
    const t = setup({ random: () => 0.5 });
    t.sdk.grantConsent();
    t.sdk.start(() => {
      throw new Error('contacts permission denied');
    });
    await t.clock.advance(HOUR);
    expect(t.spy.calls).toHaveLength(0);
    expect(t.errors.length).toBeGreaterThan(3);
    expect((t.errors[0]!.error as Error).message).toContain('permission');
  });
});

describe('restarts', () => {
  it('a new SDK on the same cacheDir keeps the due time; a book changed while closed syncs soon', async () => {
    const clock = new FakeClock();
    const a = setup({ clock, random: () => 0.5 });
    a.sdk.grantConsent();
    a.start();
    await clock.advance(HOUR);
    expect(a.spy.calls).toHaveLength(1);
    const due = a.sdk.nextSync!.dueAt;
    a.sdk.stop();
    expect(clock.timerCount).toBe(0);
    const stateFile = join(a.cacheDir, 'sync-state.json');
    expect(statSync(stateFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(stateFile, 'utf8')).not.toContain('+4179'); // a hash, not the identifiers

    await clock.advance(5 * HOUR);
    const b = setup({ clock, random: () => 0.5, cacheDir: a.cacheDir });
    b.start();
    expect(b.sdk.nextSync).toEqual({ dueAt: due, reason: 'periodic' });
    await clock.advance(due - clock.now() - 1);
    expect(b.spy.calls).toHaveLength(0);
    b.sdk.stop();

    const c = setup({ clock, random: () => 0.5, cacheDir: a.cacheDir, book: bookOf([['Zoe', ['tel:+41790000077']]]) });
    c.start();
    expect(c.sdk.nextSync?.reason).toBe('change');
    await clock.advance(P.initialDelayMaxMs);
    expect(c.spy.calls).toHaveLength(1);
    c.sdk.stop();
  });

  it('an overdue sync after a long pause runs soon; a due time far in the future (clock set back) is clamped', async () => {
    const clock = new FakeClock();
    const a = setup({ clock, random: () => 0.5 });
    a.sdk.grantConsent();
    await a.sdk.sync(a.state.book);
    await clock.advance(3 * DAY);
    const b = setup({ clock, random: () => 0.5, cacheDir: a.cacheDir });
    b.start();
    expect(b.sdk.nextSync).toEqual({ dueAt: clock.now() + P.initialDelayMaxMs / 2, reason: 'periodic' });
    b.sdk.stop();

    const back = new FakeClock(clock.now() - 30 * DAY);
    const c = setup({ clock: back, random: () => 0.5, cacheDir: a.cacheDir });
    c.start();
    expect(c.sdk.nextSync!.dueAt - back.now()).toBeLessThanOrEqual(MAX_INTERVAL);
    c.sdk.stop();
  });
});

describe('default clock', () => {
  it('uses the global timers at call time, so vi.useFakeTimers() drives it too', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 5, 1) });
    try {
      const spy = spyTransport({ now: () => Date.now() }, directoryOf(registered));
      const sdk = new ContactDiscoveryClient({ server: 'ws://x', cacheDir: fresh(), random: () => 0, transport: spy.transport });
      sdk.grantConsent();
      sdk.start(() => baseBook);
      await vi.advanceTimersByTimeAsync(1);
      expect(spy.calls).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(MIN_INTERVAL - 1);
      expect(spy.calls).toHaveLength(2);
      sdk.stop();
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
