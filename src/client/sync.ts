/**
 * Sync an address book against a directory server: parse and normalize the contacts,
 * run one discovery session over WebSocket, keep the snapshot cache and the pinned key
 * up to date, and map matches back to address-book entries.
 */
import { randomBytes } from 'node:crypto';
import { contactsByIdentifier, uniqueIdentifiers, type AddressBook } from '../contacts/index.js';
import { loadGroup, type BackendName } from '../group/index.js';
import { groupIdOf } from '../oprf/suite-group.js';
import { createSuite, Modes, type SuiteId } from '../oprf/index.js';
import { DiscoveryClientSession, type DiscoveryResult } from '../protocol/discovery/client.js';
import type { SessionEvent } from '../protocol/session-core.js';
import { runClientSession } from '../transport/ws/index.js';
import { deviceSecret, SnapshotCache } from './snapshot-cache.js';
import { DiscoveryInfoSession } from '../protocol/discovery/info.js';
import { ProtocolError } from '../protocol/errors.js';
import type { OprfOffload } from '../protocol/offload.js';

export interface SyncOptions {
  server: string;
  book: AddressBook;
  cacheDir: string;
  token?: string;
  suite?: SuiteId;
  backend?: BackendName;
  /** A public key from configuration: the directory must present exactly this key. */
  pinnedPublicKey?: Uint8Array;
  onEvent?: (event: SessionEvent<DiscoveryResult>) => void;
  /** Called when the directory's key differs from the one seen before (a new epoch). */
  onKeyChange?: (previous: { epoch: number }, current: { epoch: number }) => void;
  /**
   * Witnesses (mirrors, or other vantage points onto the same directory): each is asked
   * which snapshot it serves; a different digest for the same epoch and version is a split
   * view and fails the sync with `split_view`.
   */
  witnesses?: string[];
  /** `lookup` for a one-off check of a number typed in by hand (its own small quota). */
  purpose?: 'sync' | 'lookup';
  /**
   * Blind and finalize on a worker pool (`poolOffload(pool)` from src/parallel): chunks are
   * then blinded, evaluated and finalized in a pipeline. Worth it from about a thousand
   * contacts; keep the pool across syncs, since starting one costs a WASM load per thread.
   */
  offload?: OprfOffload;
  /** Contacts per evaluation chunk (default: the server's chunk, or 1,024 with an offload). */
  chunkItems?: number;
  /** Largest snapshot to download (default DEFAULT_MAX_DOWNLOAD_BYTES, 512 MiB; see DiscoveryClientOptions). */
  maxDownloadBytes?: number;
  /** Most delta prefixes kept with the cached snapshot (default DEFAULT_MAX_DELTA_PREFIXES, 4,000,000). */
  maxDeltaPrefixes?: number;
  /** Delete this server's cache (snapshot, pinned key, quota receipt) first: the recovery from `cache_corrupt`. */
  resetCache?: boolean;
  /** Told when a cached snapshot could not be used and was deleted (it is downloaded again). */
  onCacheDiscarded?: (reason: string) => void;
}

export interface SyncMatch {
  name: string;
  identifier: string;
  userId: string;
  label: string;
}

export interface SyncOutcome {
  matches: SyncMatch[];
  result: DiscoveryResult;
  identifiersChecked: number;
}

const OFFLOAD_CHUNK_ITEMS = 1024;

const labelText = (label: Uint8Array): string => {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(label);
  return /^[\x20-\x7e]*$/.test(text) ? text : `base64:${Buffer.from(label).toString('base64')}`;
};

async function checkWitness(url: string, suite: SuiteId, result: DiscoveryResult, token?: string): Promise<void> {
  const info = await runClientSession(url, new DiscoveryInfoSession(suite), { token });
  const mine = result.snapshot;
  // Compare with what dir.info announced for our version (after deltas, the base digest is older).
  const myDigest = info.version === mine.version ? (mine.infoDigest ?? mine.digest) : info.version === (mine.baseVersion ?? mine.version) ? mine.digest : undefined;
  if (info.epoch === mine.epoch && myDigest && (!equalBytes(info.digest, myDigest) || !equalBytes(info.publicKey, mine.publicKey))) {
    throw new ProtocolError('split_view', `witness ${url} serves another snapshot for epoch ${info.epoch} version ${info.version}`);
  }
}

const equalBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

export async function syncAddressBook(options: SyncOptions): Promise<SyncOutcome> {
  const suiteId = options.suite ?? 'ristretto255-SHA512';
  const group = await loadGroup(groupIdOf(suiteId), options.backend ?? 'auto');
  const suite = createSuite(suiteId, Modes.VOPRF, group);
  const cache = new SnapshotCache(options.cacheDir, options.server);
  if (options.resetCache) cache.reset();
  const identifiers = uniqueIdentifiers(options.book);
  // A damaged pin or receipt throws cache_corrupt (naming the file and the way out); a
  // damaged snapshot is deleted and downloaded again.
  const seen = cache.pinned();
  const quotaReceipt = cache.loadReceipt();
  const cached = cache.load();
  if (cache.discarded) options.onCacheDiscarded?.(cache.discarded);
  const session = new DiscoveryClientSession({
    suite,
    identifiers,
    rng: (n) => new Uint8Array(randomBytes(n)),
    cache: cached,
    pinnedPublicKey: options.pinnedPublicKey,
    // Checked as soon as dir.info arrives, before anything is evaluated.
    knownKey: seen,
    blindSecret: deviceSecret(options.cacheDir),
    quotaReceipt,
    maxDownloadBytes: options.maxDownloadBytes,
    maxDeltaPrefixes: options.maxDeltaPrefixes,
    purpose: options.purpose,
    offload: options.offload,
    // Smaller chunks let blinding, evaluation and finalizing overlap (one proof per chunk).
    chunkItems: options.chunkItems ?? (options.offload ? OFFLOAD_CHUNK_ITEMS : undefined),
  });
  let result: DiscoveryResult;
  try {
    result = await runClientSession(options.server, session, { token: options.token, onEvent: options.onEvent });
  } catch (err) {
    // Refused part-way (rate_limited): keep the receipt for what was charged.
    if (session.quotaReceipt) cache.saveReceipt(session.quotaReceipt);
    throw err;
  }
  if (result.quotaReceipt) cache.saveReceipt(result.quotaReceipt);
  for (const witness of options.witnesses ?? []) await checkWitness(witness, suiteId, result, options.token);

  // Trust on first use: a key change within one epoch is an attack (the session refuses it);
  // a change with a new epoch is a rotation and only worth a warning.
  const { epoch, publicKey } = result.snapshot;
  if (seen && !Buffer.from(seen.publicKey).equals(Buffer.from(publicKey))) options.onKeyChange?.({ epoch: seen.epoch }, { epoch });
  cache.pin(epoch, publicKey);
  if (!result.cacheHit || result.deltaApplied) cache.save(result.snapshot);

  const byIdentifier = contactsByIdentifier(options.book);
  const matches: SyncMatch[] = [];
  for (const m of result.matches) {
    for (const contact of byIdentifier.get(m.identifier) ?? []) {
      matches.push({ name: contact.name, identifier: m.identifier, userId: m.userId, label: labelText(m.label) });
    }
  }
  matches.sort((a, b) => a.name.localeCompare(b.name) || a.identifier.localeCompare(b.identifier));
  return { matches, result, identifiersChecked: identifiers.length };
}
