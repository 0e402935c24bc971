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
import { OutputCache, outputCacheKey } from './output-cache.js';
import { clientAccountOf } from './client-account.js';
import { blindSecretFor } from '../protocol/discovery/blind-secret.js';
import type { OprfOffload } from '../protocol/offload.js';
import type { Announcement, Signed } from '../protocol/discovery/announcement.js';
import { newPins, type PinState } from '../protocol/discovery/identity-pins.js';
import { compareWithWitnesses, type WitnessComparison } from '../protocol/discovery/witness.js';
import { WitnessQuerySession } from '../protocol/discovery/witness-query.js';
import type { VerifiabilityError } from '../protocol/discovery/verify-error.js';
import { ContactPsiError } from '../errors.js';
import { labelDisplay } from '../protocol/discovery/label-text.js';

export interface SyncOptions {
  server: string;
  book: AddressBook;
  cacheDir: string;
  token?: string;
  suite?: SuiteId;
  backend?: BackendName;
  /**
   * An epoch OPRF public key from configuration: the directory must present exactly this
   * key (every rotation is then refused; prefer `pinnedIdentityKey`).
   */
  pinnedPublicKey?: Uint8Array;
  /**
   * The directory identity key (Ed25519, 32 bytes; `contact-psi directory info` prints it).
   * Every signed statement must come from it; rotations it signs are followed. Without it the
   * identity is pinned on first use and kept in the cache (`pins.bin`).
   */
  pinnedIdentityKey?: Uint8Array;
  onEvent?: (event: SessionEvent<DiscoveryResult>) => void;
  /** Called when the directory's key differs from the one seen before (a new epoch). */
  onKeyChange?: (previous: { epoch: number }, current: { epoch: number }) => void;
  /**
   * Witnesses (other nodes, mirrors of the log, other vantage points onto the directory):
   * after dir.info is verified and before anything is evaluated, each is asked for its newest
   * signed announcement and its entry for the served (epoch, version) (witness.ts). Another
   * signed body, a forked log, or a witness ahead without our version fails the sync with
   * `split_view`; an unreachable or misbehaving witness fails it too. Witnesses get no token.
   */
  witnesses?: string[];
  /** Told when witnesses were behind (no evidence either way) and how many confirmed. */
  onWitnesses?: (comparison: WitnessComparison) => void;
  /** Told when a delta did not reach the signed commitment: it was refused and the snapshot downloaded. */
  onDeltaRefused?: (error: VerifiabilityError) => void;
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
  /** The label as text: its UTF-8 text when valid (not escaped: escape it before a terminal), else `base64:...` (labelDisplay). */
  label: string;
  /** The label's bytes as the directory stored them (labelText decodes them, or says they are not text). */
  labelBytes: Uint8Array;
}

export interface SyncOutcome {
  matches: SyncMatch[];
  result: DiscoveryResult;
  identifiersChecked: number;
}

const OFFLOAD_CHUNK_ITEMS = 1024;

/** Asks every witness (in parallel, one short session each) and applies the witness rule. */
export async function checkWitnesses(urls: readonly string[], suite: SuiteId, announcement: Signed<Announcement>): Promise<WitnessComparison> {
  const { epoch, version } = announcement.statement;
  const answers = await Promise.all(
    urls.map(async (url) => {
      const answer = await runClientSession(url, new WitnessQuerySession(suite, epoch, version));
      return { name: url, announcements: answer.announcements };
    }),
  );
  return compareWithWitnesses(announcement, announcement.identityKey, answers);
}

/** The pin state a sync starts from: the cached one, under the configured identity if there is one. */
function startingPins(cached: PinState | undefined, configured: Uint8Array | undefined): PinState {
  if (configured === undefined) return cached ?? newPins();
  if (configured.length !== 32) throw new ContactPsiError('invalid_option', 'a directory identity key is 32 bytes (64 hex digits)');
  // The configuration is the user's word: a cache of another identity is not carried over.
  if (cached?.identityKey && Buffer.from(cached.identityKey).equals(Buffer.from(configured))) return { ...cached, pinnedBy: 'config' };
  return newPins({ identityKey: configured });
}

