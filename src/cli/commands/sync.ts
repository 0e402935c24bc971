/** `contact-psi sync --server <ws-url> --contacts <file> --region <CC> [--json]`. */
import { readFileSync } from 'node:fs';
import { syncAddressBook } from '../../client/sync.js';
import { availableParallelism } from 'node:os';
import { parseAddressBook, uniqueIdentifiers, type CountryCode } from '../../contacts/index.js';
import { poolOffload, WorkerPool } from '../../parallel/index.js';
import { defaultCacheDir } from '../cache-dir.js';
import { progressBar } from '../progress.js';
import { escapeControlChars, jsonForTerminal } from '../terminal-text.js';
import { resolveClientToken } from '../token-source.js';

export interface SyncCliOptions {
  server: string;
  contacts: string;
  region?: string;
  json?: boolean;
  cache?: string;
  token?: string;
  /** File whose one line is the bearer token (preferred: argv is visible to every user). */
  tokenFile?: string;
  pin?: string;
  /** Delete this server's cache (snapshot, pinned key, quota receipt) before syncing. */
  resetCache?: boolean;
  /** Worker threads for blinding and finalizing: a number, or 'auto' (default). */
  workers?: string;
}

/** Below this many identifiers a pool costs more to start than it saves. */
const POOL_FROM_IDENTIFIERS = 2048;

/** The pool for this sync, or none: 'auto' uses every core for large books. */
function syncPool(workers: string | undefined, identifiers: number): WorkerPool | undefined {
  const requested = workers === undefined || workers === 'auto' ? (identifiers >= POOL_FROM_IDENTIFIERS ? availableParallelism() : 0) : Number(workers);
  if (!Number.isInteger(requested) || requested < 0) throw new Error(`--workers must be a non-negative integer or auto, got ${workers}`);
  if (requested === 0) return undefined;
  try {
    return new WorkerPool({ size: requested });
  } catch (err) {
    console.error(`sync runs on one thread: ${(err as Error).message}`);
    return undefined;
  }
}

export async function sync(options: SyncCliOptions): Promise<void> {
  const book = parseAddressBook(readFileSync(options.contacts, 'utf8'), { defaultRegion: options.region as CountryCode | undefined });
  // Invalid entries are reported, never dropped silently.
  for (const bad of book.invalid) {
    console.error(safe(`${options.contacts}: ${bad.name ? `"${bad.name}" ` : ''}${bad.kind} ${JSON.stringify(bad.raw)}: [${bad.code}] ${bad.reason}`));
  }
  const pool = syncPool(options.workers, uniqueIdentifiers(book).length);
  const download = progressBar('snapshot');
  const evaluate = progressBar('contacts');
  const outcome = await syncAddressBook({
    offload: pool ? poolOffload(pool) : undefined,
    server: options.server,
    book,
    cacheDir: options.cache ?? defaultCacheDir(),
    token: resolveClientToken(options, process.env, (m) => console.error(`warning: ${m}`)),
    pinnedPublicKey: options.pin ? new Uint8Array(Buffer.from(options.pin, 'hex')) : undefined,
    resetCache: options.resetCache,
    onCacheDiscarded: (reason) => console.error(safe(`warning: ${reason}`)),
    onEvent: (e) => {
      if (e.type !== 'progress') return;
      (e.phase === 'download' ? download : evaluate).update(e.done, e.total);
      if (e.done === e.total) (e.phase === 'download' ? download : evaluate).done();
    },
    onKeyChange: (prev, cur) => console.error(`warning: the directory's key changed (epoch ${prev.epoch} -> ${cur.epoch})`),
  })
    .catch((err: unknown) => {
      // An error may carry the server's own words (a remote `error` message): escaped too.
      if (err instanceof Error) err.message = escapeControlChars(err.message);
      throw err;
    })
    .finally(() => pool?.close());
  if (options.json) {
    // Parsers get the same values; a terminal showing the JSON gets no control or bidi character.
    console.log(jsonForTerminal(outcome.matches.map(({ name, identifier, userId, label }) => ({ name, identifier, userId, label }))));
    return;
  }
  // Every field is escaped on its own: a user id or label chosen by the server (or a name
  // from the contacts file) cannot add a line, a tab-separated column or a terminal escape.
  for (const m of outcome.matches) console.log([m.name || '(no name)', m.identifier, m.userId, m.label].map(escapeControlChars).join('\t'));
  const r = outcome.result;
  const dropped = r.badLabels + r.oversizedLabels;
  console.log(
    `${outcome.matches.length} matches among ${outcome.identifiersChecked} identifiers of ${book.contacts.length} contacts` +
      ` (snapshot ${r.cacheHit ? 'from cache' : `downloaded, ${r.downloadedBytes} bytes`}, epoch ${r.snapshot.epoch}` +
      `${dropped ? `; ${dropped} labels dropped: ${r.oversizedLabels} too large, ${r.badLabels} did not open` : ''})`,
  );
}

/** Text for stderr/stdout that came from a file or a peer. */
const safe = escapeControlChars;
