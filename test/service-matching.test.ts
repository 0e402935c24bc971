/**
 * End to end over a loopback socket: a SQLite directory served by serveDirectory, an
 * address book written as vCard or CSV the way people write numbers (national formats of
 * the book's region, 00/011 prefixes, duplicates, mixed-case e-mail), parsed and synced
 * with syncAddressBook. The matches must be exactly the registered, discoverable
 * identifiers in the book, each mapped to the right contacts, user IDs and labels.
 */
import fc from 'fast-check';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDirectory, type RunningServer } from '../src/cli/commands/serve.js';
import { generatePhoneNumber, randomInt, seededRng, type GeneratedRegion } from '../src/contacts/generate.js';
import { toIdentifier, uniqueIdentifiers } from '../src/contacts/index.js';
import type { DirectoryUser } from '../src/directory/index.js';
import {
  BookFormats,
  buildDirectory,
  emailWriting,
  expectedRows,
  generateUsers,
  outcomeRows,
  parsePlanned,
  phoneWritings,
  sync,
  tempDir,
  type BookFormat,
  type PlannedContact,
} from './helpers/service.js';

const tmp = tempDir('contact-psi-matching-');
afterAll(() => tmp.cleanup());
let folders = 0;
const freshFolder = () => join(tmp.path, `run-${folders++}`);

const placementArb = fc.record({
  source: fc.constantFrom('tel', 'tel', 'tel', 'mailto', 'unregistered-tel', 'unregistered-mailto'),
  pick: fc.nat(),
  writing: fc.nat(),
  /** Contacts the identifier goes into (more than one: the same number in two contacts). */
  targets: fc.uniqueArray(fc.nat({ max: 40 }), { minLength: 1, maxLength: 3 }),
  /** A second writing of the same identifier in the first target contact. */
  twice: fc.boolean(),
});

const bookArb = fc.record({
  home: fc.constantFrom<GeneratedRegion>('CH', 'DE', 'US'),
  format: fc.constantFrom<BookFormat>(...BookFormats),
  contactCount: fc.integer({ min: 1, max: 12 }),
  placements: fc.array(placementArb, { minLength: 1, maxLength: 30 }),
  seed: fc.integer({ min: 1, max: 0x7fffffff }),
});
type BookSpec = typeof bookArb extends fc.Arbitrary<infer T> ? T : never;

/** Names that need escaping in vCard (comma) and quoting in CSV, and non-ASCII letters. */
const nameOf = (i: number) => (i % 3 === 1 ? `Müller, Zoë ${i}` : `Łukasz O'Brien ${i}`);

/** Plans the book: what each contact holds as written and as canonical identifiers. */
function planBook(spec: BookSpec, users: readonly DirectoryUser[]): PlannedContact[] {
  const rng = seededRng(spec.seed);
  const contacts: PlannedContact[] = Array.from({ length: spec.contactCount }, (_, i) => ({ name: nameOf(i), phones: [], emails: [], identifiers: new Set() }));
  const taken = new Set(users.flatMap((u) => u.identifiers));
  const withEmail = users.filter((u) => u.identifiers.some((id) => id.startsWith('mailto:')));
  for (const p of spec.placements) {
    let id: string;
    if (p.source === 'tel') {
      const tels = users[p.pick % users.length]!.identifiers.filter((i) => i.startsWith('tel:'));
      id = tels[p.writing % tels.length]!;
    } else if (p.source === 'mailto' && withEmail.length > 0) {
      id = withEmail[p.pick % withEmail.length]!.identifiers.find((i) => i.startsWith('mailto:'))!;
    } else if (p.source === 'unregistered-mailto') {
      id = `mailto:nobody.${p.pick}@example.net`;
    } else {
      do id = toIdentifier('tel', generatePhoneNumber(rng, (['CH', 'DE', 'US'] as const)[randomInt(rng, 3)]!));
      while (taken.has(id));
    }
    const targets = [...new Set(p.targets.map((t) => t % contacts.length))];
    const writeInto = (c: PlannedContact, k: number) => {
      if (id.startsWith('tel:')) {
        const writings = phoneWritings(id.slice(4), spec.home);
        c.phones.push(writings[(p.writing + k) % writings.length]!);
      } else c.emails.push(emailWriting(id.slice(7), rng));
      c.identifiers.add(id);
    };
    targets.forEach((t, k) => writeInto(contacts[t]!, k));
    if (p.twice) writeInto(contacts[targets[0]!]!, 1 + targets.length);
  }
  return contacts;
}