export async function syncAddressBook(options: SyncOptions): Promise<SyncOutcome> {
  const suiteId = options.suite ?? 'ristretto255-SHA512';
  const group = await loadGroup(groupIdOf(suiteId), options.backend ?? 'auto');
  const suite = createSuite(suiteId, Modes.VOPRF, group);
  const cache = new SnapshotCache(options.cacheDir, options.server);
  if (options.resetCache) cache.reset();
  const identifiers = uniqueIdentifiers(options.book);
  const witnesses = options.witnesses ?? [];
  // A damaged pin or receipt throws cache_corrupt (naming the file and the way out); a
  // damaged snapshot is deleted and downloaded again.
  const seen = cache.pinned();
  const pins = startingPins(cache.loadPins(), options.pinnedIdentityKey);
  const quotaReceipt = cache.loadReceipt();
  const cached = cache.load();
  if (cache.discarded) options.onCacheDiscarded?.(cache.discarded);
  // Unlinkable blinding (issue 10 §4 §3): the device secret (0600, never logged: as sensitive
  // as the book) is never used as it is; blinds come from a secret per (directory identity,
  // account), and are random where no quota applies (no token: nothing to recognize).
  const secret = deviceSecret(options.cacheDir);
  const account = clientAccountOf(options.token);
  const quotaApplies = options.token !== undefined;
  const incremental = (options.purpose ?? 'sync') === 'sync';
  // Incremental sync: the outputs of this epoch already held (a damaged file is deleted:
  // the book is evaluated again). With a quota they only help while the receipt that paid
  // for them is held (a label refetch is allowed up to the receipt's set).
  const outputCache = new OutputCache(cache.dir, options.server);
  const cacheKeyFor = (identity: Uint8Array | undefined) => outputCacheKey(secret, identity, account);
  let outputs = incremental ? outputCache.load(identifiers, cacheKeyFor) : undefined;
  if (outputCache.discarded) options.onCacheDiscarded?.(outputCache.discarded);
  if (quotaApplies && !quotaReceipt) outputs = undefined;
  const session = new DiscoveryClientSession({
    suite,
    identifiers,
    rng: (n) => new Uint8Array(randomBytes(n)),
    cache: cached,
    pinnedPublicKey: options.pinnedPublicKey,
    // The signed view replaces the OPRF key seen first (pinned-key.bin): a rotation the
    // identity signs is followed, a second key for a seen epoch is key_conflict.
    pins,
    commitment: groupIdOf(suiteId) === 'ristretto255' ? { group } : undefined,
    checkView:
      witnesses.length === 0
        ? undefined
        : async (announcement) => {
            // Awaited first: `onWitnesses?.(await ...)` would skip the check when nobody listens.
            const comparison = await checkWitnesses(witnesses, suiteId, announcement);
            options.onWitnesses?.(comparison);
          },
    blindSecretFor: (identityKey) => blindSecretFor({ deviceSecret: secret, identityKey, account, quotaApplies }),
    outputs,
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
    // Refused part-way (rate_limited): keep the receipt for what was charged, and the outputs
    // answered, so none of it is evaluated (and charged) again in this epoch.
    if (session.quotaReceipt) cache.saveReceipt(session.quotaReceipt);
    const partial = incremental ? session.partialOutputs : undefined;
    if (partial && (!quotaApplies || session.quotaReceipt)) outputCache.save(partial, cacheKeyFor(partial.identity));
    throw err;
  }
  if (result.quotaReceipt) cache.saveReceipt(result.quotaReceipt);
  if (incremental) outputCache.save(result.outputs, cacheKeyFor(result.outputs.identity));
  if (result.refusedDelta) options.onDeltaRefused?.(result.refusedDelta);

  // The pin state moves only after a whole verified sync (witnesses included).
  if (result.verified) cache.savePins(result.verified.state);
  // A new epoch key, signed by the pinned identity: a rotation, reported, not a warning.
  const { epoch, publicKey } = result.snapshot;
  if (seen && !Buffer.from(seen.publicKey).equals(Buffer.from(publicKey))) options.onKeyChange?.({ epoch: seen.epoch }, { epoch });
  cache.pin(epoch, publicKey);
  if (!result.cacheHit || result.deltaApplied) cache.save(result.snapshot);

  const byIdentifier = contactsByIdentifier(options.book);
  const matches: SyncMatch[] = [];
  for (const m of result.matches) {
    for (const contact of byIdentifier.get(m.identifier) ?? []) {
      matches.push({ name: contact.name, identifier: m.identifier, userId: m.userId, label: labelDisplay(m.label), labelBytes: m.label });
    }
  }
  matches.sort((a, b) => a.name.localeCompare(b.name) || a.identifier.localeCompare(b.identifier));
  return { matches, result, identifiersChecked: identifiers.length };
}
