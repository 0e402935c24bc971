/**
 * Helpers for the issue-4 service tests (test/service-issue4-*.test.ts): deltas, epochs,
 * quotas and split views over real loopback sockets. Builds on test/helpers/service.ts;
 * adds a raw WebSocket peer that can present a bearer token, and one TCP proxy that
 * counts bytes per connection, can be re-pointed at another server (the client keeps one
 * URL, so one cache and one pinned key), and can hold each client after its first
 * server frame (dir.info) until released.
 */
import { chmodSync, copyFileSync, existsSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import WebSocket from 'ws';
import { encodeMessage } from '../../src/protocol/codec.js';
import type { DirInfo, DiscoveryMessage } from '../../src/protocol/discovery/messages.js';
import { SUBPROTOCOL } from '../../src/transport/ws/index.js';
import { decodeDiscovery, waitFor } from './service.js';

export interface TokenPeer {
  ws: WebSocket;
  messages: Uint8Array[];
  opened: Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
  /** HTTP status when the upgrade was refused. */
  refused: Promise<number>;
  decoded(): DiscoveryMessage[];
  received(n: number): Promise<void>;
  send(message: DiscoveryMessage | { t: string; [k: string]: unknown }): void;
}

/** A raw `ws` client speaking the subprotocol, with an optional bearer token. */
export function tokenPeer(url: string, token?: string): TokenPeer {
  const ws = new WebSocket(url, [SUBPROTOCOL], {
    perMessageDeflate: false,
    headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
  });
  const messages: Uint8Array[] = [];
  ws.on('message', (data) => messages.push(new Uint8Array(data as Buffer)));
  ws.on('error', () => {});
  const refused = new Promise<number>((resolve) =>
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
      ws.terminate();
    }),
  );
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('close', () => reject(new Error('closed before open')));
  });
  opened.catch(() => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  return {
    ws,
    messages,
    opened,
    closed,
    refused,
    decoded: () => messages.map(decodeDiscovery),
    received: (n) => waitFor(() => messages.length >= n),
    send: (m) => ws.send(encodeMessage(m)),
  };
}

/** Opens a peer, says hello and returns the dir.info it got. */
export async function greet(url: string, token?: string, purpose?: 'sync' | 'lookup'): Promise<{ peer: TokenPeer; info: DirInfo }> {
  const peer = tokenPeer(url, token);
  await peer.opened;
  peer.send({ t: 'dir.hello', suite: 'ristretto255-SHA512', purpose });
  await peer.received(1);
  const info = peer.decoded()[0] as DirInfo;
  if (info.t !== 'dir.info') throw new Error(`expected dir.info, got ${info.t}`);
  return { peer, info };
}

export interface ProxyConnection {
  /** Bytes client -> server and server -> client, HTTP upgrade included. */
  up: number;
  down: number;
  /** Whether the server has sent its first WebSocket frame (dir.info) through it. */
  sawFirstFrame: boolean;
}

export interface TcpProxyOptions {
  /** Stop reading from each client once the server's first frame (dir.info) went through. */
  holdAfterFirstFrame?: boolean;
}

/**
 * A TCP proxy in front of `target`. Each connection is counted (bytes each way); new
 * connections go to the target current at accept time (`setTarget`); with
 * `holdAfterFirstFrame` each client gets its dir.info and is then held, its later
 * messages waiting in the proxy, until `release()`.
 */
export async function tcpProxy(target: string, options: TcpProxyOptions = {}) {
  let current = new URL(target);
  let released = !options.holdAfterFirstFrame;
  const held = new Set<Socket>();
  const sockets = new Set<Socket>();
  const connections: ProxyConnection[] = [];
  const proxy = createServer((client) => {
    const upstream = connect(Number(current.port), current.hostname);
    sockets.add(client).add(upstream);
    const conn: ProxyConnection = { up: 0, down: 0, sawFirstFrame: false };
    connections.push(conn);
    let headersDone = false;
    client.on('data', (d) => {
      conn.up += d.length;
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      conn.down += d.length;
      if (!headersDone) {
        // The 101 answer; dir.info can only follow the client's hello, so it is never in this chunk.
        if (d.includes('\r\n\r\n')) headersDone = true;
      } else if (!conn.sawFirstFrame) {
        conn.sawFirstFrame = true;
        if (!released) {
          client.pause();
          held.add(client);
        }
      }
      client.write(d);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  return {
    url: `ws://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    connections,
    /** Clients held after their dir.info. */
    get held() {
      return held.size;
    },
    setTarget(url: string) {
      current = new URL(url);
    },
    release() {
      released = true;
      for (const c of held) c.resume();
      held.clear();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        proxy.close(() => r());
      }),
  };
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/**
 * Copies a closed SQLite directory (database, WAL files if any, and its key file, kept
 * 0600) to `to`: the copy has the same epochs, keys, version and snapshots.
 */
export function copyDirectoryFiles(from: string, to: string): void {
  for (const suffix of ['', '-wal', '-shm']) if (existsSync(from + suffix)) copyFileSync(from + suffix, to + suffix);
  copyFileSync(`${from}.key`, `${to}.key`);
  chmodSync(`${to}.key`, 0o600);
}
