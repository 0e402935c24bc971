/**
 * Wires a client and a server session together in memory: what one transmits the other
 * handles, until neither has anything left to send. Used by the tests (with a fake clock)
 * and by the in-process demo; the bytes counted are exactly what a transport would carry.
 */
import type { ProtocolError } from './errors.js';
import type { DeferredWork, SansIoSession, SessionEvent } from './session-core.js';

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
  const out = emptyOutcome<C, S>();
  if (client.currentState === 'idle') client.start(now);
  while (exchange(client, server, now, hooks, out)) {
    // Silently returning without a result would hide the mistake.
    if (client.pollWork?.() || server.pollWork?.()) throw new Error('a session deferred work (an offload, or a discovery server reading its store): use runSessionPairAsync');
  }
  return collectEvents(client, server, out);
}

/**
 * As runSessionPair, for sessions that defer work (group work on an `offload`; every store
 * access of a discovery server): the work runs between exchanges, all of it started before
 * any is awaited, as the WebSocket pump does.
 */
export async function runSessionPairAsync<C, S>(
  client: SansIoSession<C> & { start(now: number): void },
  server: SansIoSession<S>,
  now = 0,
  hooks: PairHooks = {},
): Promise<PairOutcome<C, S>> {
  const out = emptyOutcome<C, S>();
  if (client.currentState === 'idle') client.start(now);
  for (;;) {
    while (exchange(client, server, now, hooks, out));
    const work = [...drainWork(client), ...drainWork(server)];
    if (work.length === 0) break;
    await Promise.all(work.map((w) => w(() => now)));
  }
  return collectEvents(client, server, out);
}

function drainWork(session: SansIoSession<unknown>): DeferredWork[] {
  const work: DeferredWork[] = [];
  for (let w = session.pollWork?.(); w; w = session.pollWork?.()) work.push(w);
  return work;
}

function emptyOutcome<C, S>(): PairOutcome<C, S> {
  return { client: [], server: [], bytesClientToServer: 0, bytesServerToClient: 0, messagesClientToServer: 0, messagesServerToClient: 0 };
}

/** Delivers everything each side has queued; true if anything moved. */
function exchange<C, S>(client: SansIoSession<C>, server: SansIoSession<S>, now: number, hooks: PairHooks, out: PairOutcome<C, S>): boolean {
  let moved = false;
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
  return moved;
}

function collectEvents<C, S>(client: SansIoSession<C>, server: SansIoSession<S>, out: PairOutcome<C, S>): PairOutcome<C, S> {
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
