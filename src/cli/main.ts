#!/usr/bin/env node
/**
 * The `contact-psi` command. Each subcommand lives in its own file; this only wires them.
 *
 * Every command's module is imported when that command runs, never up front (issue 13 §1,
 * start-up): `sync` loads only the client (no server, SQLite, PostgreSQL, pino, prom-client),
 * `--help` and `--version` load none. `typeof import(...)` below is a type, not a load.
 * Options are checked here by their form (option-syntax.ts); a region's numbering plan
 * (libphonenumber) by the command, before it reads or sends anything.
 * test/cli-startup.test.ts fails when a static import of a command comes back.
 */
import { Command } from 'commander';
// Not option-values.ts: its region check loads libphonenumber's metadata, which no command needs before it runs.
import { asParser, asRepeatable, durationValue, hexKeyValue, integerValue, portValue, regionSyntaxValue, workersValue, wsUrlValue } from './option-syntax.js';
import { escapeControlChars } from './terminal-text.js';
import * as nodeModule from 'node:module';

// Node >= 22.1 keeps V8's compiled code of the modules loaded from here on (the command's
// chunks) in a cache on disk (NODE_DISABLE_COMPILE_CACHE=1 turns it off). Node 20 has no
// such API for ES modules: there this does nothing.
(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();

type Commands = {
  demo: typeof import('./commands/demo.js');
  demoWeb: typeof import('./commands/demo-web.js');
  directoryImport: typeof import('./commands/directory-import.js');
  directoryRemove: typeof import('./commands/directory-remove.js');
  directoryInfo: typeof import('./commands/directory-info.js');
  keygen: typeof import('./commands/keygen.js');
  serve: typeof import('./commands/serve.js');
  sync: typeof import('./commands/sync.js');
};

const DB_HELP = 'the directory store: a SQLite file (directory.sqlite) or postgres://user:password@host:port/database for a fleet';
const KEK_HELP = 'with PostgreSQL: the 0600 file holding the key-encryption key the epoch keys are sealed under (default: CONTACT_PSI_KEK; make one with `keygen --kek`)';

const program = new Command();
program.name('contact-psi').description('Private contact discovery with RFC 9497 OPRF-based PSI').version('0.1.0');

const directory = program.command('directory').description('manage the directory of registered users');
directory
  .command('import')
  .description('create or update the directory from a CSV (user_id,phones,emails,label,discoverable) or JSON file')
  .argument('<file>', 'file.csv or file.json')
  .requiredOption('--db <url>', DB_HELP)
  .option('--kek-file <file>', KEK_HELP)
  .option('--region <CC>', 'default region for phone numbers in national format (e.g. CH or ch)', asParser(regionSyntaxValue))
  .option('--fill-range <n>', 'with PostgreSQL: identifiers per precompute range claimed (the fleet\'s nodes share the ranges)', asParser((v) => integerValue(v, '--fill-range')))
  .option('--strict', 'refuse the whole file (exit 1, nothing imported) when any row is rejected')
  .option('--batch-rows <n>', 'records read, checked, evaluated and committed together (bounds memory; default 4096)', asParser((v) => integerValue(v, '--batch-rows')))
  .option('--stage <file>', 'the stage file an interrupted import resumes from (default: <db>.import, or one in the temp directory for PostgreSQL)')
  .option('--log-batches', 'a line on stderr per committed batch')
  .option('--fleet-precompute', 'with PostgreSQL: stage the users only and leave their tags to the shared precompute (the running nodes and this process claim ranges), instead of computing them while staging')
  .action(async (...a: Parameters<Commands['directoryImport']['directoryImport']>) => (await import('./commands/directory-import.js')).directoryImport(...a));

directory
  .command('remove')
  .description('remove a user from the directory (their identifiers stop matching once the server picks up the change)')
  .argument('<user_id>', 'the user to remove')
  .requiredOption('--db <url>', DB_HELP)
  .option('--kek-file <file>', KEK_HELP)
  .action(async (...a: Parameters<Commands['directoryRemove']['directoryRemove']>) => (await import('./commands/directory-remove.js')).directoryRemove(...a));

directory
  .command('info')
  .description('print the identity key, the signed epoch keys and the current announcement (to configure client pins)')
  .requiredOption('--db <path|url>', 'SQLite directory file or postgres:// URL')
  .option('--json', 'print one JSON object')
  .action(async (...a: Parameters<Commands['directoryInfo']['directoryInfo']>) => (await import('./commands/directory-info.js')).directoryInfo(...a));

directory
  .command('rotate')
  .description('rotate the epoch key now (precomputes the next epoch first; run it while no server owns the directory, or send SIGUSR2 to the server)')
  .requiredOption('--db <url>', DB_HELP)
  .option('--kek-file <file>', KEK_HELP)
  .option('--grace-hours <h>', 'how long the previous epoch stays served', asParser((v) => durationValue(v, '--grace-hours', 'hours')), '24')
  .action(async (...a: Parameters<Commands['directoryImport']['directoryRotate']>) => (await import('./commands/directory-import.js')).directoryRotate(...a));

program
  .command('serve')
  .description('serve the directory over WebSocket (settings: flags > CONTACT_PSI_* environment > --config file > defaults)')
  .option('--db <url>', `${DB_HELP} (required)`)
  .option('--kek-file <file>', KEK_HELP)
  .option('--node <name>', 'this node\'s name in a fleet\'s logs and work records (default: host:pid)')
  .option('--port <n>', 'TCP port (0 = any free port)', asParser((v) => portValue(v, '--port')), '7878')
  .option('--host <host>', 'interface to listen on', '127.0.0.1')
  .option('--tokens <file>', 'accepted bearer tokens, one "<token> [<account>]" per line (# comments; tokens of 16+ characters); enables per-account quotas (default: no authentication)')
  .option('--rotate-hours <h>', 'rotate the epoch key every h hours (0 = never; SIGUSR2 rotates now)', asParser((v) => durationValue(v, '--rotate-hours', 'hours')), '0')
  .option('--grace-hours <h>', 'how long the previous epoch stays served after a rotation', asParser((v) => durationValue(v, '--grace-hours', 'hours')), '24')
  .option('--quota <n>', 'evaluations each account\'s sync bucket holds (refilled at 1,500 a day)', asParser((v) => integerValue(v, '--quota')), '50000')
  .option('--fill-range <n>', 'with PostgreSQL: identifiers per precompute range a node claims', asParser((v) => integerValue(v, '--fill-range')), '4096')
  .option('--refresh-seconds <s>', 'how often to pick up directory changes (with PostgreSQL, the change feed brings them at once; this is the fallback)', asParser((v) => durationValue(v, '--refresh-seconds', 'seconds')), '60')
  .option('--config <file>', 'a JSON file of these settings, camelCase keys (e.g. {"port": 7878, "adminPort": 9464}); CONTACT_PSI_CONFIG')
  .option('--admin-port <n>', 'serve /metrics (Prometheus), /healthz and /readyz on this port (default: none)')
  .option('--admin-host <host>', 'interface of the admin port', '127.0.0.1')
  .option('--log-level <level>', 'JSON log lines on stderr: fatal, error, warn, info, debug, trace, silent', 'info')
  .option('--partial-labels <on|off>', 'take the labels of each evaluated chunk while the next ones are evaluated (shorter syncs); turn on once every client is this version or newer: older ones refuse the announcement', 'off')
  .action(async (...a: Parameters<Commands['serve']['serve']>) => (await import('./commands/serve.js')).serve(...a));

program
  .command('sync')
  .description('find which contacts of an address book are registered')
  .requiredOption('--server <ws-url>', 'directory server, e.g. ws://127.0.0.1:7878', asParser((v) => wsUrlValue(v, '--server')))
  .requiredOption('--contacts <file>', 'address book: vCard (.vcf, .vcard) or CSV (.csv); other names: told apart by content')
  .option('--region <CC>', 'default region for phone numbers in national format (e.g. CH or ch)', asParser(regionSyntaxValue))
  .option('--json', 'print one JSON array of { name, identifier, userId, label }')
  .option('--cache <dir>', 'snapshot cache (default: contact-psi in the user cache directory)')
  .option('--token-file <file>', 'file holding the bearer token (or set CONTACT_PSI_TOKEN)')
  .option('--token <token>', 'bearer token (visible to other users in the process list: prefer --token-file)')
  .option('--pin <hex>', "the directory's epoch OPRF public key (64 hex digits); refuse any other (also every rotation: prefer --pin-identity)", asParser((v) => hexKeyValue(v, '--pin', 32, "the directory's epoch public key")))
  .option('--pin-identity <hex>', "the directory's identity key (64 hex digits, from `contact-psi directory info`); default: pinned on first use", asParser((v) => hexKeyValue(v, '--pin-identity', 32, "the directory's identity key")))
  .option('--witness <ws-url>', 'a witness of the directory (another node or a mirror of its log); repeatable', asRepeatable((v) => wsUrlValue(v, '--witness')))
  .option('--reset-cache', "delete this server's cache (snapshot, pinned key, quota receipt) first: the way out of a cache_corrupt error")
  .option('--workers <n>', 'worker threads for blinding and finalizing (auto: every core from 2,048 contacts)', asParser(workersValue), 'auto')
  .option('--strict', 'refuse (exit 1, nothing sent) when any address-book entry is rejected')
  .action(async (options: Parameters<Commands['sync']['sync']>[0]) => {
    // The connection first (early-connect.ts: it opens while the client code loads and the
    // book and cache are read), except with --strict: nothing leaves before the book is checked.
    // The region's numbering plan is checked (option-values.ts) before anything leaves; the command checks it again.
    if (options.region !== undefined) (await import('./option-values.js')).regionValue(options.region);
    const early = options.strict ? undefined : (await import('./early-connect.js')).connectForSync(options);
    return (await import('./commands/sync.js')).syncOver(options, early);
  });

program
  .command('demo')
  .description('serve a generated directory on an ephemeral port and sync a generated address book against it')
  .option('--users <n>', 'directory size', asParser((v) => integerValue(v, '--users')), '20000')
  .option('--contacts <n>', 'address-book size', asParser((v) => integerValue(v, '--contacts')), '1000')
  .option('--keep', 'keep the temporary directory')
  .option('--fleet <n>', 'instead: an embedded PostgreSQL, n serve processes on it, clients synced across them and one node killed mid-run')
  .option('--web', 'serve a page instead: pick an address book in a browser and see which contacts are registered')
  .option('--port <n>', 'with --web: port of the page', asParser((v) => portValue(v, '--port')), '7879')
  .action(async (options: Parameters<Commands['demo']['demo']>[0] & Parameters<Commands['demoWeb']['demoWeb']>[0] & { web?: boolean }) =>
    options.web ? (await import('./commands/demo-web.js')).demoWeb(options) : (await import('./commands/demo.js')).demo(options),
  );

program
  .command('keygen')
  .description('generate an epoch key file, or with --kek a fleet\'s key-encryption key (mode 0600)')
  .option('--out <path>', 'key file to create', 'contact-psi.key')
  .option('--kek', 'a key-encryption key for a PostgreSQL fleet instead of an epoch key file')
  .action(async (...a: Parameters<Commands['keygen']['keygen']>) => (await import('./commands/keygen.js')).keygen(...a));

program
  .command('vectors')
  .description('write the protocol known-answer vectors (spec/vectors)')
  .argument('[dir]', 'output directory', 'spec/vectors')
  .action(async (dir: string) => (await import('./vectors.js')).writeVectors(dir));

program.parseAsync(process.argv).catch((err: unknown) => {
  const e = err as { code?: string; message?: string; hint?: string };
  // A message may quote a file or a server (an error's text): escaped before it reaches the terminal.
  console.error(escapeControlChars(`contact-psi: ${e.code ? `[${e.code}] ` : ''}${e.message ?? String(err)}`));
  // What to do about it (error-hints.ts): the option that fixes it.
  if (typeof e.hint === 'string') console.error(escapeControlChars(`hint: ${e.hint}`));
  process.exit(1);
});
