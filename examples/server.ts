// examples/server.ts — the server exactly as `contact-psi serve` composes it.
import { serveDirectory, type BucketPolicy } from 'contact-psi';

const DAY_MS = 86_400_000;
const sync: BucketPolicy = { capacity: 50_000, refillPerMs: 1_500 / DAY_MS }; // the default, spelled out

const server = await serveDirectory({
  store: process.env.DIRECTORY_DB ?? 'directory.db', // SQLite file (or postgres:// URL, or an open Directory as `directory`)
  host: '127.0.0.1',
  port: Number(process.env.PORT ?? 7878),
  accounts: new Map([['token-of-app-a-0123456789', 'app-a']]), // bearer token -> account (or tokensFile)
  quota: { sync },                     // per-account buckets, durable in the directory's store
  workers: 2,                          // one pool for every connection (default: every core)
  refreshMs: 60_000,                   // picks up imports made while it runs (the default)
  rotate: { everyMs: 30 * DAY_MS },    // a new epoch key every 30 days, the old one served 24 h more
  admin: { port: Number(process.env.ADMIN_PORT ?? 9464) }, // /metrics, /healthz, /readyz on loopback
  logLevel: 'info',                    // one JSON line per session and per directory event, on stderr
});
console.log(`listening on ${server.url}, admin on ${server.admin?.url}`);

// close() stops everything it started (sockets, timers, worker threads): the process then exits.
const stop = () => void server.close();
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
