/**
 * One TCP proxy for the service tests, in front of a WebSocket server. Each connection is
 * counted (bytes each way); new connections go to the target current at accept time
 * (`setTarget`, so a client keeps one URL, one cache and one pinned key across servers);
 * a client can be held — its later bytes waiting in the proxy until `release()` — either
 * right after the 101 answer (the server has an open WebSocket that hears nothing) or after
 * the server's first frame (dir.info).
 */
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';

export interface ProxyConnection {
  /** Bytes client -> server and server -> client, HTTP upgrade included. */
  up: number;
  down: number;
  /** Whether the server has sent its first WebSocket frame (dir.info) through it. */
  sawFirstFrame: boolean;
}

export interface TcpProxyOptions {
  /** Stop reading from each client once the server's 101 answer went through. */
  holdAfterUpgrade?: boolean;
  /** Stop reading from each client once the server's first frame (dir.info) went through. */
  holdAfterFirstFrame?: boolean;
}

export async function tcpProxy(target: string, options: TcpProxyOptions = {}) {
  let current = new URL(target);
  let released = !options.holdAfterFirstFrame && !options.holdAfterUpgrade;
  const held = new Set<Socket>();
  const sockets = new Set<Socket>();
  const connections: ProxyConnection[] = [];
  let markUpgraded!: () => void;
  const upgraded = new Promise<void>((r) => (markUpgraded = r));
  const hold = (client: Socket) => {
    if (released) return;
    client.pause();
    held.add(client);
  };
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
        if (d.includes('\r\n\r\n')) {
          headersDone = true;
          if (options.holdAfterUpgrade) hold(client);
          markUpgraded();
        }
      } else if (!conn.sawFirstFrame) {
        conn.sawFirstFrame = true;
        if (options.holdAfterFirstFrame) hold(client);
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
    /** Resolves when the first client's upgrade went through. */
    upgraded,
    /** Clients being held. */
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
