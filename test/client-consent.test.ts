/**
 * The consent gate of the client SDK: without consent nothing leaves the device — no
 * transport call, no TCP connection to a real WebSocket server — and revoking consent
 * stops every scheduled sync, including the result of one already on the wire.
 */
import fc from 'fast-check';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { EventEmitter, once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { ContactDiscoveryClient } from '../src/client/sdk.js';
import { ContactPsiError } from '../src/errors.js';
import { bookOf, DAY, directoryOf, FakeClock, folders, HOUR, seededRandom, settle, spyTransport, tempDir } from './client-helpers.js';

const tmp = tempDir('contact-psi-consent-');
afterAll(() => tmp.cleanup());
const fresh = folders(tmp.path);

const book = bookOf([
  ['Alice', ['tel:+41791234567']],
  ['Bob', ['tel:+41797654321', 'mailto:bob@example.org']],
]);

const isConsentRequired = (err: unknown) => err instanceof ContactPsiError && err.code === 'consent_required';

describe('without consent, no bytes leave the device', () => {
  let http: Server;
  let wss: WebSocketServer;
  let url: string;
  /** Remote ports of the TCP connections the server accepted, in order. */
  const accepted: number[] = [];
  const acceptedEvents = new EventEmitter();
  let wsConnections = 0;

  /**
   * A barrier instead of a fixed wait: the test opens its own connection and waits for the
   * server to accept it. The kernel accepts loopback connections in the order their
   * handshakes complete, so a connection the SDK had opened before would be accepted (and
   * counted) before this one.
   */
  async function barrier(): Promise<number> {
    const sentinel = connect(port, '127.0.0.1');
    await once(sentinel, 'connect');
    const localPort = sentinel.localPort!;
    while (!accepted.includes(localPort)) await once(acceptedEvents, 'accepted');
    sentinel.destroy();
    return localPort;
  }
  let port = 0;

  beforeAll(async () => {
    http = createServer();
    http.on('connection', (socket) => {
      accepted.push(socket.remotePort!);
      acceptedEvents.emit('accepted');
    });
    wss = new WebSocketServer({ server: http });
    wss.on('connection', (ws) => {
      wsConnections++;
      ws.close(1000, 'not a directory'); // only for the positive control
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    port = (http.address() as AddressInfo).port;
    url = `ws://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    wss.close();
    http.closeAllConnections();
    await new Promise<void>((r) => http.close(() => r()));
  });

  it('sync() with the default transport rejects consent_required and a real server sees zero connections', async () => {
    const cacheDir = fresh();
    const sdk = new ContactDiscoveryClient({ server: url, cacheDir });
    await expect(sdk.sync(book)).rejects.toSatisfy(isConsentRequired);
    const sentinel = await barrier(); // had the SDK opened a connection, it would be accepted first
    expect(accepted).toEqual([sentinel]);
    expect(wsConnections).toBe(0);
    // Not even the snapshot cache was touched.
    expect(existsSync(cacheDir) ? readdirSync(cacheDir) : []).toEqual([]);

    // Positive control: with consent the same call does reach the server (which is no directory, so it fails).
    sdk.grantConsent();
    await expect(sdk.sync(book)).rejects.toBeInstanceOf(Error);
    expect(accepted).toHaveLength(2);
    expect(wsConnections).toBe(1);
  });

  it('an injected transport is never called without consent', async () => {
    const clock = new FakeClock();
    const spy = spyTransport(clock);
    const sdk = new ContactDiscoveryClient({ server: url, cacheDir: fresh(), clock, transport: spy.transport });
    for (let i = 0; i < 3; i++) await expect(sdk.sync(book)).rejects.toSatisfy(isConsentRequired);
    sdk.start(() => book);
    sdk.notifyAddressBookChanged();
    await clock.advance(3 * DAY);
    expect(spy.calls).toHaveLength(0);
    expect(sdk.nextSync).toBeUndefined();
  });
});

describe('consent is persisted', () => {
  it('in consent.json, mode 0600, seen by a new instance; revocation too', () => {
    const cacheDir = fresh();
    const clock = new FakeClock();
    const a = new ContactDiscoveryClient({ server: 'ws://127.0.0.1:1', cacheDir, clock });
    expect(a.hasConsent()).toBe(false);
    a.grantConsent();
    const file = join(cacheDir, 'consent.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(cacheDir).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ version: 1, granted: true, changedAt: clock.now() });
    expect(new ContactDiscoveryClient({ server: 'ws://127.0.0.1:1', cacheDir }).hasConsent()).toBe(true);
    a.revokeConsent();
    expect(new ContactDiscoveryClient({ server: 'ws://127.0.0.1:1', cacheDir }).hasConsent()).toBe(false);
    expect(readdirSync(cacheDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('fails closed on a malformed consent file', async () => {
    for (const text of ['', '{', '{"version":1,"granted":"yes","changedAt":1}', '{"granted":true}', '[true]', 'null']) {
      const cacheDir = fresh();
      mkdirSync(cacheDir, { recursive: true });
      writeFileSync(join(cacheDir, 'consent.json'), text);
      const clock = new FakeClock();
      const spy = spyTransport(clock);
      const sdk = new ContactDiscoveryClient({ server: 'ws://x', cacheDir, clock, transport: spy.transport });
      expect(sdk.hasConsent()).toBe(false);
      await expect(sdk.sync(book)).rejects.toSatisfy(isConsentRequired);
      expect(spy.calls).toHaveLength(0);
    }
  });
});

describe('revocation stops scheduled syncs', () => {
  it('no sync after revokeConsent, whatever happens; syncs resume after a new grant', async () => {
    const clock = new FakeClock();
    const spy = spyTransport(clock, directoryOf({ 'tel:+41791234567': 'u-alice' }));
    let current = book;
    const sdk = new ContactDiscoveryClient({ server: 'ws://x', cacheDir: fresh(), clock, transport: spy.transport, random: seededRandom(1) });
    sdk.grantConsent();
    sdk.start(() => current);
    await clock.advance(HOUR);
    expect(spy.calls).toHaveLength(1);
    expect(sdk.nextSync?.reason).toBe('periodic');

    sdk.revokeConsent();
    expect(sdk.nextSync).toBeUndefined();
    expect(sdk.lastResult()).toBeUndefined();
    current = bookOf([['Carol', ['tel:+41790000000']]]);
    sdk.notifyAddressBookChanged();
    await clock.advance(30 * DAY);
    expect(spy.calls).toHaveLength(1);
    expect(clock.timerCount).toBe(0);

    sdk.grantConsent(); // started, so the first sync is armed again
    expect(sdk.nextSync?.reason).toBe('initial');
    await clock.advance(HOUR);
    expect(spy.calls).toHaveLength(2);
  });

  it('a sync on the wire when consent is revoked: result discarded, nothing scheduled, state forgotten', async () => {
    const clock = new FakeClock();
    let release = () => {};
    const spy = spyTransport(clock, async (o) => {
      await new Promise<void>((r) => (release = r));
      return directoryOf({ 'tel:+41791234567': 'u-alice' })(o);
    });
    const results: unknown[] = [];
    const errors: unknown[] = [];
    const cacheDir = fresh();
    const sdk = new ContactDiscoveryClient({ server: 'ws://x', cacheDir, clock, transport: spy.transport, onResult: (r) => results.push(r), onError: (e) => errors.push(e) });
    sdk.grantConsent();

    // A background sync in flight.
    sdk.start(() => book);
    await clock.advance(HOUR);
    expect(spy.calls).toHaveLength(1);
    sdk.revokeConsent();
    release();
    await clock.advance(30 * DAY);
    expect(spy.calls).toHaveLength(1);
    expect(results).toEqual([]);
    expect(errors).toEqual([]); // a discarded sync is no failure to retry
    expect(existsSync(join(cacheDir, 'sync-state.json'))).toBe(false);

    // A manual sync in flight.
    sdk.stop();
    sdk.grantConsent();
    const pending = sdk.sync(book);
    await settle();
    expect(spy.calls).toHaveLength(2);
    sdk.revokeConsent();
    release();
    await expect(pending).rejects.toSatisfy(isConsentRequired);
    expect(results).toEqual([]);
    expect(sdk.lastResult()).toBeUndefined();
  });
});

describe('property: the transport runs only while consent is granted', () => {
  type Op =
    | { kind: 'grant' }
    | { kind: 'revoke' }
    | { kind: 'advance'; ms: number }
    | { kind: 'change' }
    | { kind: 'sync' }
    | { kind: 'fail'; on: boolean };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.constant<Op>({ kind: 'grant' }),
    fc.constant<Op>({ kind: 'revoke' }),
    fc.integer({ min: 0, max: 2 * DAY }).map<Op>((ms) => ({ kind: 'advance', ms })),
    fc.constant<Op>({ kind: 'change' }),
    fc.constant<Op>({ kind: 'sync' }),
    fc.boolean().map<Op>((on) => ({ kind: 'fail', on })),
  );

  it('for any sequence of grants, revocations, changes, syncs, failures and time', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 25 }), fc.integer({ min: 1, max: 1e9 }), async (ops, seed) => {
        const clock = new FakeClock();
        let consented = false;
        let failing = false;
        let version = 0;
        const violations: string[] = [];
        const spy = spyTransport(clock, async (o) => {
          if (!consented) violations.push('transport called without consent');
          if (failing) throw Object.assign(new Error('down'), { retryAfterMs: 60_000 });
          return directoryOf({})(o);
        });
        const sdk = new ContactDiscoveryClient({ server: 'ws://x', cacheDir: fresh(), clock, transport: spy.transport, random: seededRandom(seed) });
        sdk.start(() => bookOf([['A', [`tel:+4179${String(1_000_000 + version)}`]]]));
        let callsAtRevoke = 0;
        for (const op of ops) {
          if (op.kind === 'grant') {
            sdk.grantConsent();
            consented = true;
          } else if (op.kind === 'revoke') {
            sdk.revokeConsent();
            consented = false;
            await settle();
            callsAtRevoke = spy.calls.length;
          } else if (op.kind === 'advance') await clock.advance(op.ms);
          else if (op.kind === 'change') {
            version++;
            sdk.notifyAddressBookChanged();
          } else if (op.kind === 'fail') failing = op.on;
          else {
            const before = spy.calls.length;
            const outcome = await sdk.sync(bookOf([['B', ['tel:+41795550000']]])).then(
              () => 'ok',
              (e: unknown) => (isConsentRequired(e) ? 'consent' : 'failed'),
            );
            if (!consented) expect(outcome).toBe('consent');
            if (!consented) expect(spy.calls.length).toBe(before);
          }
          if (!consented) expect(spy.calls.length).toBe(callsAtRevoke);
        }
        expect(violations).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });
});
