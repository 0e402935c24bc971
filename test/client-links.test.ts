/**
 * Manual links: stable contact keys, a private on-device store (0600, atomic), results
 * where a manual link wins over the directory, links that survive syncs and restarts of
 * the SDK, and links that never reach the transport — checked on the options an injected
 * transport receives and on every byte a real discovery server receives.
 */
import fc from 'fast-check';
import { readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { serveDirectory, type RunningServer } from '../src/cli/commands/serve.js';
import { defaultContactKey, identifierSetHash } from '../src/client/contact-key.js';
import { mergeResults, type DirectoryMatch } from '../src/client/merge.js';
import { ContactDiscoveryClient, type ContactSyncResult } from '../src/client/sdk.js';
import { seededRng } from '../src/contacts/generate.js';
import type { AddressBook } from '../src/contacts/index.js';
import { ContactPsiError } from '../src/errors.js';
import { SUBPROTOCOL } from '../src/transport/ws/index.js';
import { bookOf, directoryOf, FakeClock, folders, spyTransport, tempDir } from './client-helpers.js';
import { buildDirectory, generateUsers } from './helpers/service.js';

const tmp = tempDir('contact-psi-links-');
afterAll(() => tmp.cleanup());
const fresh = folders(tmp.path);

const rows = (r: ContactSyncResult | undefined) => r?.contacts.map((c) => [c.name, c.userId, c.source]);

describe('contact keys', () => {
  const idArb = fc.oneof(
    fc.integer({ min: 1_000_000, max: 9_999_999 }).map((n) => `tel:+4179${n}`),
    fc.stringMatching(/^[a-z]{1,8}$/).map((s) => `mailto:${s}@example.org`),
  );
  const entryArb = fc.record({ name: fc.string({ maxLength: 20 }), ids: fc.uniqueArray(idArb, { maxLength: 5 }) });

  it('do not depend on the entry index, the order or duplicates of identifiers', () => {
    fc.assert(
      fc.property(entryArb, fc.nat(1000), (e, index) => {
        const a = bookOf([[e.name, e.ids]]).contacts[0]!;
        const b = { ...bookOf([[e.name, [...e.ids].reverse().concat(e.ids.slice(0, 1))]]).contacts[0]!, index };
        expect(defaultContactKey(b)).toBe(defaultContactKey(a));
        expect(defaultContactKey(a)).toMatch(/^ck1:[0-9a-f]{32}$/);
      }),
    );
  });

  it('differ when the name or the identifiers differ', () => {
    fc.assert(
      fc.property(entryArb, entryArb, (x, y) => {
        fc.pre(x.name.normalize('NFC') !== y.name.normalize('NFC') || [...x.ids].sort().join() !== [...y.ids].sort().join());
        expect(defaultContactKey(bookOf([[x.name, x.ids]]).contacts[0]!)).not.toBe(defaultContactKey(bookOf([[y.name, y.ids]]).contacts[0]!));
      }),
    );
  });

  it('identifierSetHash ignores names, order and duplicates', () => {
    const a = bookOf([['A', ['tel:+41791111111', 'mailto:a@b.c']], ['B', ['tel:+41792222222']]]);
    const b = bookOf([['Z', ['tel:+41792222222']], ['Y', ['mailto:a@b.c', 'tel:+41791111111']], ['X', ['tel:+41792222222']]]);
    expect(identifierSetHash(a)).toBe(identifierSetHash(b));
    expect(identifierSetHash(a)).not.toBe(identifierSetHash(bookOf([['A', ['tel:+41791111111']]])));
  });
});

describe('the link store', () => {
  it('link / unlink / links, persisted in links.json (0600, atomic) and seen by a new instance', () => {
    const cacheDir = fresh();
    const clock = new FakeClock();
    const sdk = new ContactDiscoveryClient({ server: 'ws://x', cacheDir, clock });
    expect(sdk.links()).toEqual([]);
    sdk.link('ck1:b', 'user-2');
    sdk.link('ck1:a', 'user-1');
    sdk.link('ck1:b', 'user-3'); // re-link replaces
    const file = join(cacheDir, 'links.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(cacheDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const expected = [
      { contactKey: 'ck1:a', userId: 'user-1', linkedAt: clock.now() },
      { contactKey: 'ck1:b', userId: 'user-3', linkedAt: clock.now() },
    ];
    expect(sdk.links()).toEqual(expected);
    const again = new ContactDiscoveryClient({ server: 'ws://other', cacheDir });
    expect(again.links()).toEqual(expected);
    expect(again.unlink('ck1:a')).toBe(true);
    expect(again.unlink('ck1:a')).toBe(false);
    expect(sdk.links()).toEqual(expected.slice(1));
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ version: 1, links: expected.slice(1) });
  });

  it('rejects empty or oversized keys and user ids; a corrupt file is moved aside, not overwritten', () => {
    const cacheDir = fresh();
    const sdk = new ContactDiscoveryClient({ server: 'ws://x', cacheDir });
    for (const [k, u] of [
      ['', 'u'],
      ['k', ''],
      ['k'.repeat(513), 'u'],
      ['k', 'u'.repeat(1025)],
      [42, 'u'],
    ] as const) {
      expect(() => sdk.link(k as string, u)).toThrow(ContactPsiError);
    }
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(join(cacheDir, 'links.json'), '{"version":1,"links":[{"contactKey":1}]}');
    expect(sdk.links()).toEqual([]);
    expect(readdirSync(cacheDir).some((f) => f.startsWith('links.json.corrupt-'))).toBe(true);
    sdk.link('ck1:x', 'u');
    expect(sdk.links()).toHaveLength(1);
  });
});

