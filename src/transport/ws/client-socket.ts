/**
 * The client's view of a WebSocket: the WHATWG API that browsers, React Native and ws all
 * offer, plus what only ws has (write callbacks, the HTTP status of a refused upgrade,
 * request headers), used when present.
 */
import { BEARER_PROTOCOL_PREFIX, SUBPROTOCOL } from './auth.js';
import type { PumpSocket } from './pump.js';

export interface WebSocketLike {
  binaryType: string;
  readonly bufferedAmount: number;
  readonly readyState: number;
  send(data: Uint8Array, ...rest: unknown[]): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: never) => void): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[], options?: never) => WebSocketLike;

/** What ws adds over the WHATWG API. */
interface NodeWebSocket extends WebSocketLike {
  send(data: Uint8Array, options: { binary: boolean }, cb: (err?: Error) => void): void;
  terminate(): void;
  on(event: 'unexpected-response', listener: (req: unknown, res: { statusCode?: number; resume(): void }) => void): void;
}

export interface OpenedSocket {
  socket: WebSocketLike;
  /** ws (Node): headers, write callbacks and the HTTP status are available. */
  node: NodeWebSocket | undefined;
}

const isNodeStyle = (ctor: WebSocketConstructor): boolean => {
  const proto = ctor.prototype as Partial<NodeWebSocket> | undefined;
  return typeof proto?.on === 'function' && typeof proto?.terminate === 'function';
};

/**
 * In Node, ws (it can send an Authorization header and reports writes and HTTP status);
 * elsewhere the global WebSocket. Node 22's global WebSocket can do neither, so it is
 * only the fallback there.
 */
export async function defaultWebSocket(): Promise<WebSocketConstructor> {
  const g = globalThis as { WebSocket?: WebSocketConstructor; process?: { versions?: { node?: string } } };
  const inNode = typeof g.process?.versions?.node === 'string';
  if (!inNode && typeof g.WebSocket === 'function') return g.WebSocket;
  try {
    const mod = (await import('ws')) as unknown as { default?: WebSocketConstructor; WebSocket?: WebSocketConstructor };
    const ctor = mod.default ?? mod.WebSocket;
    if (ctor) return ctor;
  } catch {
    // fall through to the global
  }
  if (typeof g.WebSocket === 'function') return g.WebSocket;
  throw new Error('no WebSocket implementation: pass options.WebSocket or install ws');
}

export function openSocket(ctor: WebSocketConstructor, url: string, token: string | undefined, maxPayloadBytes: number): OpenedSocket {
  let socket: WebSocketLike;
  if (isNodeStyle(ctor)) {
    const options = {
      headers: token ? { Authorization: `Bearer ${token}` } : {},
      maxPayload: maxPayloadBytes,
      perMessageDeflate: false,
    };
    socket = new ctor(url, [SUBPROTOCOL], options as never);
  } else {
    // Browsers cannot set headers: the token rides in a subprotocol the server reads.
    socket = new ctor(url, token ? [SUBPROTOCOL, BEARER_PROTOCOL_PREFIX + token] : [SUBPROTOCOL]);
  }
  socket.binaryType = 'arraybuffer';
  return { socket, node: isNodeStyle(ctor) ? (socket as NodeWebSocket) : undefined };
}

export function clientPumpSocket({ socket, node }: OpenedSocket): PumpSocket {
  return {
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    reportsWrites: node !== undefined,
    send: node ? (bytes, written) => node.send(bytes, { binary: true }, () => written()) : (bytes) => socket.send(bytes),
    close: (code, reason) => socket.close(code, reason),
    // No pauseReading: the client always reads what it asked for. A server that pauses
    // reading while its answers back up, facing a client doing the same, would deadlock.
  };
}
