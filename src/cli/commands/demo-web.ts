/**
 * `contact-psi demo --web`: the demo in a browser. It builds a SQLite directory of generated
 * users, serves it over WebSocket, writes a generated address book (a share of whose
 * contacts are registered) and serves a static page (src/browser/demo/page.ts) on a second
 * loopback port. A person opens the page, picks that book or their own vCard / CSV file, and
 * sees which contacts are registered, with the timings. The file is parsed in the page; only
 * blinded elements reach the server (the page's Content-Security-Policy allows no other
 * connection).
 */
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoPageHtml, demoPagePolicy } from '../../browser/demo/page-html.js';
import { seededRng } from '../../contacts/generate.js';
import { generateDirectory } from '../../directory/index.js';
import { poolOffload } from '../../parallel/index.js';
import { demoAddressBook } from '../demo-data.js';
import { demoPageBundle } from '../demo-web-bundle.js';
import { openDirectory } from '../open-directory.js';
import { serveDirectory, type RunningServer } from './serve.js';

export interface DemoWebOptions {
  users: string;
  contacts: string;
  /** Port of the page (default 7879; 0 = any free port). The WebSocket server takes any free port. */
  port?: string;
  host?: string;
}

export interface RunningDemoWeb {
  /** The page. */
  url: string;
  /** The directory's WebSocket server. */
  server: string;
  /** The generated address book (vCard), also served at /sample.vcf. */
  samplePath: string;
  /** Identifiers of discoverable users in the sample: what a sync must find. */
  expected: Set<string>;
  bundleSource: 'esbuild' | 'prebuilt';
  close(): Promise<void>;
}

export interface StartDemoWebOptions {
  users: number;
  contacts: number;
  host?: string;
  port?: number;
  /** Folder for the directory and the sample (default: a new temporary one, deleted on close). */
  work?: string;
  log?: (line: string) => void;
}

const SECURITY_HEADERS = { 'x-content-type-options': 'nosniff', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' };

export async function startDemoWeb(options: StartDemoWebOptions): Promise<RunningDemoWeb> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? (() => {});
  const ownWork = options.work === undefined;
  const work = options.work ?? mkdtempSync(join(tmpdir(), 'contact-psi-demo-web-'));
  mkdirSync(work, { recursive: true, mode: 0o700 });
  const rng = seededRng(2026);
  const bundle = await demoPageBundle();
  const users = generateDirectory(options.users, rng);
  const opened = await openDirectory(join(work, 'directory.db'));
  let running: RunningServer | undefined;
  let http: Server | undefined;
  try {
    log(`directory: ${options.users} generated users, precomputing tags…`);
    await opened.directory.importUsers(users);
    await opened.directory.precompute();
    running = await serveDirectory(opened.directory, { host, port: 0, offload: opened.pool ? poolOffload(opened.pool) : undefined });
    const wsUrl = running.server.url;
    const planted = demoAddressBook(users, options.contacts, rng);
    const samplePath = join(work, 'sample.vcf');
    writeFileSync(samplePath, planted.vcard, { mode: 0o600 });

    const html = demoPageHtml({ server: wsUrl, region: 'CH', script: '/demo-page.js', sample: '/sample.vcf' });
    const policy = demoPagePolicy(wsUrl);
    http = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, SECURITY_HEADERS).end();
      } else if (path === '/' || path === '/index.html') {
        res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8', 'content-security-policy': policy }).end(html);
      } else if (path === '/demo-page.js') {
        res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/javascript; charset=utf-8' }).end(bundle.code);
      } else if (path === '/sample.vcf') {
        res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/vcard; charset=utf-8', 'content-disposition': 'attachment; filename="sample.vcf"' }).end(planted.vcard);
      } else {
        res.writeHead(404, SECURITY_HEADERS).end();
      }
    });
    http.listen(options.port ?? 7879, host);
    await once(http, 'listening');
    const { port } = http.address() as AddressInfo;
    const pageServer = http;
    const directoryServer = running;
    return {
      url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
      server: wsUrl,
      samplePath,
      expected: planted.expected,
      bundleSource: bundle.source,
      async close() {
        pageServer.closeAllConnections();
        await new Promise<void>((resolve) => pageServer.close(() => resolve()));
        await directoryServer.close();
        await opened.pool?.close();
        if (ownWork) rmSync(work, { recursive: true, force: true });
      },
    };
  } catch (err) {
    http?.close();
    if (running) await running.close();
    else await opened.directory.close();
    await opened.pool?.close();
    if (ownWork) rmSync(work, { recursive: true, force: true });
    throw err;
  }
}

/** The CLI action: start, print where to go, run until interrupted. */
export async function demoWeb(options: DemoWebOptions): Promise<void> {
  const users = Number(options.users);
  const contacts = Number(options.contacts);
  const port = Number(options.port ?? '7879');
  if (!Number.isInteger(users) || users < 1) throw new Error('--users must be a positive integer');
  if (!Number.isInteger(contacts) || contacts < 1) throw new Error('--contacts must be a positive integer');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('--port must be a TCP port (0 = any free port)');
  const demo = await startDemoWeb({ users, contacts, port, host: options.host, log: (line) => console.log(line) });
  console.log(`directory server: ${demo.server}`);
  console.log(`sample address book: ${demo.samplePath} (${demo.expected.size} of its identifiers are registered)`);
  console.log(`\nopen ${demo.url} in a browser and pick the sample (or your own vCard / CSV file); Ctrl-C stops`);
  const stop = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await stop;
  await demo.close();
}
