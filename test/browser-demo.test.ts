/**
 * Issue 12 §3, end to end in headless Chromium (Debian's `chromium`, driven by
 * playwright-core; .ci/run installs it when missing): `contact-psi demo --web`'s page,
 * bundled by esbuild from contact-psi/browser, syncs the demo's address book picked in a
 * file input, and
 * - finds exactly the rows the CLI finds for the same book against the same server;
 * - runs on the fast path (libsodium + WebAssembly SIMD inlined in the bundle; no slow-path
 *   warning), with no `.wasm` fetched;
 * - keeps its state in IndexedDB: picking the file again is a cache hit with the same rows;
 *   a damaged snapshot record is downloaded again, damaged pins are `cache_corrupt`;
 * - sends nothing but the protocol: no request leaves for another origin, and no
 *   WebSocket frame carries an identifier of the book;
 * and leaves a screenshot in docs/browser-demo.png.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoOutcome } from '../src/browser/demo/page.js';
import { startDemoWeb, type RunningDemoWeb } from '../src/cli/commands/demo-web.js';
import { parseAddressBook, uniqueIdentifiers } from '../src/contacts/index.js';

const CHROMIUM = process.env.CONTACT_PSI_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
const CLI = new URL('../dist/src/cli/main.js', import.meta.url);
const SCREENSHOT = new URL('../docs/browser-demo.png', import.meta.url);

const work = mkdtempSync(join(tmpdir(), 'contact-psi-browser-demo-'));
let demo: RunningDemoWeb;
let context: BrowserContext;
let page: Page;
const requests: string[] = [];
const sentFrames: Buffer[] = [];

type Row = { name: string; identifier: string; userId: string };
const key = (r: Row) => `${r.name}\t${r.identifier}\t${r.userId}`;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does), or set CONTACT_PSI_CHROMIUM`);
  demo = await startDemoWeb({ users: 2_000, contacts: 400, port: 0, work: join(work, 'demo') });
  context = await chromium.launchPersistentContext(mkdtempSync(join(work, 'profile-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1100, height: 900 },
  });
  page = await context.newPage();
  page.on('request', (r) => requests.push(r.url()));
  page.on('websocket', (ws) => ws.on('framesent', (f) => sentFrames.push(Buffer.from(f.payload))));
  await page.goto(demo.url);
  await page.waitForSelector('body[data-state="ready"]');
}, 120_000);

afterAll(async () => {
  await context?.close();
  await demo?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Picks the sample in the page's file input and waits for the sync to end; the page's state. */
async function pick(): Promise<NonNullable<Window['contactPsiDemo']>> {
  await page.evaluate(() => (document.body.dataset.state = 'picking'));
  await page.setInputFiles('#book', demo.samplePath);
  await page.waitForSelector('body[data-state="done"], body[data-state="failed"]', { timeout: 60_000 });
  return (await page.evaluate(() => window.contactPsiDemo))!;
}

async function pickSample(): Promise<DemoOutcome> {
  const state = await pick();
  if (state.error) throw new Error(`the page failed: ${state.error.code}: ${state.error.message}`);
  return state.outcome!;
}

/** Rewrites one record of the page's IndexedDB cache (database contact-psi, store records). */
async function tamper(item: string, how: 'flip-snapshot-byte' | 'garbage'): Promise<void> {
  await page.evaluate(
    async ({ server, item, how }) => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const r = indexedDB.open('contact-psi');
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
      const store = db.transaction('records', 'readwrite').objectStore('records');
      const key = [server, item];
      const value = await new Promise<{ bytes: Uint8Array } | undefined>((resolve) => {
        const r = store.get(key);
        r.onsuccess = () => resolve(r.result);
      });
      if (value === undefined) throw new Error(`no ${item} record`);
      if (how === 'flip-snapshot-byte') value.bytes[0] ^= 1;
      await new Promise((resolve) => {
        const r = store.put(how === 'garbage' ? new Uint8Array([1, 2, 3]) : value, key);
        r.onsuccess = resolve;
      });
      db.close();
    },
    { server: demo.server, item, how },
  );
}

async function cliRows(): Promise<Row[]> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [CLI.pathname, 'sync', '--server', demo.server, '--contacts', demo.samplePath, '--region', 'CH', '--json', '--cache', join(work, 'cli-cache')],
    { maxBuffer: 16 << 20 },
  );
  return (JSON.parse(stdout) as Row[]).map(({ name, identifier, userId }) => ({ name, identifier, userId }));
}

describe('demo --web in headless Chromium', () => {
  it('shows the rows the CLI finds, on the fast path, and a second pick is a cache hit', async () => {
    const first = await pickSample();
    const cli = await cliRows();
    expect(cli.length).toBeGreaterThan(20);
    expect(first.matches.map(key).sort()).toEqual(cli.map(key).sort());
    // Everything planted as discoverable is found (the page is not just agreeing with a broken CLI).
    const found = new Set(first.matches.map((m) => m.identifier));
    for (const id of demo.expected) expect(found.has(id)).toBe(true);
    expect(first.snapshot).toBe('downloaded');
    expect(first.backend).toBe('sodium');
    expect(first.warnings).toEqual([]);
    await page.screenshot({ path: SCREENSHOT.pathname });

    const second = await pickSample();
    expect(second.snapshot).toBe('cached');
    expect(second.matches.map(key).sort()).toEqual(cli.map(key).sort());
  });

  it('a damaged snapshot in IndexedDB is downloaded again; damaged pins are cache_corrupt, never re-pinned', async () => {
    const before = await pickSample();
    await tamper('snapshot', 'flip-snapshot-byte');
    const after = await pickSample();
    expect(after.snapshot).toBe('downloaded');
    expect(after.matches.map(key)).toEqual(before.matches.map(key));
    await tamper('pins', 'garbage');
    const failed = await pick();
    expect(failed.error?.code).toBe('cache_corrupt');
  });

  it('sends nothing but blinded elements: no other origin, no .wasm fetched, no identifier in any frame', () => {
    const page = new URL(demo.url);
    for (const url of requests) expect(new URL(url).host).toBe(page.host);
    expect(requests.some((u) => u.endsWith('.wasm'))).toBe(false);
    expect(sentFrames.length).toBeGreaterThan(0);
    const book = parseAddressBook(readFileSync(demo.samplePath, 'utf8'), { defaultRegion: 'CH' });
    const identifiers = uniqueIdentifiers(book);
    expect(identifiers.length).toBeGreaterThan(100);
    const needles = identifiers.flatMap((id) => [id, id.replace(/^(tel|mailto):/, '')]).map((s) => Buffer.from(s));
    for (const frame of sentFrames) for (const needle of needles) expect(frame.includes(needle)).toBe(false);
  });
});
