/**
 * Helpers for the issue-4 service tests (test/service-issue4-*.test.ts): deltas, epochs,
 * quotas and split views over real loopback sockets. Builds on test/helpers/service.ts;
 * adds a raw WebSocket peer that can present a bearer token (the TCP proxy the tests use
 * is in tcp-proxy.ts).
 */
import { identityKeyPath, loadOrCreateIdentityKey } from '../../src/directory/identity-key.js';
import { chmodSync, copyFileSync, existsSync } from 'node:fs';
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

export { tcpProxy, type ProxyConnection, type TcpProxyOptions } from './tcp-proxy.js';

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/**
 * Copies a closed SQLite directory (database, WAL files if any, and its key file, kept
 * 0600) to `to`: the copy has the same epochs, keys, version and snapshots.
 */
export function copyDirectoryFiles(from: string, to: string): void {
  for (const suffix of ['', '-wal', '-shm']) if (existsSync(from + suffix)) copyFileSync(from + suffix, to + suffix);
  copyFileSync(`${from}.key`, `${to}.key`);
  chmodSync(`${to}.key`, 0o600);
  // A fork by one operator: both copies sign with the same directory identity (created here if the source has none yet).
  loadOrCreateIdentityKey(identityKeyPath(from));
  copyFileSync(identityKeyPath(from), identityKeyPath(to));
  chmodSync(identityKeyPath(to), 0o600);
}