/** Parse, sync twice (download, then cache), and check everything the sync returns. */
async function checkBook(running: RunningServer, users: readonly DirectoryUser[], spec: BookSpec, cacheDir: string): Promise<void> {
  const planned = planBook(spec, users);
  const book = parsePlanned(planned, spec.format, spec.home);

  // The import read every value and normalized it to the planned identifier.
  expect(book.invalid).toEqual([]);
  expect(book.contacts.map((c) => c.name)).toEqual(planned.map((c) => c.name));
  book.contacts.forEach((c, i) => expect(new Set(c.identifiers.map((id) => id.identifier))).toEqual(planned[i]!.identifiers));

  const expected = expectedRows(planned, users);
  const outcome = await sync(running.server.url, book, cacheDir);
  expect(outcomeRows(outcome)).toEqual(expected);

  // The protocol result: exactly the discoverable identifiers present, each once, with the owner's user ID and label bytes.
  const owners = new Map(users.flatMap((u) => u.identifiers.map((id) => [id, u] as const)));
  const present = new Set(planned.flatMap((c) => [...c.identifiers]));
  const discoverable = [...present].filter((id) => owners.get(id)?.discoverable === true).sort();
  expect(outcome.result.matches.map((m) => m.identifier).sort()).toEqual(discoverable);
  for (const m of outcome.result.matches) {
    const owner = owners.get(m.identifier)!;
    expect(m.userId).toBe(owner.userId);
    expect(m.label).toEqual(owner.label);
  }
  expect(outcome.identifiersChecked).toBe(present.size);
  expect(outcome.identifiersChecked).toBe(uniqueIdentifiers(book).length);
  expect(outcome.result.falsePositives).toBe(0);
  expect(outcome.result.cacheHit).toBe(false);

  const again = await sync(running.server.url, book, cacheDir);
  expect(again.result.cacheHit).toBe(true);
  expect(again.result.downloadedBytes).toBe(0);
  expect(outcomeRows(again)).toEqual(expected);
}

describe('matching over a socket', () => {
  it('generated directories and address books: matches are exactly the discoverable identifiers in the book (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 0x7fffffff }), fc.integer({ min: 5, max: 250 }), bookArb, async (dirSeed, userCount, spec) => {
        const folder = freshFolder();
        const users = generateUsers(seededRng(dirSeed), userCount);
        const directory = await buildDirectory(folder, users);
        const running = await serveDirectory(directory, { host: '127.0.0.1', port: 0 });
        try {
          const view = running.backend.current();
          expect(view.snapshot.count).toBe(users.filter((u) => u.discoverable).reduce((n, u) => n + u.identifiers.length, 0));
          await checkBook(running, users, spec, join(folder, 'cache'));
        } finally {
          await running.close();
        }
      }),
      { numRuns: 5 },
    );
  });

  describe('one directory of 2,000 users, many books', () => {
    const folder = freshFolder();
    const users = generateUsers(seededRng(2026), 2000);
    let running: RunningServer;
    beforeAll(async () => {
      running = await serveDirectory(await buildDirectory(folder, users), { host: '127.0.0.1', port: 0 });
    });
    afterAll(() => running?.close());

    it('every book matches exactly (property)', async () => {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(bookArb, async (spec) => checkBook(running, users, spec, join(folder, `cache-${run++}`))),
        { numRuns: 10 },
      );
    });

    it('a book holding every identifier of 60 users, in every writing of its region', async () => {
      const chosen = users.slice(0, 60);
      expect(chosen.some((u) => !u.discoverable)).toBe(true);
      for (const home of ['CH', 'DE', 'US'] as const) {
        const planned: PlannedContact[] = chosen.map((u, i) => {
          const phones = u.identifiers.filter((id) => id.startsWith('tel:')).flatMap((id) => phoneWritings(id.slice(4), home));
          const emails = u.identifiers.filter((id) => id.startsWith('mailto:')).map((id) => id.slice(7).toUpperCase());
          return { name: `${home} friend ${i}`, phones, emails, identifiers: new Set(u.identifiers) };
        });
        const book = parsePlanned(planned, 'vcard-4.0', home);
        expect(book.invalid).toEqual([]);
        const outcome = await sync(running.server.url, book, join(folder, `cache-all-${home}`));
        expect(outcomeRows(outcome)).toEqual(expectedRows(planned, users));
        expect(outcome.matches.map((m) => m.userId)).not.toContain(chosen.find((u) => !u.discoverable)!.userId);
      }
    });

    it('an empty book and a book of only unregistered numbers find nothing', async () => {
      const rng = seededRng(7);
      const taken = new Set(users.flatMap((u) => u.identifiers));
      const strangers: PlannedContact[] = Array.from({ length: 20 }, (_, i) => {
        let id: string;
        do id = toIdentifier('tel', generatePhoneNumber(rng, 'CH'));
        while (taken.has(id));
        return { name: `Stranger ${i}`, phones: [id.slice(4)], emails: [`stranger${i}@example.org`], identifiers: new Set([id, `mailto:stranger${i}@example.org`]) };
      });
      for (const planned of [[], strangers]) {
        const outcome = await sync(running.server.url, parsePlanned(planned, 'csv', 'CH'), join(folder, 'cache-none'));
        expect(outcome.matches).toEqual([]);
        expect(outcome.result.matches).toEqual([]);
        expect(outcome.identifiersChecked).toBe(planned.length * 2);
      }
    });
  });
});
