/**
 * Wires a client and a server session together in memory: what one transmits the other
 * handles, until neither has anything left to send. Used by the tests (with a fake clock)
 * and by the in-process demo; the bytes counted are exactly what a transport would carry.
 */
import type { ProtocolError } from './errors.js';
import type { SansIoSession, SessionEvent } from './session-core.js';

export interface PairOutcome<C, S> {
  client: SessionEvent<C>[];
  server: SessionEvent<S>[];
  clientResult?: C;
  clientError?: ProtocolError;
  serverError?: ProtocolError;
  bytesClientToServer: number;
  bytesServerToClient: number;
  messagesClientToServer: number;
  messagesServerToClient: number;
}

export interface PairHooks {
  /** Rewrite (or drop, by returning undefined) a message in flight: for tampering tests. */
  toServer?: (bytes: Uint8Array, index: number) => Uint8Array | undefined;
  toClient?: (bytes: Uint8Array, index: number) => Uint8Array | undefined;
}

export function runSessionPair<C, S>(
  client: SansIoSession<C> & { start(now: number): void },
  server: SansIoSession<S>,
  now = 0,
  hooks: PairHooks = {},
): PairOutcome<C, S> {
  const out: PairOutcome<C, S> = {
    client: [],
    server: [],
    bytesClientToServer: 0,
    bytesServerToClient: 0,
    messagesClientToServer: 0,
    messagesServerToClient: 0,
  };
  if (client.currentState === 'idle') client.start(now);
  for (let moved = true; moved; ) {
    moved = false;
    for (let bytes = client.pollTransmit(); bytes; bytes = client.pollTransmit()) {
      moved = true;
      const delivered = hooks.toServer ? hooks.toServer(bytes, out.messagesClientToServer) : bytes;
      out.messagesClientToServer++;
      out.bytesClientToServer += bytes.length;
      if (delivered) server.handle(delivered, now);
    }
    for (let bytes = server.pollTransmit(); bytes; bytes = server.pollTransmit()) {
      moved = true;
      const delivered = hooks.toClient ? hooks.toClient(bytes, out.messagesServerToClient) : bytes;
      out.messagesServerToClient++;
      out.bytesServerToClient += bytes.length;
      if (delivered) client.handle(delivered, now);
    }
  }
  for (let e = client.pollEvent(); e; e = client.pollEvent()) {
    out.client.push(e);
    if (e.type === 'result') out.clientResult = e.result;
    if (e.type === 'failed') out.clientError = e.error;
  }
  for (let e = server.pollEvent(); e; e = server.pollEvent()) {
    out.server.push(e);
    if (e.type === 'failed') out.serverError = e.error;
  }
  return out;
}
