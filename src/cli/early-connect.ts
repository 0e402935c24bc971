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
 *
 * Two ways in. The bin's entry (sync-entry.ts) writes the upgrade itself with node:net
 * before ws or commander load (early-upgrade.ts); connectForSync takes that upgrade
 * (connectStarted) and ws takes its socket over at the handover. Without it (tsc's
 * unbundled main.js, a command line the entry leaves to commander), connectEarly opens the
 * early socket with ws here.
 */
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import WebSocket from 'ws';
import { DEFAULT_LIMITS } from '../protocol/limits.js';
import { SUBPROTOCOL } from '../transport/ws/auth.js';
import type { WebSocketConstructor } from '../transport/ws/client-socket.js';
import type { EarlySync, SyncCliOptions } from './commands/sync.js';
import { resolveClientToken } from './token-source.js';
import { takeStartedSync, type StartedSync, type UpgradeOutcome } from './early-upgrade.js';

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
 * then; afterwards events pass straight through (still in order: one queue). The ws socket
 * may come later (attach): until then this one is connecting, as a ws socket would be.
 */
class HeldSocket {
  private readonly queue: [string, unknown[]][] = [];
  private readonly listeners = new Map<string, Listener[]>();
  private released = false;
  private flushing = false;
  private type = 'arraybuffer';
  private target: WebSocket | undefined;
  /** Closed by the transport before a ws socket came (attach is then too late). */
  private abandoned = false;

  constructor(ws?: WebSocket) {
    if (ws) this.attach(ws);
  }

  get ws(): WebSocket | undefined {
    return this.target;
  }

  /** The ws socket this one is from now on: its events (from now on) are this one's. */
  attach(ws: WebSocket): void {
    if (this.abandoned) {
      ws.on('error', () => undefined); // ws reports a socket closed while connecting as an error: nobody listens now
      ws.terminate();
      return;
    }
    this.target = ws;
    ws.binaryType = this.type as WebSocket['binaryType'];
    for (const type of ['open', 'message', 'error', 'close'] as const) ws.addEventListener(type, (event: unknown) => this.emit(type, [event]));
    // With a listener here ws leaves a refused upgrade (401, 429) to it, as the transport's does.
    ws.on('unexpected-response', (req, res) => this.emit('unexpected-response', [req, res]));
  }

  /** Still connecting or open: worth handing over. */
  get alive(): boolean {
    return this.readyState === WebSocket.CONNECTING || this.readyState === WebSocket.OPEN;
  }

  private emit(type: string, args: unknown[]): void {
    // The client speaks first in this protocol (dir.info.get): a server that sends before
    // the handover is out of turn, and whatever it sends would be held in memory while this
    // process loads (red team, wave 3: 64 MiB held, unbounded). The early socket is dropped
    // instead; the transport then connects afresh and meets that server itself.
    if (type === 'message' && !this.released) {
      this.target?.terminate();
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

  /**
   * Closed before any ws socket came: reported as ws reports a socket closed while
   * connecting (an error, then close 1006), and whatever comes later is closed.
   */
  private abandon(onAbandon: (() => void) | undefined): void {
    if (this.abandoned) return;
    this.abandoned = true;
    onAbandon?.();
    this.emit('error', [{ type: 'error', error: new Error('WebSocket was closed before the connection was established') }]);
    this.emit('close', [{ type: 'close', code: 1006, reason: '', wasClean: false }]);
  }

  /** What to do when the transport closes this socket before a ws socket came (early-upgrade: abort). */
  onAbandon: (() => void) | undefined;

  // What the transport uses of a ws socket (src/transport/ws/client-socket.ts).
  get binaryType(): string {
    return this.target?.binaryType ?? this.type;
  }
  set binaryType(value: string) {
    this.type = value;
    if (this.target) this.target.binaryType = value as WebSocket['binaryType'];
  }
  get bufferedAmount(): number {
    return this.target?.bufferedAmount ?? 0;
  }
  get readyState(): number {
    return this.target?.readyState ?? (this.abandoned ? WebSocket.CLOSED : WebSocket.CONNECTING);
  }
  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  on(type: string, listener: Listener): this {
    this.addEventListener(type, listener);
    return this;
  }
  send(data: Uint8Array, options?: unknown, cb?: (err?: Error) => void): void {
    // The transport sends only once open: a ws socket is here by then.
    if (!this.target) throw new Error('WebSocket is not open: readyState 0 (CONNECTING)');
    this.target.send(data, (options ?? {}) as never, cb);
  }
  close(code?: number, reason?: string): void {
    if (this.target) this.target.close(code, reason);
    else this.abandon(this.onAbandon);
  }
  terminate(): void {
    if (this.target) this.target.terminate();
    else this.abandon(this.onAbandon);
  }
}

/** Starts connecting to `url` now, as the sync's transport will (token in the Authorization header). */
export function connectEarly(url: string, token: string | undefined): EarlyConnection {
  const args = transportArgs(url, token);
  const key = JSON.stringify(args);
  const ws = new WebSocket(...args);
  const held = new HeldSocket(ws);
  const opened = new Promise<boolean>((resolve) => {
    ws.once('open', () => resolve(true));
    ws.once('unexpected-response', () => resolve(false));
    ws.once('close', () => resolve(false));
  });
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
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
      ws.terminate();
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
      ws.terminate();
    },
  };
}

/**
 * ws's settings for a client socket (initAsClient's defaults, ws 8.23.0, pinned in
 * package.json), given to the socket ws takes over from the hand-written upgrade:
 * test/cli-early-upgrade.test.ts fails when they differ from a socket ws opened itself.
 */
