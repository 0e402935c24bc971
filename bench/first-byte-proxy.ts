/**
 * A raw TCP proxy in front of a server that notes when the first client byte arrives: the
 * end of a client process's start-up (module load, WASM compile, cache read, connect) as
 * the network sees it. The time is kept twice: `performance.now()` of this process (to
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
  reset(): void;
  close(): Promise<void>;
}

export async function firstByteProxy(target: string): Promise<FirstByteProxy> {
  const u = new URL(target);
  let first: number | undefined;
  let firstMono: number | undefined;
  const server = createServer((sock) => {
    const up = connect(Number(u.port), u.hostname);
    sock.once('data', () => {
      if (first !== undefined) return;
      first = performance.now();
      firstMono = Number(process.hrtime.bigint() / 1000n);
    });
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
    reset: () => {
      first = undefined;
      firstMono = undefined;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
