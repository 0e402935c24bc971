/**
 * The operator surface of the library server (issue 12 §5): the admin port's /metrics
 * (Prometheus text), /healthz and /readyz, and the JSON log lines — after real syncs with
 * bearer tokens over loopback, read from the outside (HTTP scrape, the log stream).
 *
 * - the counters match what happened: sessions by outcome (a quota refusal included),
 *   identifiers evaluated, tokens charged, labels served, a download then a cached snapshot,
 *   bytes, the evaluation histogram, directory version/epoch/entries, connections;
 * - one JSON line per session (outcome, counts, duration, account hashed) and per refresh;
 * - privacy: no identifier (in any writing), token, account name or blinded element (hex or
 *   base64; recorded on the server as they arrived) appears in the metrics or the logs;
 * - /readyz is 503 until the snapshot is built and the admin port closes with the server.
 */
import { once } from 'node:events';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRng } from '../src/contacts/generate.js';
import { parseAddressBook } from '../src/contacts/index.js';
import { accountHash, serveDirectory, ServerMetrics, startAdminServer, type DirectoryServer, type ServedSessionEvent } from '../src/index.js';
import type { OprfOffload } from '../src/protocol/offload.js';
import { inlineOffload } from '../src/server/session-observer.js';
import { generateUsers, openSqliteDirectory, sync, tempDir } from './helpers/service.js';

const tmp = tempDir('contact-psi-ops-metrics-');
const TOKEN = 'token-of-grace-0123456789abcdef';
const ACCOUNT = 'grace@example.org';
const users = generateUsers(seededRng(31), 40);
// Three registered contacts and two strangers, then ten more strangers (past the quota of 12).
const registered = users.slice(0, 3).map((u) => u.identifiers.find((i) => i.startsWith('tel:'))!.slice(4));
const strangers = Array.from({ length: 12 }, (_, i) => `+4179555${String(1000 + i)}`);
const firstBook = [...registered, ...strangers.slice(0, 2)];
const secondBook = [...firstBook, ...strangers.slice(2)];
const book = (phones: string[]) => parseAddressBook(`name,phone\n${phones.map((p, i) => `C${i},${p}`).join('\n')}\n`, { defaultRegion: 'CH' });

/** Every blinded element the server was asked to evaluate, as the session handed it over. */
const blinded: Uint8Array[] = [];
const recording: OprfOffload = {
  ...inlineOffload,
  blindEvaluateVerifiable(suite, secretKey, packed, rng) {
    const size = suite.group.elementSize;
    for (let off = 0; off < packed.length; off += size) blinded.push(packed.slice(off, off + size));
    return inlineOffload.blindEvaluateVerifiable(suite, secretKey, packed, rng);
  },
};

let logText = '';
const logStream = new Writable({
  write(chunk: Buffer, _enc, done) {
    logText += chunk.toString();
    done();
  },
});

let server: DirectoryServer;
let admin = '';
const sessions: ServedSessionEvent[] = [];

beforeAll(async () => {
  const db = join(tmp.path, 'directory.db');
  const directory = await openSqliteDirectory(db);
  await directory.importUsers(users);
  await directory.precompute();
  await directory.close();
  server = await serveDirectory({
    store: db,
    host: '127.0.0.1',
    port: 0,
    offload: recording,
    accounts: new Map([[TOKEN, ACCOUNT]]),
    quota: { sync: { capacity: 12, refillPerMs: 0 } },
    refreshMs: 0,
    admin: { port: 0 },
    logger: pino({ level: 'info' }, logStream),
  });
  admin = server.admin!.url;
  server.on('session', (e: ServedSessionEvent) => sessions.push(e));
});
afterAll(async () => {
  await server?.close();
  tmp.cleanup();
});

const scrape = async (): Promise<string> => (await fetch(`${admin}/metrics`)).text();
const value = (text: string, series: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (!line) throw new Error(`no series ${series} in the scrape`);
  return Number(line.slice(series.length + 1));
};
async function sessionsSeen(n: number): Promise<void> {
  while (sessions.length < n) await once(server, 'session');
}

