/**
 * runClientSession keeps the cause of a connection that never opened (issue 12 §4): a
 * ConnectFailedError whose code names it (connect_refused, dns_failure, tls_failure,
 * connect_failed) instead of a bare ConnectionClosedError 1006. Browser-style sockets give
 * no cause and still get the close. Messages carry the URL's origin only, never a path,
 * query or credentials.
 */
import fc from 'fast-check';
import { createServer, type AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nobleRistretto255 } from '../src/group/noble.js';
import { createSuite, Modes } from '../src/oprf/index.js';
import { ClientSession } from '../src/protocol/client-session.js';
import { ConnectFailedError, ConnectFailureCodes, connectFailure, connectFailureCodeOf, urlOrigin } from '../src/transport/ws/client-connect-error.js';
import { ConnectionClosedError, runClientSession, type WebSocketConstructor } from '../src/transport/ws/index.js';
import { utf8 } from './helpers/psi.js';
import { seededRng } from './helpers/rng.js';

const suite = createSuite('ristretto255-SHA512', Modes.OPRF, nobleRistretto255);
const client = () => new ClientSession({ suite, items: ['+41555500101'].map(utf8), rng: seededRng(1) });

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

let plain: WebSocketServer;
let plainPort = 0;
beforeAll(async () => {
  plain = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => plain.once('listening', r));
  plainPort = (plain.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((r) => plain.close(r));
});

describe('runClientSession: why the socket never opened', () => {
  it('a closed port is connect_refused (ECONNREFUSED), and the message holds no path, query or credentials', async () => {
    const port = await closedPort();
    const err = await runClientSession(`ws://user:secret@127.0.0.1:${port}/dir?token=t0ps3cret`, client()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectFailedError);
    expect(err).toMatchObject({ code: 'connect_refused', systemCode: 'ECONNREFUSED', remote: false });
    expect((err as Error).message).toContain(`ws://127.0.0.1:${port}`);
    expect((err as Error).message).not.toMatch(/secret|t0ps3cret|dir/);
  });

  it('an unresolvable host (.invalid) is dns_failure', async () => {
    await expect(runClientSession('ws://contact-psi-test.invalid:7878', client())).rejects.toMatchObject({ code: 'dns_failure' });
  });

  it('wss:// to a plain server is tls_failure', async () => {
    await expect(runClientSession(`wss://127.0.0.1:${plainPort}`, client())).rejects.toMatchObject({ code: 'tls_failure' });
  });

  it('a browser-style socket (an error event without a cause) still reports the close 1006', async () => {
    const port = await closedPort();
    // ws under a constructor without `on`/`terminate` on its prototype: the browser path.
    const { default: Ws } = await import('ws');
    class BrowserLike {
      readonly #ws: InstanceType<typeof Ws>;
      constructor(url: string, protocols?: string | string[]) {
        this.#ws = new Ws(url, protocols);
      }
      get binaryType() {
        return this.#ws.binaryType;
      }
      set binaryType(v: string) {
        this.#ws.binaryType = v as 'arraybuffer';
      }
      get bufferedAmount() {
        return this.#ws.bufferedAmount;
      }
      get readyState() {
        return this.#ws.readyState;
      }
      send(data: Uint8Array) {
        this.#ws.send(data);
      }
      close(code?: number, reason?: string) {
        this.#ws.close(code, reason);
      }
      addEventListener(type: string, listener: (event: never) => void) {
        // Browsers give the error event no cause: drop it.
        if (type === 'error') return this.#ws.addEventListener('error', () => (listener as (e: object) => void)({}));
        this.#ws.addEventListener(type as 'close', listener as never);
      }
    }
    const err = await runClientSession(`ws://127.0.0.1:${port}`, client(), { WebSocket: BrowserLike as unknown as WebSocketConstructor }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect(err).toMatchObject({ code: 'closed', closeCode: 1006 });
  });
});

describe('connectFailureCodeOf', () => {
  it('maps the system codes it knows', () => {
    expect(connectFailureCodeOf('ECONNREFUSED')).toBe('connect_refused');
    for (const c of ['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL']) expect(connectFailureCodeOf(c)).toBe('dns_failure');
    for (const c of ['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_TLS_CERT_ALTNAME_INVALID', 'EPROTO', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED']) {
      expect(connectFailureCodeOf(c)).toBe('tls_failure');
    }
    expect(connectFailureCodeOf(undefined, { library: 'SSL routines' })).toBe('tls_failure');
    for (const c of ['ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', undefined]) expect(connectFailureCodeOf(c)).toBe('connect_failed');
  });

  it('any cause at all gives one of the four codes and a ConnectFailedError, never a throw', () => {
    fc.assert(
      fc.property(fc.anything(), fc.string(), (cause, url) => {
        const err = connectFailure(url, cause);
        expect(err).toBeInstanceOf(ConnectFailedError);
        expect(ConnectFailureCodes).toContain(err.code);
        expect(urlOrigin(url)).not.toContain('?');
      }),
    );
  });
});
