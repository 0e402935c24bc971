/**
 * Opt-out over a loopback socket: users who opted out never match, whoever writes their
 * number and however. Toggling takes effect through the directory: re-import with
 * discoverable=false, refresh the backend, and the next sync no longer finds them (their
 * label is refused at once, even before the refresh); opt back in, refresh, found again.
 */
import fc from 'fast-check';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDirectory, type RunningServer } from '../src/cli/commands/serve.js';
import { seededRng } from '../src/contacts/generate.js';
import type { DirectoryUser } from '../src/directory/index.js';
import { buildDirectory, expectedRows, generateUsers, outcomeRows, parsePlanned, phoneWritings, sync, tempDir, type PlannedContact } from './helpers/service.js';

const tmp = tempDir('contact-psi-optout-');
afterAll(() => tmp.cleanup());

const users = generateUsers(seededRng(31), 400, { hiddenPerMille: 200 });
const visible = users.filter((u) => u.discoverable);
const hidden = users.filter((u) => !u.discoverable);
let running: RunningServer;
let caches = 0;
const freshCache = () => join(tmp.path, `cache-${caches++}`);

beforeAll(async () => {
  running = await serveDirectory(await buildDirectory(tmp.path, users), { host: '127.0.0.1', port: 0 });
});
afterAll(() => running?.close());

/** One contact per user, holding every identifier of the user in a few writings. */
function bookOf(people: readonly DirectoryUser[], home: 'CH' | 'DE' | 'US' = 'CH'): PlannedContact[] {
  return people.map((u, i) => ({
    name: `Friend ${i} (${u.userId})`,
    phones: u.identifiers.filter((id) => id.startsWith('tel:')).flatMap((id) => phoneWritings(id.slice(4), home).slice(0, 4)),
    emails: u.identifiers.filter((id) => id.startsWith('mailto:')).flatMap((id) => [id.slice(7).toUpperCase(), ` ${id.slice(7)} `]),
    identifiers: new Set(u.identifiers),
  }));
}

const setDiscoverable = (u: DirectoryUser, discoverable: boolean): DirectoryUser => ({ ...u, discoverable });

describe('opt-out', () => {
  it('opted-out users never match, in any writing, in vCard or CSV, from any region', async () => {
    expect(hidden.length).toBeGreaterThan(40);
    const people = [...hidden.slice(0, 40), ...visible.slice(0, 10)];
    for (const [home, format] of [['CH', 'vcard-3.0'], ['DE', 'csv'], ['US', 'csv-google']] as const) {
      const planned = bookOf(people, home);
      const outcome = await sync(running.server.url, parsePlanned(planned, format, home), freshCache());
      const found = new Set(outcome.matches.map((m) => m.userId));
      for (const u of hidden) expect(found.has(u.userId)).toBe(false);
      expect(found).toEqual(new Set(visible.slice(0, 10).map((u) => u.userId)));
      expect(outcomeRows(outcome)).toEqual(expectedRows(planned, users));
      // No tag exists for them: not even a filter hit whose label was then refused.
      expect(outcome.result.falsePositives).toBe(0);
    }
  });

  it('opt out, refresh: no longer found; opt back in, refresh: found again', async () => {
    const { directory, backend } = running;
    const target = visible.find((u) => u.identifiers.length >= 2 && u.identifiers.some((id) => id.startsWith('mailto:')))!;
    const others = visible.filter((u) => u !== target).slice(0, 5);
    const planned = bookOf([target, ...others, hidden[0]!]);
    const book = parsePlanned(planned, 'vcard-4.0', 'CH');
    const cache = freshCache();
    const targetRows = (o: Awaited<ReturnType<typeof sync>>) => o.matches.filter((m) => m.userId === target.userId);

    const before = await sync(running.server.url, book, cache);
    expect(outcomeRows(before)).toEqual(expectedRows(planned, users));
    expect(targetRows(before)).toHaveLength(target.identifiers.length);
    const first = backend.current();

    // Opt out. Until the backend is refreshed it serves the same (epoch, version): an
    // incremental re-sync evaluates nothing and fetches no label (issue 10 §4), so the
    // client keeps what it found; the opt-out takes effect with the next served version.
    const withTargetHidden = users.map((u) => (u === target ? setDiscoverable(u, false) : u));
    expect((await directory.importUsers([setDiscoverable(target, false)])).changes).toBe(1);
    const stale = await sync(running.server.url, book, cache);
    expect(stale.result.cacheHit).toBe(true);
    expect(outcomeRows(stale)).toEqual(expectedRows(planned, users));

    const hiddenView = await backend.refresh();
    expect(hiddenView.epoch).toBe(first.epoch);
    expect(hiddenView.snapshot.version).toBeGreaterThan(first.snapshot.version);
    expect(hiddenView.snapshot.count).toBe(first.snapshot.count - target.identifiers.length);
    expect(Buffer.from(hiddenView.snapshot.digest).equals(Buffer.from(first.snapshot.digest))).toBe(false);
    const after = await sync(running.server.url, book, cache);
    // The cached snapshot is brought up to date by a delta (the opt-out removes tags).
    expect(after.result.deltaApplied).toBe(true);
    expect(after.result.downloadedBytes).toBe(0);
    expect(after.result.falsePositives).toBe(0);
    expect(targetRows(after)).toEqual([]);
    expect(outcomeRows(after)).toEqual(expectedRows(planned, withTargetHidden));
    const cached = await sync(running.server.url, book, cache);
    expect(cached.result.cacheHit).toBe(true);
    expect(targetRows(cached)).toEqual([]);

    // Opt back in: tags are computed again under the same epoch key.
    expect((await directory.importUsers([target])).changes).toBe(1);
    const backView = await backend.refresh();
    expect(backView.epoch).toBe(first.epoch);
    expect(backView.snapshot.count).toBe(first.snapshot.count);
    const back = await sync(running.server.url, book, cache);
    expect(back.result.deltaApplied || back.result.downloadedBytes > 0).toBe(true);
    expect(outcomeRows(back)).toEqual(outcomeRows(before));
  });

  it('random opt-out / opt-in sequences: every sync after a refresh matches the model (property)', async () => {
    const { directory, backend } = running;
    const state = new Map(users.map((u) => [u.userId, u]));
    const people = [...visible.slice(20, 26), ...hidden.slice(40, 43)];
    const planned = bookOf(people, 'DE');
    const book = parsePlanned(planned, 'csv-semicolon', 'DE');
    const cache = freshCache();
    let lastVersion: number | undefined;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ who: fc.nat({ max: people.length - 1 }), discoverable: fc.boolean() }), { minLength: 1, maxLength: 4 }),
        async (toggles) => {
          for (const { who, discoverable } of toggles) {
            const user = setDiscoverable(people[who]!, discoverable);
            await directory.importUsers([user]);
            state.set(user.userId, user);
            const view = await backend.refresh();
            const outcome = await sync(running.server.url, book, cache);
            expect(outcomeRows(outcome)).toEqual(expectedRows(planned, [...state.values()]));
            expect(outcome.result.falsePositives).toBe(0);
            // The cached snapshot is reused as is exactly when the directory did not change;
            // otherwise it is updated by a delta or downloaded again.
            const reusedAsIs = outcome.result.cacheHit && !outcome.result.deltaApplied;
            expect(reusedAsIs).toBe(view.snapshot.version === lastVersion);
            lastVersion = view.snapshot.version;
          }
        },
      ),
      { numRuns: 4 },
    );
  });
});
