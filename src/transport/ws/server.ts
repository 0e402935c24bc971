/**
 * The WebSocket server: accepts upgrades (limits and authentication first, before any
 * WebSocket exists), runs one session per connection, pings, and shuts down gracefully.
 * It never looks inside a message and never logs: it reports outcomes as events.
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type ServerOptions as WsServerOptions, type WebSocket } from 'ws';
import { ProtocolError } from '../../protocol/errors.js';
import { addressKey } from './address-key.js';
import { bearerToken, selectProtocol } from './auth.js';
import type { TimerHandle } from './clock.js';
import { ConnectionCaps } from './connection-caps.js';
import { ServerConnection, type ConnectionStats, type SessionReport } from './connection.js';
import { statusForRejection } from './errors.js';
import { rejectUpgrade } from './http-reject.js';
import { InboundBudget } from './inbound-budget.js';
import { resolveServerOptions, type ResolvedServerOptions, type ServerOptions } from './options.js';

export interface BackpressureEvent {
  connectionId: number;
  /** True when reading from the peer was paused because our output backed up. */
  paused: boolean;
  bufferedAmount: number;
}

export interface RejectionEvent {
  status: 401 | 426 | 429 | 503;
  reason:
    | 'unauthorized'
    | 'rate_limited'
    | 'overloaded'
    | 'not_websocket'
    | 'too_many_connections'
    | 'too_many_from_address'
    | 'too_many_for_account'
    | 'shutting_down';
  /** The TCP connection was dropped at accept, before its request was read: no HTTP response was sent. */
  atAccept?: boolean;
}

/** A connection closed because the global inbound budget was exceeded and it held the most. */
export interface EvictionEvent {
  connectionId: number;
  /** Bytes held across all connections when the budget was exceeded, and the limit. */
  totalBytes: number;
  limitBytes: number;
}

export interface CloseOptions {
  /** How long running sessions may take to finish before they are closed with 1001. */
  graceMs?: number;
}

export interface PsiServer {
  on(event: 'session', listener: (report: SessionReport) => void): this;
  on(event: 'backpressure', listener: (event: BackpressureEvent) => void): this;
  on(event: 'rejected', listener: (event: RejectionEvent) => void): this;
  on(event: 'evicted', listener: (event: EvictionEvent) => void): this;
  once(event: 'session', listener: (report: SessionReport) => void): this;
  once(event: 'backpressure', listener: (event: BackpressureEvent) => void): this;
  once(event: 'rejected', listener: (event: RejectionEvent) => void): this;
  once(event: 'evicted', listener: (event: EvictionEvent) => void): this;
}

export const DEFAULT_GRACE_MS = 10_000;

export class PsiServer extends EventEmitter {
  private readonly wss: WebSocketServer;
  private readonly active = new Map<number, ServerConnection>();
  private readonly handshakeTimers = new WeakMap<Duplex, TimerHandle>();
  private readonly waiters = new Set<() => void>();
  private readonly perAddress: ConnectionCaps;
  private readonly perAccount: ConnectionCaps;
  /**
   * TCP connections whose HTTP request is not complete yet, per address and in all: the
   * caps above only start counting at the upgrade request, so without these a peer trickling
   * request headers (slowloris) held sockets and file descriptors without limit for
   * handshakeTimeoutMs each (issue 9 §2; measured: 2,000 from one address, all kept).
   */
  private readonly requestPendingPerAddress: ConnectionCaps;
  private requestPending = 0;
  /** Gives back a socket's request-pending slots once its request is complete (or it closed). */
  private readonly requestComplete = new WeakMap<Duplex, () => void>();
  /** Inbound bytes held across all connections (partial and queued messages). */
  readonly inboundBudget: InboundBudget;
  private heartbeat: TimerHandle | undefined;
  private upgrading = 0;
  private nextId = 0;
  private shuttingDown = false;
  private closing: Promise<void> | undefined;

