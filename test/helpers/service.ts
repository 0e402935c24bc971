/**
 * Shared pieces of the service integration tests (test/service-*.test.ts): SQLite
 * directories of generated users in temp folders, address books written the way people
 * write them (with the identifiers each entry must normalize to), a discovery server
 * built like `serve.ts` with transport options the CLI does not expose, raw WebSocket
 * peers, and an honest client that is connected but held back until released.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tcpProxy } from './tcp-proxy.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { syncAddressBook, type SyncMatch, type SyncOutcome } from '../../src/client/sync.js';
import { formatNationally, generatePhoneNumber, randomInt, toContactsCsv, toVcard, type ContactDraft, type GeneratedRegion } from '../../src/contacts/generate.js';
import { parseAddressBook, toIdentifier, type AddressBook } from '../../src/contacts/index.js';
import { compareCodePoints, Directory, SqliteStore, type DirectoryUser } from '../../src/directory/index.js';
import { loadGroup, type Rng } from '../../src/group/index.js';
import { createSuite, Modes, type OprfSuite } from '../../src/oprf/index.js';
import { decodeMessage } from '../../src/protocol/codec.js';
import { labelDisplay } from '../../src/protocol/discovery/label-text.js';
import type { DiscoveryBackend } from '../../src/protocol/discovery/backend.js';
import { DEFAULT_DISCOVERY_LIMITS, discoverySchemas, type DiscoveryMessage } from '../../src/protocol/discovery/messages.js';
import { DiscoveryServerSession } from '../../src/protocol/discovery/server.js';
import { startServer, SUBPROTOCOL, type PsiServer, type ServerOptions, type SessionReport } from '../../src/transport/ws/index.js';

export const fastGroup = await loadGroup('ristretto255', 'sodium');
/** The directory suite, on the fast backend. */
export const directorySuite = (): OprfSuite => createSuite('ristretto255-SHA512', Modes.VOPRF, fastGroup);

// ---------------------------------------------------------------------------------------
// Temp folders and directories

