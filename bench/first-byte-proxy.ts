/**
 * A raw TCP proxy in front of a server that notes when the first client byte arrives: the
 * end of a client process's start-up (module load, WASM compile, cache read, connect) as
 * the network sees it; and when the client's first bytes after the server's first answer
 * arrive (for a WebSocket client: its first message after the 101 upgrade response, the
 * start of the protocol, which a client that connects early sends only when ready). The time is kept twice: `performance.now()` of this process (to
 * subtract a spawn time) and the monotonic clock in microseconds (`hrtime`), the clock V8's
 * `--cpu-prof` timestamps use, so a child's profile can be cut at the first byte.
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';

export interface FirstByteProxy {
  url: string;
  /** performance.now() when the first byte of the first connection since reset() arrived. */
  firstByteAt(): number | undefined;
  /** The same instant on the monotonic clock, microseconds (V8 profile timestamps). */
  firstByteMonotonicUs(): number | undefined;
  /** performance.now() when that connection's client sent bytes again after the server's first answer. */
  firstMessageAt(): number | undefined;
  /** The same instant on the monotonic clock, microseconds. */
  firstMessageMonotonicUs(): number | undefined;
  reset(): void;
  close(): Promise<void>;
}

export async function firstByteProxy(target: string): Promise<FirstByteProxy> {
  const u = new URL(target);
  let first: number | undefined;
  let firstMono: number | undefined;
  let firstMessage: number | undefined;
  let firstMessageMono: number | undefined;
  const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);
  const server = createServer((sock) => {
    const up = connect(Number(u.port), u.hostname);
    let primary = false;
    let answered = false;
    sock.on('data', () => {
      if (first === undefined) {
        first = performance.now();
        firstMono = monotonicUs();
        primary = true;
      } else if (primary && answered && firstMessage === undefined) {
        firstMessage = performance.now();
        firstMessageMono = monotonicUs();
      }
    });
    up.once('data', () => (answered = true));
    sock.pipe(up).pipe(sock);
    const end = () => {
      sock.destroy();
      up.destroy();
    };
    sock.on('error', end).on('close', end);
    up.on('error', end).on('close', end);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    firstByteAt: () => first,
    firstByteMonotonicUs: () => firstMono,
    firstMessageAt: () => firstMessage,
    firstMessageMonotonicUs: () => firstMessageMono,
    reset: () => {
      first = undefined;
      firstMono = undefined;
      firstMessage = undefined;
      firstMessageMono = undefined;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
