/**
 * Red team, connection caps (issue 9 §2), the classes found after the first fix:
 *
 * 1. Slowloris before the upgrade: the per-address and global caps only counted from the
 *    complete upgrade request, so a peer trickling request headers held TCP sockets (and file
 *    descriptors) without limit for handshakeTimeoutMs each (measured against `serve`: 2,000
 *    half-open sockets from one address, all kept). Now a socket whose request is not
 *    complete takes a request-pending slot of its address and of the server from accept.
 * 2. The per-address cap keyed on the exact address: an IPv6 host owns a /64 (2^64
 *    addresses), and a dual-stack listener reports an IPv4 peer as `::ffff:a.b.c.d`.
 */
import net from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { SansIoSession } from '../src/protocol/session-core.js';
import { addressKey } from '../src/transport/ws/address-key.js';
import { startServer, type PsiServer, type RejectionEvent } from '../src/transport/ws/index.js';

const idle = (): SansIoSession => ({
  handle: () => {},
  handleTimeout: () => {},
  pollTransmit: () => undefined,
  pollEvent: () => undefined,
  pollTimeout: () => undefined,
  abort: () => {},
  isFinished: () => false,
  currentState: 'idle',
  error: undefined,
});

const servers: PsiServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close({ graceMs: 0 });
});

/** A TCP peer that sends the first line of an upgrade request and never finishes it. */
function trickler(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, closed };
}

describe('half-open connections before the upgrade (slowloris)', () => {
  it('one address holds at most maxConnectionsPerAddress sockets with an incomplete request; the rest are dropped at accept', async () => {
    const cap = 4;
    const server = await startServer({ createSession: idle, heartbeatIntervalMs: 0, maxConnectionsPerAddress: cap });
    servers.push(server);
    const rejected: RejectionEvent[] = [];
    server.on('rejected', (e) => rejected.push(e));
    const peers = Array.from({ length: 3 * cap }, () => trickler(server.port));
    // Every socket past the cap is closed by the server at once (handshakeTimeoutMs is 10 s).
    const overCap = await new Promise<RejectionEvent[]>((resolve) => {
      const check = () => {
        if (rejected.length < 2 * cap) return;
        server.off('rejected', check);
        resolve(rejected);
      };
      server.on('rejected', check);
      check();
    });
    expect(overCap).toHaveLength(2 * cap);
    expect(overCap.every((e) => e.reason === 'too_many_from_address' && e.atAccept === true)).toBe(true);
    // The dropped sockets' closes reach the peers; the first `cap` stay open meanwhile.
    let closes = 0;
    await new Promise<void>((resolve) => peers.forEach((p) => p.closed.then(() => ++closes === 2 * cap && resolve())));
    expect(peers.filter((p) => !p.socket.destroyed && !p.socket.readableEnded)).toHaveLength(cap);
    // Once they are gone, the address can connect again.
    for (const p of peers) p.socket.destroy();
    await Promise.all(peers.map((p) => p.closed));
    const again = trickler(server.port);
    again.socket.write('\r\n');
    const answer = await new Promise<string>((resolve) => again.socket.once('data', (d) => resolve(d.toString('latin1'))));
    expect(answer.startsWith('HTTP/1.1 426')).toBe(true);
    again.socket.destroy();
  });

  it('a completed request gives its slot back at once: more requests than the cap, all kept open, are all answered', async () => {
    const server = await startServer({ createSession: idle, heartbeatIntervalMs: 0, maxConnectionsPerAddress: 2 });
    servers.push(server);
    const rejected: RejectionEvent[] = [];
    server.on('rejected', (e) => rejected.push(e));
    const peers = [];
    for (let i = 0; i < 6; i++) {
      const peer = trickler(server.port);
      peers.push(peer);
      const answer = new Promise<string>((resolve) => peer.socket.once('data', (d) => resolve(d.toString('latin1'))));
      peer.socket.write('\r\n'); // the request is complete (a plain GET): 426
      expect((await answer).startsWith('HTTP/1.1 426')).toBe(true);
    }
    expect(rejected.map((r) => r.reason)).toEqual(new Array(6).fill('not_websocket'));
    for (const p of peers) p.socket.destroy();
  });
});

describe('addressKey', () => {
  it('an IPv6 host is one key for its whole /64', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }), fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 4, maxLength: 4 }), (a, iid) => {
        const full = a.map((g) => g.toString(16)).join(':');
        const sameNet = [...a.slice(0, 4), ...iid].map((g) => g.toString(16)).join(':');
        expect(addressKey(full)).toBe(addressKey(sameNet));
        expect(addressKey(full)).toBe(`${a.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`);
      }),
    );
  });

  it('compressed forms, zones and IPv4-mapped addresses', () => {
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('2001:db8::1')).toBe(addressKey('2001:db8:0:0:ffff::2'));
    expect(addressKey('2001:db8:0:1::1')).not.toBe(addressKey('2001:db8:0:2::1'));
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('::FFFF:192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
    expect(addressKey(undefined)).toBe('unknown');
  });

  it('property: IPv4 addresses and their mapped form share a key; distinct IPv4 addresses do not', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.ipV4(), (a, b) => {
        expect(addressKey(`::ffff:${a}`)).toBe(addressKey(a));
        if (a !== b) expect(addressKey(a)).not.toBe(addressKey(b));
      }),
    );
  });
});