const WS_CLIENT_DEFAULTS = { autoPong: true, closeTimeout: 30_000, maxPendingAutoPongs: 60 } as const;
const WS_RECEIVER_DEFAULTS = { allowSynchronousEvents: true, generateMask: undefined, maxBufferedChunks: 256 * 1024, maxFragments: 16 * 1024, skipUTF8Validation: false } as const;

interface WsInternals {
  _isServer: boolean;
  _protocol: string;
  _url: string;
  setSocket(socket: Socket, head: Buffer, options: typeof WS_RECEIVER_DEFAULTS & { maxPayload: number }): void;
}

/**
 * A ws client socket over a connection whose 101 was checked (early-upgrade.ts): ws's own
 * path after its handshake (setSocket), as a client (masking its frames, expecting
 * unmasked ones), attached to `held` before it opens so the open event is held for the
 * transport. ws has no public way to take a client socket upgraded elsewhere: `new
 * WebSocket(null)` is its server-side socket, turned into a client by _isServer.
 */
function wsOverUpgraded(url: string, socket: Socket, maxPayload: number, held: HeldSocket): void {
  const ws = new (WebSocket as unknown as new (a: null, p: undefined, o: object) => WebSocket)(null, undefined, { ...WS_CLIENT_DEFAULTS });
  const internals = ws as unknown as WsInternals;
  if (typeof internals.setSocket !== 'function' || internals._isServer !== true) throw new Error('ws: setSocket is gone (see WS_CLIENT_DEFAULTS)');
  internals._isServer = false;
  internals._protocol = SUBPROTOCOL;
  internals._url = new URL(url).href; // as ws keeps it
  held.attach(ws);
  internals.setSocket(socket, Buffer.alloc(0), { ...WS_RECEIVER_DEFAULTS, maxPayload });
}

/**
 * A ws socket that reads `response` (the head of a refused upgrade, as the server sent it)
 * as the answer to its own request: ws reports it as it would have (unexpected-response
 * with the status, for the transport's UpgradeRejectedError). Nothing is sent anywhere: the
 * connection is a stream that swallows ws's request.
 */
function wsReadingRefusal(url: string, args: ReturnType<typeof transportArgs>, response: Buffer): WebSocket {
  let answered = false;
  const connection = new Duplex({
    read() {},
    write(_chunk, _encoding, callback) {
      if (!answered) {
        answered = true;
        this.push(response);
        this.push(null);
      }
      callback();
    },
  });
  return new WebSocket(url, args[1], { ...args[2], createConnection: () => connection as unknown as Socket });
}

/**
 * The upgrade the bin's entry started (sync-entry-start.ts) as an EarlyConnection: the
 * transport's first socket to the URL, asked with the options it was opened for, is a ws
 * socket over it (open), or one reading its refusal (refused); when the upgrade is still
 * travelling then, a socket that becomes one of those when it lands, or a fresh ws socket
 * if it is dropped. A dropped upgrade is replaced by a fresh ws socket.
 */
export function connectStarted(started: StartedSync, maxPayload = DEFAULT_LIMITS.maxMessageBytes): EarlyConnection {
  const { upgrade, token } = started;
  const url = started.server;
  const args = transportArgs(url, token);
  const key = JSON.stringify(args);
  let state: EarlyConnection['state'] = 'waiting';
  const opened = new Promise<boolean>((resolve) => {
    if (upgrade.outcome) resolve(upgrade.outcome.kind === 'open');
    else upgrade.onOutcome((o) => resolve(o.kind === 'open'));
  });
  /** Gives `held` the ws socket of an outcome; false when dropped (then a fresh one is the caller's). */
  const socketFor = (o: UpgradeOutcome, held: HeldSocket): boolean => {
    if (o.kind === 'open') wsOverUpgraded(url, upgrade.take(), maxPayload, held);
    else if (o.kind === 'refused') held.attach(wsReadingRefusal(url, args, o.response));
    else return false;
    return true;
  };
  function EarlyWebSocket(u: string, protocols?: string | string[], options?: WebSocket.ClientOptions): object {
    if (state === 'waiting' && u === url) {
      const outcome = upgrade.outcome;
      if (JSON.stringify([u, protocols, options]) === key && outcome?.kind !== 'dropped') {
        state = 'handed-over';
        const held = new HeldSocket();
        if (outcome) socketFor(outcome, held);
        else {
          // Still travelling: the transport listens to `held` meanwhile.
          let landed = false;
          held.onAbandon = () => {
            // Closed by the transport (its timeout): nothing more to hand it.
            landed = true;
            upgrade.abort('closed by the transport');
          };
          upgrade.onOutcome((o) => {
            if (landed) return;
            landed = true;
            if (socketFor(o, held)) return;
            state = 'replaced';
            held.attach(new WebSocket(u, protocols, options));
          });
        }
        return held.release();
      }
      state = 'replaced';
      upgrade.abort('not the socket the transport asked for');
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
    closed: upgrade.closed,
    discard: () => {
      if (state !== 'waiting') return;
      state = 'discarded';
      upgrade.abort('discarded');
    },
  };
}

/**
 * `contact-psi sync`'s start (main.ts, before the client code loads): the connection the
 * bin's entry started for this server (sync-entry-start.ts: its token resolved and its
 * warnings printed there), or else the bearer token resolved (its warnings printed once)
 * and the connection opening. The options were checked by commander's parsers already (a
 * bad --server never connects).
 */
export function connectForSync(options: SyncCliOptions): EarlySync {
  const started = takeStartedSync(options.server);
  if (started) return { token: started.token, connection: connectStarted(started) };
  const token = resolveClientToken(options, process.env, (m) => console.error(`warning: ${m}`));
  return { token, connection: connectEarly(options.server, token) };
}
