#!/usr/bin/env node
/**
 * The bin's entry (scripts/bundle-cli.mjs bundles this as dist/src/cli/bundle/main.js):
 * for `contact-psi sync`, the WebSocket upgrade is on the wire before anything else loads
 * (issue 13 §1: the first byte within 150 ms of the spawn; commander, ws and the built-ins
 * ws loads, http, https, tls, zlib, stream, cost more than the rest of the start together).
 * Then main.ts, the whole command, runs exactly as without this file: it parses the same
 * command line with commander and the sync takes the connection started here
 * (early-connect.ts's connectForSync).
 *
 * The early path is taken only for a command line commander is certain to accept
 * (sync-entry-argv.ts), a ws:// or wss:// URL the hand-written handshake takes
 * (early-upgrade-wire.ts), and a token that resolves without an error; otherwise nothing is
 * started here and main.ts does what it always did (its errors, --help, --strict: no
 * early connection).
 */
import { startEarlySync } from './sync-entry-start.js';

startEarlySync(process.argv.slice(2), process.env);
await import('./main.js');
