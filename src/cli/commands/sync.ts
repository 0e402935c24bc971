/** `contact-psi sync --server <ws-url> --contacts <file> --region <CC> [--json]`. */
import { readFileSync } from 'node:fs';
import { syncAddressBook } from '../../client/sync.js';
import { ContactPsiError } from '../../errors.js';
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
  /** An epoch OPRF public key (hex) the directory must present: refuses every rotation. */
  pin?: string;
  /** The directory identity key (64 hex digits, from `contact-psi directory info`): follows the rotations it signs. */
  pinIdentity?: string;
  /** Witness URLs (repeatable): each must hold the signed view this sync was served. */
  witness?: string[];
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
    pinnedPublicKey: options.pin ? hexOption(options.pin, '--pin') : undefined,
    pinnedIdentityKey: options.pinIdentity ? hexOption(options.pinIdentity, '--pin-identity', 32) : undefined,
    witnesses: options.witness,
    onWitnesses: ({ confirmed, behind }) => {
      if (confirmed.length === 0) console.error(safe(`warning: no witness confirmed this version yet (behind: ${behind.join(', ')})`));
    },
    onDeltaRefused: (err) => console.error(safe(`warning: [${err.code}] ${err.message}; the delta was refused and the signed snapshot downloaded instead`)),
    resetCache: options.resetCache,
    onCacheDiscarded: (reason) => console.error(safe(`warning: ${reason}`)),
    onEvent: (e) => {
      if (e.type !== 'progress') return;
      (e.phase === 'download' ? download : evaluate).update(e.done, e.total);
      if (e.done === e.total) (e.phase === 'download' ? download : evaluate).done();
    },
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

/** A hex option, refused (invalid_option) unless it is whole bytes of hex (and `bytes` long, if given). */
function hexOption(value: string, name: string, bytes?: number): Uint8Array {
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(value) || (bytes !== undefined && value.length !== 2 * bytes)) {
    throw new ContactPsiError('invalid_option', `${name} must be ${bytes === undefined ? 'hex' : `${2 * bytes} hex digits`}`);
  }
  return new Uint8Array(Buffer.from(value, 'hex'));
}

/** Text for stderr/stdout that came from a file or a peer. */
const safe = escapeControlChars;