  /** Use startServer(); the constructor does not listen. */
  constructor(
    private readonly http: Server,
    private readonly options: ResolvedServerOptions,
  ) {
    super();
    this.perAddress = new ConnectionCaps(options.maxConnectionsPerAddress);
    this.perAccount = new ConnectionCaps(options.maxConnectionsPerAccount);
    this.requestPendingPerAddress = new ConnectionCaps(options.maxConnectionsPerAddress);
    this.inboundBudget = new InboundBudget(options.maxInboundBufferedBytes);
    // perMessageDeflate stays off: compression costs CPU per byte and allows inflate bombs,
    // and blinded elements do not compress. closeTimeout is in ws 8.23 but not in @types/ws.
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: options.maxPayloadBytes,
      handleProtocols: (offered: Set<string>) => selectProtocol(offered),
      closeTimeout: options.closeTimeoutMs,
    } as WsServerOptions);
    http.on('connection', (socket: Socket) => this.onTcpConnection(socket));
    http.on('request', (req, res) => {
      this.requestComplete.get(req.socket)?.();
      this.emit('rejected', { status: 426, reason: 'not_websocket' } satisfies RejectionEvent);
      res.writeHead(426, { Upgrade: 'websocket', Connection: 'close', 'Content-Type': 'text/plain' }).end('WebSocket only\n');
    });
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.onUpgrade(req, socket, head));
    if (options.heartbeatIntervalMs > 0) {
      const interval = options.heartbeatIntervalMs;
      const { clock } = options;
      let lastTick = clock.now();
      this.heartbeat = clock.setInterval(() => {
        // A late tick means our own event loop was blocked: pongs may sit unread in the
        // socket, so judge nobody this round, just ping again.
        const now = clock.now();
        const judge = now - lastTick < interval * 1.5;
        lastTick = now;
        for (const conn of this.active.values()) conn.heartbeat(judge);
      }, interval);
    }
  }

  get host(): string {
    return this.options.host;
  }

  get port(): number {
    const address = this.http.address();
    return typeof address === 'object' && address ? address.port : this.options.port;
  }

  get url(): string {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `ws://${host}:${this.port}`;
  }

  /** Open WebSocket connections (upgrades in progress are not counted here). */
  get connections(): number {
    return this.active.size;
  }

  connectionStats(): ConnectionStats[] {
    return [...this.active.values()].map((c) => c.stats);
  }

  /**
   * Stop accepting, let running sessions finish for up to graceMs, close the rest with
   * 1001, and resolve once every socket is gone. Idempotent.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.shutdown(options.graceMs ?? DEFAULT_GRACE_MS);
    return this.closing;
  }

  private async shutdown(graceMs: number): Promise<void> {
    this.shuttingDown = true;
    const listenerClosed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    await this.allClosed(graceMs);
    for (const conn of this.active.values()) conn.shutdown();
    // Wait for the close handshakes (ws drops a silent peer after closeTimeoutMs).
    await this.allClosed(this.options.closeTimeoutMs + 100);
    for (const conn of this.active.values()) conn.terminate(new ProtocolError('closed', 'server is shutting down'));
    if (this.heartbeat !== undefined) this.options.clock.clearInterval(this.heartbeat);
    this.http.closeAllConnections();
    await listenerClosed;
  }

  private allClosed(ms: number): Promise<void> {
    if (this.active.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.options.clock.clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = this.options.clock.setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  /**
   * The handshake clock starts at TCP accept: a peer that never upgrades is dropped. Until
   * its request is complete the socket takes a request-pending slot of its address (at most
   * maxConnectionsPerAddress) and of the server (at most maxConnections); past either it is
   * destroyed at once: no HTTP answer can be sent before the request is read, and an honest
   * client never has that many requests half sent.
   */
  private onTcpConnection(socket: Socket): void {
    const key = addressKey(socket.remoteAddress);
    if (this.requestPending >= this.options.maxConnections) return this.dropAtAccept(socket, 503, 'too_many_connections');
    if (!this.requestPendingPerAddress.tryAcquire(key)) return this.dropAtAccept(socket, 429, 'too_many_from_address');
    this.requestPending++;
    let pending = true;
    const complete = () => {
      if (!pending) return;
      pending = false;
      this.requestPending--;
      this.requestPendingPerAddress.release(key);
    };
    this.requestComplete.set(socket, complete);
    const { clock } = this.options;
    const timer = clock.setTimeout(() => socket.destroy(), this.options.handshakeTimeoutMs);
    this.handshakeTimers.set(socket, timer);
    socket.once('close', () => {
      complete();
      clock.clearTimeout(timer);
    });
  }

  private dropAtAccept(socket: Socket, status: RejectionEvent['status'], reason: RejectionEvent['reason']): void {
    this.emit('rejected', { status, reason, atAccept: true } satisfies RejectionEvent);
    socket.on('error', () => {});
    socket.destroy();
  }

  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    this.requestComplete.get(socket)?.();
    socket.on('error', () => socket.destroy());
    if (this.shuttingDown) return this.reject(socket, 503, 'shutting_down');
    // Upgrades in progress count too, so a burst cannot overshoot the limit while authenticating.
    if (this.active.size + this.upgrading >= this.options.maxConnections) return this.reject(socket, 503, 'too_many_connections');
    this.upgrading++;
    let counted = true;
    const release = () => {
      if (counted) this.upgrading--;
      counted = false;
    };
    socket.once('close', release);
    // One address cannot hold the server's connections (issue 9 §2: 500 from one client).
    // Taken before authenticate() so a flood of upgrades cannot make us run it unbounded.
    const address = addressKey(req.socket.remoteAddress);
    if (!this.perAddress.tryAcquire(address)) {
      release();
      return this.reject(socket, 429, 'too_many_from_address');
    }
    socket.once('close', () => this.perAddress.release(address));

    let auth: unknown;
    if (this.options.authenticate) {
      let failure: unknown;
      try {
        auth = await this.options.authenticate({ token: bearerToken(req.headers), headers: req.headers, remoteAddress: req.socket.remoteAddress });
      } catch (err) {
        failure = err;
      }
      if (!auth) {
        release();
        const status = statusForRejection(failure);
        const reason = status === 401 ? 'unauthorized' : status === 429 ? 'rate_limited' : 'overloaded';
        return this.reject(socket, status, reason, status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {});
      }
    }
    if (socket.destroyed) return release();
    if (this.shuttingDown) {
      release();
      return this.reject(socket, 503, 'shutting_down');
    }
    const account = this.options.authenticate ? this.options.accountOf(auth) : undefined;
    if (account !== undefined) {
      if (!this.perAccount.tryAcquire(account)) {
        release();
        return this.reject(socket, 429, 'too_many_for_account');
      }
      socket.once('close', () => this.perAccount.release(account));
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      release();
      this.options.clock.clearTimeout(this.handshakeTimers.get(socket));
      this.accept(ws, auth);
    });
  }

  private reject(socket: Duplex, status: RejectionEvent['status'], reason: RejectionEvent['reason'], headers: Record<string, string> = {}): void {
    this.emit('rejected', { status, reason } satisfies RejectionEvent);
    rejectUpgrade(socket, status, headers);
  }

  private accept(ws: WebSocket, auth: unknown): void {
    const id = ++this.nextId;
    const conn = new ServerConnection(id, ws, auth, this.options, {
      onReport: (report) => this.emit('session', report),
      onBackpressure: (paused, bufferedAmount) => this.emit('backpressure', { connectionId: id, paused, bufferedAmount } satisfies BackpressureEvent),
      budget: this.inboundBudget,
      onEvicted: (totalBytes, limitBytes) => this.emit('evicted', { connectionId: id, totalBytes, limitBytes } satisfies EvictionEvent),
      onClosed: () => {
        this.active.delete(id);
        if (this.active.size === 0) for (const wake of [...this.waiters]) wake();
      },
    });
    this.active.set(id, conn);
    conn.start();
  }
}

/** Listen and resolve once the port is bound. */
export async function startServer(options: ServerOptions): Promise<PsiServer> {
  const resolved = resolveServerOptions(options);
  const http = createServer();
  const server = new PsiServer(http, resolved);
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(resolved.port, resolved.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  return server;
}
