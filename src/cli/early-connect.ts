/**
 * The sync's connection, opened before the client code is loaded (issue 13 §1, start-up):
 * the TCP connect and the WebSocket upgrade (and TLS, for wss://) travel while this process
 * loads the client, reads the address book and the cache, checks the pins and compiles the
 * WASM group, instead of after all that. The sync is handed a WebSocket constructor whose
 * first socket to the same URL, with the same protocols and options, is the one already
 * opening; its events are held until the transport (runClientSession) has attached its
 * listeners, then replayed in order. Any other socket (a witness, a second session) is a
 * plain ws socket, and so is this one's replacement when the early socket is no longer
 * alive by then (refused, or closed by the server while this process was busy): the
 * transport then connects afresh and reports what it meets itself.
 *
 * The socket is opened exactly as the transport would open it (openSocket in
 * src/transport/ws/client-socket.ts, CLIENT_DEFAULTS); when the transport asks for anything
 * else, the early socket is closed and not used: a wrong guess costs the overlap, never a
 * different connection.
 */
import WebSocket from 'ws';
import { DEFAULT_LIMITS } from '../protocol/limits.js';
import { SUBPROTOCOL } from '../transport/ws/auth.js';
import type { WebSocketConstructor } from '../transport/ws/client-socket.js';
import type { EarlySync, SyncCliOptions } from './commands/sync.js';
import { resolveClientToken } from './token-source.js';

type Listener = (...args: never[]) => void;

export interface EarlyConnection {
  /** For the sync (syncAddressBook's `WebSocket`): its first socket to the URL is the early one, if it still fits. */
  readonly WebSocket: WebSocketConstructor;
  /**
   * waiting: not asked for yet; handed-over: the transport runs on it; replaced: the
   * transport asked for this URL but the early socket was dead or opened otherwise, so it
   * got a fresh one; discarded: closed unused.
   */
  readonly state: 'waiting' | 'handed-over' | 'replaced' | 'discarded';
  /** Settles when the early socket opens (true) or fails to (false): for tests and diagnostics. */
  readonly opened: Promise<boolean>;
  /** Settles when the early socket has closed. */
  readonly closed: Promise<void>;
  /** Closes the early socket if the transport never took it (the sync failed before connecting). */
  discard(): void;
}

/** The constructor arguments openSocket passes for ws (Node): the early socket uses the same. */
function transportArgs(url: string, token: string | undefined): [string, string[], WebSocket.ClientOptions] {
  return [url, [SUBPROTOCOL], { headers: token ? { Authorization: `Bearer ${token}` } : {}, maxPayload: DEFAULT_LIMITS.maxMessageBytes, perMessageDeflate: false }];
}

/**
 * A ws socket whose events wait for listeners: everything it emits before release() is
 * queued (but a message: see emit), then dispatched in order to the listeners attached by
 * then; afterwards events pass straight through (still in order: one queue).
 */
class HeldSocket {
  private readonly queue: [string, unknown[]][] = [];
  private readonly listeners = new Map<string, Listener[]>();
  private released = false;
  private flushing = false;

  constructor(readonly ws: WebSocket) {
    ws.binaryType = 'arraybuffer';
    for (const type of ['open', 'message', 'error', 'close'] as const) ws.addEventListener(type, (event: unknown) => this.emit(type, [event]));
    // With a listener here ws leaves a refused upgrade (401, 429) to it, as the transport's does.
    ws.on('unexpected-response', (req, res) => this.emit('unexpected-response', [req, res]));
  }

  /** Still connecting or open: worth handing over. */
  get alive(): boolean {
    return this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN;
  }

  private emit(type: string, args: unknown[]): void {
    // The client speaks first in this protocol (dir.info.get): a server that sends before
    // the handover is out of turn, and whatever it sends would be held in memory while this
    // process loads (red team, wave 3: 64 MiB held, unbounded). The early socket is dropped
    // instead; the transport then connects afresh and meets that server itself.
    if (type === 'message' && !this.released) {
      this.ws.terminate();
      return;
    }
    this.queue.push([type, args]);
    if (this.released) this.flush();
  }

  private flush(): void {
    if (this.flushing) return;
    this.flushing = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        for (const l of this.listeners.get(next[0]) ?? []) (l as (...a: unknown[]) => void)(...next[1]);
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Dispatches what was held once the current synchronous code (the transport attaching its listeners) is done. */
  release(): this {
    queueMicrotask(() => {
      this.released = true;
      this.flush();
    });
    return this;
  }

  // What the transport uses of a ws socket (src/transport/ws/client-socket.ts).
  get binaryType(): string {
    return this.ws.binaryType;
  }
  set binaryType(value: string) {
    this.ws.binaryType = value as WebSocket['binaryType'];
  }
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }
  get readyState(): number {
    return this.ws.readyState;
  }
  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  on(type: string, listener: Listener): this {
    this.addEventListener(type, listener);
    return this;
  }
  send(data: Uint8Array, options?: unknown, cb?: (err?: Error) => void): void {
    this.ws.send(data, (options ?? {}) as never, cb);
  }
  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }
  terminate(): void {
    this.ws.terminate();
  }
}

/** Starts connecting to `url` now, as the sync's transport will (token in the Authorization header). */
export function connectEarly(url: string, token: string | undefined): EarlyConnection {
  const args = transportArgs(url, token);
  const key = JSON.stringify(args);
  const held = new HeldSocket(new WebSocket(...args));
  const opened = new Promise<boolean>((resolve) => {
    held.ws.once('open', () => resolve(true));
    held.ws.once('unexpected-response', () => resolve(false));
    held.ws.once('close', () => resolve(false));
  });
  const closed = new Promise<void>((resolve) => held.ws.once('close', () => resolve()));
  let state: EarlyConnection['state'] = 'waiting';
  // A plain function: `new` returns the object it returns (the held socket, or a fresh ws
  // socket), and its prototype is ws's, so the transport sees a Node-style socket (on, terminate).
  function EarlyWebSocket(u: string, protocols?: string | string[], options?: WebSocket.ClientOptions): object {
    if (state === 'waiting' && u === url) {
      // The sync's own connection: the early socket's one chance.
      if (JSON.stringify([u, protocols, options]) === key && held.alive) {
        state = 'handed-over';
        return held.release();
      }
      state = 'replaced';
      held.ws.terminate();
    }
    return new WebSocket(u, protocols, options);
  }
  EarlyWebSocket.prototype = WebSocket.prototype;
  return {
    WebSocket: EarlyWebSocket as unknown as WebSocketConstructor,
    get state() {
      return state;
    },
    opened,
    closed,
    discard: () => {
      if (state !== 'waiting') return;
      state = 'discarded';
      held.ws.terminate();
    },
  };
}

/**
 * `contact-psi sync`'s start (main.ts, before the client code loads): the bearer token
 * resolved (its warnings printed once) and the connection opening. The options were checked
 * by commander's parsers already (a bad --server never connects).
 */
export function connectForSync(options: SyncCliOptions): EarlySync {
  const token = resolveClientToken(options, process.env, (m) => console.error(`warning: ${m}`));
  return { token, connection: connectEarly(options.server, token) };
}
