/** `contact-psi sync --server <ws-url> --contacts <file> --region <CC> [--json]`. */
import { readFileSync } from 'node:fs';
import { syncAddressBook } from '../../client/sync.js';
import { ContactPsiError } from '../../errors.js';
import { availableParallelism } from 'node:os';
import { formatOfFileName, parseAddressBook, uniqueIdentifiers, type CountryCode } from '../../contacts/index.js';
import { poolOffload, WorkerPool } from '../../parallel/index.js';
import { defaultCacheDir } from '../cache-dir.js';
import { progressBar } from '../progress.js';
import { hintFor } from '../error-hints.js';
import { hexKeyValue, regionValue, workersValue, wsUrlValue } from '../option-values.js';
import { snapshotSourceLine } from '../snapshot-source.js';
import { escapeControlChars, jsonForTerminal } from '../terminal-text.js';
import { resolveClientToken } from '../token-source.js';
import type { EarlyConnection } from '../early-connect.js';

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
  /** Refuse (exit non-zero, nothing sent) when any address-book entry is rejected. */
  strict?: boolean;
}

/** Below this many identifiers a pool costs more to start than it saves. */
const POOL_FROM_IDENTIFIERS = 2048;

/** The pool for this sync, or none: 'auto' uses every core for large books. */
function syncPool(workers: string | undefined, identifiers: number): WorkerPool | undefined {
  const checked = workers === undefined ? 'auto' : workersValue(workers);
  const requested = checked === 'auto' ? (identifiers >= POOL_FROM_IDENTIFIERS ? availableParallelism() : 0) : Number(checked);
  if (requested === 0) return undefined;
  try {
    return new WorkerPool({ size: requested });
  } catch (err) {
    console.error(`sync runs on one thread: ${(err as Error).message}`);
    return undefined;
  }
}

/** What main.ts started before it loaded this module (early-connect.ts): the token it resolved, the connection already opening. */
export interface EarlySync {
  token: string | undefined;
  connection: EarlyConnection;
}

/** `contact-psi sync` connecting when the client is ready (as `.action(sync)` calls it: one argument that counts). */
export function sync(options: SyncCliOptions): Promise<void> {
  return syncOver(options, undefined);
}

/** `contact-psi sync` over the connection main.ts started (early-connect.ts), or a new one. */
export async function syncOver(options: SyncCliOptions, early: EarlySync | undefined): Promise<void> {
  try {
    await syncBook(options, early);
  } finally {
    // Not taken (the sync failed before connecting): closed, so the process can exit.
    early?.connection.discard();
  }
}

async function syncBook(options: SyncCliOptions, early: EarlySync | undefined): Promise<void> {
  // Every option is checked before the file is read or the server contacted (invalid_option).
  const server = wsUrlValue(options.server, '--server');
  const witnesses = options.witness?.map((w) => wsUrlValue(w, '--witness'));
  const region = options.region === undefined ? undefined : (regionValue(options.region) as CountryCode);
  // Both keys are ristretto255 / Ed25519 public keys: 32 bytes.
  const pin = options.pin === undefined ? undefined : hexKeyValue(options.pin, '--pin', 32, "the directory's epoch public key");
  const pinIdentity = options.pinIdentity === undefined ? undefined : hexKeyValue(options.pinIdentity, '--pin-identity', 32, "the directory's identity key");
  if (options.workers !== undefined) workersValue(options.workers);
  const token = early ? early.token : resolveClientToken(options, process.env, (m) => console.error(`warning: ${m}`));

  // The file name's extension decides the format (.vcf/.vcard, .csv); the content only when it says none.
  const book = readBook(options.contacts, region);
  // Invalid entries are reported, never dropped silently.
  for (const bad of book.invalid) {
    console.error(safe(`${options.contacts}: ${bad.name ? `"${bad.name}" ` : ''}${bad.kind} ${JSON.stringify(bad.raw)}: [${bad.code}] ${bad.reason}`));
  }
  if (options.strict && book.invalid.length > 0) {
    throw new ContactPsiError('rejected_entries', `${options.contacts}: ${book.invalid.length} entries rejected (--strict: nothing was sent)`);
  }
  if (book.contacts.length === 0 && book.invalid.length === 0) {
    throw new ContactPsiError('no_contacts', `${options.contacts} holds no contact${formatOfFileName(options.contacts) === 'vcard' ? ' (no BEGIN:VCARD ... END:VCARD card)' : ''}`);
  }
  const pool = syncPool(options.workers, uniqueIdentifiers(book).length);
  const download = progressBar('snapshot');
  const evaluate = progressBar('contacts');
  const outcome = await syncAddressBook({
    offload: pool ? poolOffload(pool) : undefined,
    server,
    WebSocket: early?.connection.WebSocket,
    book,
    cacheDir: options.cache ?? defaultCacheDir(),
    token,
    pinnedPublicKey: pin === undefined ? undefined : hexBytes(pin),
    pinnedIdentityKey: pinIdentity === undefined ? undefined : hexBytes(pinIdentity),
    witnesses,
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
      // What to do about it (main.ts prints it under the error): e.g. which token option, for a 401.
      const hint = hintFor(err, { tokenSent: token !== undefined });
      if (hint !== undefined && typeof err === 'object' && err !== null) Object.assign(err, { hint });
      throw err;
    })
    .finally(() => pool?.close());
  // Cache, delta or download: one line on stderr, so stdout stays the matches (one JSON array with --json).
  console.error(snapshotSourceLine(outcome.result));
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
      ` (snapshot ${r.deltaApplied ? 'from cache and a delta' : r.cacheHit ? 'from cache' : `downloaded, ${r.downloadedBytes} bytes`}, epoch ${r.snapshot.epoch}` +
      `${dropped ? `; ${dropped} labels dropped: ${r.oversizedLabels} too large, ${r.badLabels} did not open` : ''})`,
  );
}

/** The address book in `file`; an error names the file (e.g. `book.vcf: the address book is empty`). */
function readBook(file: string, region: CountryCode | undefined) {
  try {
    return parseAddressBook(readFileSync(file, 'utf8'), { defaultRegion: region, format: formatOfFileName(file) });
  } catch (err) {
    if (err instanceof ContactPsiError) err.message = `${file}: ${err.message}`;
    throw err;
  }
}

/** The bytes of hex checked by hexKeyValue. */
const hexBytes = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'));

/** Text for stderr/stdout that came from a file or a peer. */
const safe = escapeControlChars;