/** A temp folder, removed by `cleanup()` (call it in afterAll / finally). */
export function tempDir(prefix = 'contact-psi-service-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Opens (creating) a SQLite directory at `db`, key file `<db>.key`, on the fast backend. */
export function openSqliteDirectory(db: string): Promise<Directory> {
  return Directory.open({ store: SqliteStore.open(db), suite: directorySuite() });
}

export interface GenerateUsersOptions {
  /** Regions phone numbers are drawn from (default CH, DE, US). */
  regions?: readonly GeneratedRegion[];
  /** Users who opted out, per mille (default 150: enough to land in every address book). */
  hiddenPerMille?: number;
  /** Prefix of the user IDs (default `user-`). */
  prefix?: string;
}

/**
 * `count` users with 1–2 phone numbers (distinct over the whole directory), a third with
 * an e-mail address; half the labels are printable text (`pk:<userId>`), half 32 random
 * bytes (which the sync SDK shows as `base64:…`).
 */
export function generateUsers(rng: Rng, count: number, options: GenerateUsersOptions = {}): DirectoryUser[] {
  const regions = options.regions ?? (['CH', 'DE', 'US'] as const);
  const hidden = options.hiddenPerMille ?? 150;
  const prefix = options.prefix ?? 'user-';
  const used = new Set<string>();
  const freshPhone = (): string => {
    for (;;) {
      const id = toIdentifier('tel', generatePhoneNumber(rng, regions[randomInt(rng, regions.length)]!));
      if (!used.has(id)) {
        used.add(id);
        return id;
      }
    }
  };
  const users: DirectoryUser[] = [];
  for (let i = 0; i < count; i++) {
    const userId = `${prefix}${String(i).padStart(5, '0')}`;
    const identifiers = [freshPhone()];
    if (randomInt(rng, 4) === 0) identifiers.push(freshPhone());
    if (randomInt(rng, 3) === 0) identifiers.push(`mailto:${userId}@example.org`);
    const label = randomInt(rng, 2) === 0 ? new TextEncoder().encode(`pk:${userId}`) : rng(32).slice();
    users.push({ userId, identifiers: identifiers.sort(compareCodePoints), label, discoverable: randomInt(rng, 1000) >= hidden });
  }
  return users;
}

/** A SQLite directory in `folder` holding `users`, tags precomputed. */
export async function buildDirectory(folder: string, users: readonly DirectoryUser[], name = 'directory.db'): Promise<Directory> {
  mkdirSync(folder, { recursive: true });
  const directory = await openSqliteDirectory(join(folder, name));
  await directory.importUsers(users);
  await directory.precompute();
  return directory;
}

// ---------------------------------------------------------------------------------------
// Address books

/** The label text the sync SDK shows (src/protocol/discovery/label-text.ts labelDisplay: UTF-8 text, else base64:...). */
export const labelText = labelDisplay;

export const BookFormats = ['vcard-3.0', 'vcard-4.0', 'csv', 'csv-semicolon', 'csv-google'] as const;
export type BookFormat = (typeof BookFormats)[number];

export function writeBook(drafts: readonly ContactDraft[], format: BookFormat): string {
  switch (format) {
    case 'vcard-3.0':
      return toVcard(drafts, { version: '3.0' });
    case 'vcard-4.0':
      return toVcard(drafts, { version: '4.0' });
    case 'csv':
      return toContactsCsv(drafts);
    case 'csv-semicolon':
      return toContactsCsv(drafts, { delimiter: ';' });
    case 'csv-google':
      return toContactsCsv(drafts, { style: 'google' });
  }
}

/** A contact as written, and the canonical identifiers it must normalize to. */
export interface PlannedContact {
  name: string;
  phones: string[];
  emails: string[];
  identifiers: Set<string>;
}

/** International dialling prefix of the book's region, for `00 41 79 …` / `011 41 79 …`. */
const IDD: Record<string, string> = { CH: '00', DE: '00', US: '011' };
const FOREIGN_STYLES = new Set(['e164', 'international', 'international-dashed', 'international-dotted', 'tel-uri', 'international-trunk']);

/**
 * The ways someone in `home` writes `e164`: every style of formatNationally when the
 * number is from `home`, the international ones otherwise, plus the IDD form of `home`.
 */
export function phoneWritings(e164: string, home: GeneratedRegion): string[] {
  const variants = formatNationally(e164);
  const local = variants[0]!.region === home;
  const out = variants.filter((v) => local || FOREIGN_STYLES.has(v.style)).map((v) => v.text);
  const international = variants.find((v) => v.style === 'international')!.text;
  out.push(`${IDD[home]} ${international.slice(1)}`);
  return out;
}

/** Mixed case per character, sometimes with blanks around or a MAILTO: scheme. */
export function emailWriting(address: string, rng: Rng): string {
  let text = [...address].map((ch) => (randomInt(rng, 2) === 0 ? ch.toUpperCase() : ch)).join('');
  const dressing = randomInt(rng, 4);
  if (dressing === 1) text = `  ${text} `;
  if (dressing === 2) text = `MAILTO:${text}`;
  return text;
}

/** One expected row of SyncOutcome.matches. */
export type ExpectedRow = SyncMatch;

/**
 * What a sync of `contacts` against `users` must return: one row per (contact, identifier)
 * for every identifier of a discoverable user, sorted as the SDK sorts.
 */
export function expectedRows(contacts: readonly PlannedContact[], users: readonly DirectoryUser[]): ExpectedRow[] {
  const owner = new Map<string, DirectoryUser>();
  for (const u of users) if (u.discoverable) for (const id of u.identifiers) owner.set(id, u);
  const rows: ExpectedRow[] = [];
  for (const c of contacts) {
    for (const id of c.identifiers) {
      const u = owner.get(id);
      if (u) rows.push({ name: c.name, identifier: id, userId: u.userId, label: labelText(u.label), labelBytes: u.label });
    }
  }
  return sortRows(rows);
}

export const sortRows = <T extends { name: string; identifier: string }>(rows: readonly T[]): T[] =>
  [...rows].sort((a, b) => compareCodePoints(a.name, b.name) || compareCodePoints(a.identifier, b.identifier));

/**
 * A small address book for `home`: `registered` numbers and e-mail addresses of random
 * users (discoverable or not), `unregistered` fresh numbers, in random writings.
 */
export function smallBook(rng: Rng, users: readonly DirectoryUser[], size: { contacts: number; registered: number; unregistered: number }, home: GeneratedRegion = 'CH'): PlannedContact[] {
  const contacts: PlannedContact[] = Array.from({ length: size.contacts }, (_, i) => ({ name: `Contact ${i}`, phones: [], emails: [], identifiers: new Set() }));
  const taken = new Set(users.flatMap((u) => u.identifiers));
  const place = (id: string) => {
    const c = contacts[randomInt(rng, contacts.length)]!;
    if (id.startsWith('tel:')) {
      const writings = phoneWritings(id.slice(4), home);
      c.phones.push(writings[randomInt(rng, writings.length)]!);
    } else c.emails.push(emailWriting(id.slice(7), rng));
    c.identifiers.add(id);
  };
  for (let i = 0; i < size.registered; i++) {
    const u = users[randomInt(rng, Math.min(users.length, 0x10000))]!;
    place(u.identifiers[randomInt(rng, u.identifiers.length)]!);
  }
  for (let i = 0; i < size.unregistered; i++) {
    let id: string;
    do id = toIdentifier('tel', generatePhoneNumber(rng, (['CH', 'DE', 'US'] as const)[randomInt(rng, 3)]!));
    while (taken.has(id));
    place(id);
  }
  return contacts;
}

export function parsePlanned(contacts: readonly PlannedContact[], format: BookFormat, home: GeneratedRegion): AddressBook {
  return parseAddressBook(writeBook(contacts, format), { defaultRegion: home });
}

/** syncAddressBook on the fast backend. */
export function sync(server: string, book: AddressBook, cacheDir: string, extra: Partial<Parameters<typeof syncAddressBook>[0]> = {}): Promise<SyncOutcome> {
  return syncAddressBook({ server, book, cacheDir, backend: 'sodium', ...extra });
}

/** The rows of a sync outcome, in the order expectedRows uses. */
export const outcomeRows = (outcome: SyncOutcome): ExpectedRow[] => sortRows(outcome.matches.map((m) => ({ ...m })));

// ---------------------------------------------------------------------------------------
// Servers and peers

/**
 * A discovery server built as serveDirectory builds it (serve.ts), on an open backend,
 * with transport options the CLI does not expose (short idle timeout, small maxPayload).
 */
export async function startDiscoveryServer(backend: DiscoveryBackend, options: Partial<Omit<ServerOptions, 'createSession'>> = {}): Promise<PsiServer> {
  const rng = (n: number) => new Uint8Array(randomBytes(n));
  return startServer({
    host: '127.0.0.1',
    port: 0,
    ...options,
    createSession: ({ now }) => new DiscoveryServerSession({ backend, rng, now }),
  });
}

/** Every 'session' report of a server, in order. */
export function sessionReports(server: PsiServer): SessionReport[] {
  const seen: SessionReport[] = [];
  server.on('session', (r) => seen.push(r));
  return seen;
}

export async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const schemas = discoverySchemas(DEFAULT_DISCOVERY_LIMITS);
export const decodeDiscovery = (bytes: Uint8Array): DiscoveryMessage => decodeMessage<DiscoveryMessage>(bytes, schemas, DEFAULT_DISCOVERY_LIMITS.maxMessageBytes);

export interface RawPeer {
  ws: WebSocket;
  messages: Uint8Array[];
  opened: Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
  /** Decoded messages received so far. */
  decoded(): DiscoveryMessage[];
  /** Resolves once `n` messages have arrived. */
  received(n: number): Promise<void>;
}

/** A raw `ws` client speaking the subprotocol, recording what the server sends. */
export function rawPeer(url: string): RawPeer {
  const ws = new WebSocket(url, [SUBPROTOCOL], { perMessageDeflate: false });
  const messages: Uint8Array[] = [];
  ws.on('message', (data) => messages.push(new Uint8Array(data as Buffer)));
  ws.on('error', () => {});
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('close', () => reject(new Error('closed before open')));
  });
  opened.catch(() => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  return { ws, messages, opened, closed, decoded: () => messages.map(decodeDiscovery), received: (n) => waitFor(() => messages.length >= n) };
}

/**
 * A TCP proxy in front of `target` that forwards each WebSocket upgrade, then holds the
 * client's bytes until `release()`: the server has an open WebSocket for every client
 * (they count in `server.connections`) that sends nothing until then.
 */
export const holdingProxy = (target: string) => tcpProxy(target, { holdAfterUpgrade: true });

/**
 * An honest client (syncAddressBook) that connects now, through a holding proxy, and is
 * released by `finish()`, which returns its outcome: it is connected during everything
 * that happens in between.
 */
export async function heldSync(server: PsiServer, book: AddressBook, cacheDir: string) {
  const proxy = await holdingProxy(server.url);
  const known = new Set(server.connectionStats().map((c) => c.connectionId));
  const outcome = sync(proxy.url, book, cacheDir);
  outcome.catch(() => {});
  await proxy.upgraded;
  // Its WebSocket is open on the server (a connection id not seen before).
  await waitFor(() => server.connectionStats().some((c) => !known.has(c.connectionId)));
  return {
    async finish(): Promise<SyncOutcome> {
      proxy.release();
      try {
        return await outcome;
      } finally {
        await proxy.close();
      }
    },
  };
}