describe('admin port and logs', () => {
  it('answers /healthz and /readyz, and only GET on known paths', async () => {
    expect((await fetch(`${admin}/healthz`)).status).toBe(200);
    expect((await fetch(`${admin}/readyz`)).status).toBe(200);
    expect((await fetch(`${admin}/nope`)).status).toBe(404);
    expect((await fetch(`${admin}/metrics`, { method: 'POST' })).status).toBe(405);
    expect(new URL(admin).hostname).toBe('127.0.0.1');
  });

  it('counts syncs as they happened, and logs one line per session and per refresh', async () => {
    const cache = join(tmp.path, 'cache');
    const first = await sync(server.url, book(firstBook), cache, { token: TOKEN });
    expect(first.matches).toHaveLength(3);
    await sessionsSeen(1);
    // The same book again: nothing new to evaluate, the snapshot is current (cached).
    await sync(server.url, book(firstBook), cache, { token: TOKEN });
    await sessionsSeen(2);
    // Ten new contacts with 7 tokens left: refused by the quota.
    await expect(sync(server.url, book(secondBook), cache, { token: TOKEN })).rejects.toMatchObject({ code: 'rate_limited' });
    await sessionsSeen(3);
    await server.refresh();

    const text = await scrape();
    expect(value(text, 'contact_psi_sessions_total{outcome="ok"}')).toBe(2);
    expect(value(text, 'contact_psi_sessions_total{outcome="rate_limited"}')).toBe(1);
    expect(value(text, 'contact_psi_rate_limited_total{stage="session"}')).toBe(1);
    expect(value(text, 'contact_psi_identifiers_evaluated_total')).toBe(sessions.reduce((n, s) => n + s.counts.evaluated, 0));
    expect(value(text, 'contact_psi_identifiers_evaluated_total')).toBeGreaterThanOrEqual(5);
    expect(value(text, 'contact_psi_quota_tokens_charged_total{purpose="sync"}')).toBe(5);
    expect(value(text, 'contact_psi_labels_served_total')).toBe(3);
    expect(value(text, 'contact_psi_snapshot_sessions_total{kind="download"}')).toBe(1);
    expect(value(text, 'contact_psi_snapshot_sessions_total{kind="cached"}')).toBe(1);
    expect(value(text, 'contact_psi_bytes_received_total')).toBeGreaterThan(5 * 32);
    expect(value(text, 'contact_psi_bytes_sent_total')).toBeGreaterThan(value(text, 'contact_psi_bytes_received_total'));
    expect(value(text, 'contact_psi_evaluation_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(value(text, 'contact_psi_pool_pending_chunks')).toBe(0);
    const view = server.backend.current();
    expect(value(text, 'contact_psi_directory_epoch')).toBe(view.epoch);
    expect(value(text, 'contact_psi_directory_version')).toBe(view.snapshot.version);
    expect(value(text, 'contact_psi_directory_entries')).toBe(view.snapshot.count);
    // Read at the scrape; the last client's socket may still be closing.
    expect(value(text, 'contact_psi_connections')).toBeLessThanOrEqual(1);
    expect(value(text, 'contact_psi_ready')).toBe(1);
    expect(value(text, 'contact_psi_directory_events_total{event="refresh",outcome="ok"}')).toBe(1);

    const lines = logText.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const sessionLines = lines.filter((l) => l.event === 'session');
    expect(sessionLines.map((l) => l.outcome)).toEqual(['ok', 'ok', 'rate_limited']);
    expect(sessionLines[0]).toMatchObject({ account: accountHash(ACCOUNT), charged: 5, labels: 3, snapshot: 'download' });
    expect(sessionLines[1]).toMatchObject({ snapshot: 'cached', charged: 0 });
    for (const l of sessionLines) expect(typeof l.durationMs).toBe('number');
    expect(lines.filter((l) => l.event === 'refresh')).toHaveLength(1);
  });

  it('never shows an identifier, a token, an account or a blinded element', async () => {
    expect(blinded.length).toBeGreaterThanOrEqual(5);
    const text = (await scrape()) + '\n' + logText;
    const secrets = [
      TOKEN,
      ACCOUNT,
      ...secondBook.flatMap((p) => [p, p.slice(1), p.slice(3), `tel:${p}`]),
      ...users.slice(0, 3).flatMap((u) => [u.userId, ...u.identifiers]),
      ...blinded.flatMap((b) => [Buffer.from(b).toString('hex'), Buffer.from(b).toString('base64'), Buffer.from(b).toString('base64url'), Buffer.from(b.subarray(0, 8)).toString('hex')]),
    ];
    for (const secret of secrets) expect(text.includes(secret), `found ${secret}`).toBe(false);
  });

  it('/readyz follows readiness (503 while the snapshot is built), and the admin port closes with the server', async () => {
    let ready = false;
    const probe = await startAdminServer(new ServerMetrics({ processMetrics: false }), () => ready, { port: 0 });
    try {
      expect((await fetch(`${probe.url}/readyz`)).status).toBe(503);
      expect((await fetch(`${probe.url}/healthz`)).status).toBe(200);
      ready = true;
      expect((await fetch(`${probe.url}/readyz`)).status).toBe(200);
    } finally {
      await probe.close();
    }
    const db = join(tmp.path, 'second.db');
    const directory = await openSqliteDirectory(db);
    await directory.importUsers(users.slice(0, 5));
    await directory.close();
    const started = await serveDirectory({ store: db, host: '127.0.0.1', port: 0, workers: 0, admin: { port: 0 } });
    const url = started.admin!.url;
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    await started.close();
    expect(started.ready).toBe(false);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});
