/** `contact-psi serve --db <path> --port <n> [--host 127.0.0.1]`: the discovery server. */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DirectoryDiscoveryBackend } from '../../directory/discovery-backend.js';
import type { Directory } from '../../directory/index.js';
import { DiscoveryServerSession } from '../../protocol/discovery/server.js';
import { startServer, type PsiServer } from '../../transport/ws/index.js';
import { openDirectory } from '../open-directory.js';

export interface ServeOptions {
  db: string;
  port: string;
  host: string;
  /** File with one accepted bearer token per line; without it, every client is accepted. */
  tokens?: string;
}

export interface RunningServer {
  server: PsiServer;
  directory: Directory;
  backend: DirectoryDiscoveryBackend;
  close(): Promise<void>;
}

/** Starts a discovery server on an open directory (used by `serve` and `demo`). */
export async function serveDirectory(directory: Directory, options: { host: string; port: number; tokens?: Set<string> }): Promise<RunningServer> {
  const backend = await DirectoryDiscoveryBackend.open(directory, 'fuse');
  const rng = (n: number) => new Uint8Array(randomBytes(n));
  const tokens = options.tokens;
  const server = await startServer({
    host: options.host,
    port: options.port,
    authenticate: tokens ? ({ token }) => (token !== undefined && tokens.has(token) ? { token } : undefined) : undefined,
    createSession: ({ now }) => new DiscoveryServerSession({ backend, rng, now }),
  });
  return {
    server,
    directory,
    backend,
    async close() {
      await server.close({ graceMs: 5_000 });
      await directory.close();
    },
  };
}

export async function serve(options: ServeOptions): Promise<void> {
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got ${options.port}`);
  const tokens = options.tokens
    ? new Set(readFileSync(options.tokens, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean))
    : undefined;
  const directory = await openDirectory(options.db);
  const running = await serveDirectory(directory, { host: options.host, port, tokens });
  const view = running.backend.current();
  console.log(`contact-psi listening on ${running.server.url} (epoch ${view.epoch}, ${view.snapshot.count} entries)`);
  const stop = () => {
    process.stderr.write('shutting down\n');
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