describe('merging directory matches with manual links', () => {
  const userArb = fc.constantFrom('u1', 'u2', 'u3', 'u4');
  const specArb = fc.record({
    contacts: fc.array(fc.record({ name: fc.constantFrom('Ann', 'Ben', 'Cy'), ids: fc.uniqueArray(fc.integer({ min: 0, max: 7 }), { maxLength: 3 }) }), { maxLength: 8 }),
    owners: fc.array(fc.option(userArb, { nil: undefined }), { minLength: 8, maxLength: 8 }),
    linked: fc.array(fc.option(fc.constantFrom('m1', 'm2'), { nil: undefined }), { minLength: 8, maxLength: 8 }),
  });

  it('a linked contact has exactly its manual row; the others exactly their directory users', () => {
    fc.assert(
      fc.property(specArb, (spec) => {
        const idOf = (n: number) => `tel:+4179000000${n}`;
        const book = bookOf(spec.contacts.map((c) => [c.name, c.ids.map(idOf)] as const));
        const registered: Record<string, string> = {};
        spec.owners.forEach((u, n) => u && (registered[idOf(n)] = u));
        const matches: DirectoryMatch[] = [];
        for (const c of book.contacts) for (const i of c.identifiers) if (registered[i.identifier]) matches.push({ name: c.name, identifier: i.identifier, userId: registered[i.identifier]!, label: 'L' });
        // As the store keeps them: one link per key, the last one made wins.
        const byKey = new Map<string, { contactKey: string; userId: string; linkedAt: number }>();
        book.contacts.forEach((c, i) => spec.linked[i] && byKey.set(defaultContactKey(c), { contactKey: defaultContactKey(c), userId: spec.linked[i]!, linkedAt: 0 }));
        byKey.set('ck1:not-in-book', { contactKey: 'ck1:not-in-book', userId: 'ghost', linkedAt: 0 });
        const links = [...byKey.values()];
        const merged = mergeResults(book, matches, links, defaultContactKey);

        for (const c of book.contacts) {
          const key = defaultContactKey(c);
          const mine = merged.filter((r) => r.contactKey === key);
          const link = links.find((l) => l.contactKey === key);
          if (link) {
            expect(mine.map((r) => [r.userId, r.source])).toEqual([[link.userId, 'manual']]);
          } else {
            // Entries with the same key (same name and identifiers) are one contact.
            const users = new Set(book.contacts.filter((d) => defaultContactKey(d) === key).flatMap((d) => d.identifiers.map((i) => registered[i.identifier]).filter((u) => u !== undefined)));
            expect(new Set(mine.map((r) => r.userId))).toEqual(users);
            expect(mine.every((r) => r.source === 'directory' && r.identifiers.length > 0 && r.label === 'L')).toBe(true);
          }
        }
        expect(merged.some((r) => r.userId === 'ghost')).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});

describe('links survive syncs and restarts, and never reach the transport', () => {
  const book = bookOf([
    ['Alice', ['tel:+41791234567']],
    ['Bob', ['tel:+41797654321']],
    ['Carol', ['mailto:carol@example.org']],
  ]);
  const registered = { 'tel:+41791234567': 'dir-alice', 'tel:+41797654321': 'dir-bob' };
  const ALLOWED = new Set(['server', 'book', 'cacheDir', 'token', 'pinnedPublicKey', 'onEvent']);

  it('with an injected transport', async () => {
    const cacheDir = fresh();
    const clock = new FakeClock();
    const spy = spyTransport(clock, directoryOf(registered));
    const results: ContactSyncResult[] = [];
    const make = () => new ContactDiscoveryClient({ server: 'ws://x', cacheDir, clock, transport: spy.transport, token: () => 'tok-1', pinnedPublicKey: new Uint8Array(32).fill(7), onResult: (r) => results.push(r) });
    const sdk = make();
    sdk.grantConsent();
    const alice = sdk.contactKey(book.contacts[0]!);
    const carol = sdk.contactKey(book.contacts[2]!);
    sdk.link(alice, 'manual-alice-5d1e');
    sdk.link(carol, 'manual-carol-9b07');

    const first = await sdk.sync(book);
    expect(rows(first)).toEqual([
      ['Alice', 'manual-alice-5d1e', 'manual'],
      ['Bob', 'dir-bob', 'directory'],
      ['Carol', 'manual-carol-9b07', 'manual'],
    ]);
    expect(rows(await sdk.sync(book))).toEqual(rows(first));

    // Unlinking shows the directory's answer again, at once (from the last sync).
    sdk.unlink(alice);
    expect(results.at(-1)!.reason).toBe('links');
    expect(rows(results.at(-1))).toEqual([
      ['Alice', 'dir-alice', 'directory'],
      ['Bob', 'dir-bob', 'directory'],
      ['Carol', 'manual-carol-9b07', 'manual'],
    ]);
    sdk.link(alice, 'manual-alice-5d1e');

    // A restart: a new instance on the same folder.
    const restarted = make();
    expect(restarted.lastResult()).toBeUndefined();
    expect(rows(await restarted.sync(book))).toEqual(rows(first));

    expect(spy.calls).toHaveLength(3);
    for (const call of spy.calls) {
      expect(Object.keys(call.options).every((k) => ALLOWED.has(k))).toBe(true);
      expect(call.options.book).toBe(book);
      expect(call.options.token).toBe('tok-1');
      for (const secret of ['manual-alice', 'manual-carol', alice, carol, 'links.json']) expect(call.serialized).not.toContain(secret);
    }
  });

  describe('against a real discovery server, through a relay that records every message', () => {
    const users = generateUsers(seededRng(5), 60, { hiddenPerMille: 0 });
    let running: RunningServer;
    let relay: WebSocketServer;
    let relayUrl: string;
    const received: Buffer[] = [];

    beforeAll(async () => {
      running = await serveDirectory(await buildDirectory(join(tmp.path, 'dir'), users), { host: '127.0.0.1', port: 0 });
      // Records what the client sends, unmasked, and forwards it to the real server.
      relay = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, handleProtocols: (p) => (p.has(SUBPROTOCOL) ? SUBPROTOCOL : false) });
      relay.on('connection', (client) => {
        const upstream = new WebSocket(running.server.url, [SUBPROTOCOL], { perMessageDeflate: false });
        const queued: Buffer[] = [];
        client.on('message', (data: Buffer) => {
          received.push(Buffer.from(data));
          if (upstream.readyState === WebSocket.OPEN) upstream.send(data);
          else queued.push(data);
        });
        upstream.on('open', () => queued.splice(0).forEach((d) => upstream.send(d)));
        upstream.on('message', (data: Buffer) => client.send(data));
        upstream.on('close', (code) => client.close(code >= 3000 || code === 1000 ? code : 1000));
        client.on('close', () => upstream.close());
        upstream.on('error', () => client.terminate());
        client.on('error', () => upstream.terminate());
      });
      await new Promise<void>((r) => relay.once('listening', () => r()));
      relayUrl = `ws://127.0.0.1:${(relay.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise<void>((r) => relay.close(() => r()));
      await running.close();
    });

    it('the server never sees a manual link; the result merges it with the real matches', async () => {
      const [u0, u1, u2] = users;
      const phone = (u: (typeof users)[number]) => u.identifiers.find((i) => i.startsWith('tel:'))!;
      const book: AddressBook = bookOf([
        ['Dana', [phone(u0!)]],
        ['Eli', [phone(u1!)]],
        ['Fay', [phone(u2!)]],
        ['Gus', ['tel:+41790000123']], // not registered
      ]);
      const cacheDir = fresh();
      const sdk = new ContactDiscoveryClient({ server: relayUrl, cacheDir });
      sdk.grantConsent();
      const gus = sdk.contactKey(book.contacts[3]!);
      const eli = sdk.contactKey(book.contacts[1]!);
      sdk.link(gus, 'manual-gus-c0ffee');
      sdk.link(eli, 'manual-eli-beef42');

      const expected = [
        ['Dana', u0!.userId, 'directory'],
        ['Eli', 'manual-eli-beef42', 'manual'],
        ['Fay', u2!.userId, 'directory'],
        ['Gus', 'manual-gus-c0ffee', 'manual'],
      ];
      expect(rows(await sdk.sync(book))).toEqual(expected);
      const restarted = new ContactDiscoveryClient({ server: relayUrl, cacheDir });
      expect(rows(await restarted.sync(book))).toEqual(expected);

      expect(received.length).toBeGreaterThan(4); // hello, snapshot parts, evaluate, labels — twice
      const all = Buffer.concat(received);
      for (const secret of ['manual-gus-c0ffee', 'manual-eli-beef42', gus, eli, gus.slice(4), eli.slice(4)]) {
        expect(all.includes(Buffer.from(secret))).toBe(false);
      }
      // Nor do the identifiers travel in clear (they are blinded), as a sanity check of the recording.
      expect(all.includes(Buffer.from(phone(u0!)))).toBe(false);
      expect(all.includes(Buffer.from('dir.hello'))).toBe(true);
    });
  });
});
