/**
 * One sync of an address book against a directory server, written once for every runtime:
 * the Node client (src/client/sync.ts, over files) and the browser client (sync.ts next to
 * this file, over IndexedDB) differ only in the SyncCache, the random source and the
 * WebSocket they hand in. Nothing here touches a file, a timer or a Node API.
 *
 * The steps, each for a reason:
 * - the key pinned on first use, the quota receipt and the cached snapshot are read before
 *   connecting (a damaged pin or receipt is `cache_corrupt`: the user decides);
 * - blinds are deterministic under the device secret, so a contact checked before gives the
 *   same blinded element and, with the receipt, is not charged again;
 * - the receipt is saved even when the server refuses part-way (`rate_limited`), for what
 *   was charged;
 * - witnesses are asked which snapshot they serve (a different digest is a split view);
 * - the key is pinned, and the snapshot saved when it was downloaded or moved by a delta.
 */
import { contactsByIdentifier, uniqueIdentifiers, type AddressBook } from '../contacts/index.js';
import { loadGroup, type BackendName, type Rng } from '../group/index.js';
import { createSuite, Modes, type SuiteId } from '../oprf/index.js';
import { groupIdOf } from '../oprf/suite-group.js';
import { DiscoveryClientSession, type DiscoveryResult } from '../protocol/discovery/client.js';
import { DiscoveryInfoSession } from '../protocol/discovery/info.js';
import { ProtocolError } from '../protocol/errors.js';
import type { OprfOffload } from '../protocol/offload.js';
import type { SessionEvent } from '../protocol/session-core.js';
import { runClientSession } from '../transport/ws/client.js';
import type { WebSocketConstructor } from '../transport/ws/client-socket.js';
import { DEVICE_SECRET_BYTES, type KeyPin, type SyncCache } from './sync-cache.js';

export interface SyncCoreOptions {
  /** ws:// or wss:// URL of the directory server. */
  server: string;
  book: AddressBook;
  /** Where the snapshot, pinned key, quota receipt and device secret live between syncs. */
  cache: SyncCache;
  /** Cryptographically secure random bytes (blinds when no device secret applies, the device secret itself). */
  rng: Rng;
  token?: string;
  suite?: SuiteId;
  backend?: BackendName;
  /** A public key from configuration: the directory must present exactly this key. */
  pinnedPublicKey?: Uint8Array;
  onEvent?: (event: SessionEvent<DiscoveryResult>) => void;
  /** Called when the directory's key differs from the one seen before (a new epoch). */
  onKeyChange?: (previous: { epoch: number }, current: { epoch: number }) => void;
  /** Mirrors of the same directory: a different digest for the same epoch and version fails with `split_view`. */
  witnesses?: string[];
  /** `lookup` for a one-off check of a number typed in by hand (its own small quota). */
  purpose?: 'sync' | 'lookup';
  /** Blind and finalize elsewhere (a worker pool, Web Workers): chunks are then pipelined. */
  offload?: OprfOffload;
  /** Contacts per evaluation chunk (default: the server's chunk, or 1,024 with an offload). */
  chunkItems?: number;
  maxDownloadBytes?: number;
  maxDeltaPrefixes?: number;
  /** Forget this server's snapshot, pin and receipt first: the recovery from `cache_corrupt`. */
  resetCache?: boolean;
  /** Told when a cached snapshot could not be used and was deleted (it is downloaded again). */
  onCacheDiscarded?: (reason: string) => void;
  /** WebSocket constructor (default: ws in Node, the global WebSocket elsewhere). */
  WebSocket?: WebSocketConstructor;
  /** Whole session, connecting included (default CLIENT_DEFAULTS.timeoutMs, 300 s). */
  timeoutMs?: number;
}

/** One address-book entry found: its name, the identifier that matched, and the directory's user and label. */
export interface CoreSyncMatch {
  name: string;
  identifier: string;
  userId: string;
  /** The label as the directory stored it (bytes; usually UTF-8 text). */
  label: Uint8Array;
}

export interface CoreSyncOutcome {
  matches: CoreSyncMatch[];
  result: DiscoveryResult;
  identifiersChecked: number;
}

const OFFLOAD_CHUNK_ITEMS = 1024;

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

async function checkWitness(url: string, options: SyncCoreOptions, suite: SuiteId, result: DiscoveryResult): Promise<void> {
  const info = await runClientSession(url, new DiscoveryInfoSession(suite), { token: options.token, WebSocket: options.WebSocket, timeoutMs: options.timeoutMs });
  const mine = result.snapshot;
  // Compare with what dir.info announced for our version (after deltas, the base digest is older).
  const myDigest = info.version === mine.version ? (mine.infoDigest ?? mine.digest) : info.version === (mine.baseVersion ?? mine.version) ? mine.digest : undefined;
  if (info.epoch === mine.epoch && myDigest && (!equalBytes(info.digest, myDigest) || !equalBytes(info.publicKey, mine.publicKey))) {
    throw new ProtocolError('split_view', `witness ${url} serves another snapshot for epoch ${info.epoch} version ${info.version}`);
  }
}

export async function runSync(options: SyncCoreOptions): Promise<CoreSyncOutcome> {
  const { server, cache } = options;
  const suiteId = options.suite ?? 'ristretto255-SHA512';
  const group = await loadGroup(groupIdOf(suiteId), options.backend ?? 'auto');
  const suite = createSuite(suiteId, Modes.VOPRF, group);
  if (options.resetCache) await cache.reset(server);
  const identifiers = uniqueIdentifiers(options.book);
  const seen: KeyPin | undefined = await cache.loadPin(server);
  const quotaReceipt = await cache.loadReceipt(server);
  const cached = await cache.loadSnapshot(server, options.onCacheDiscarded);
  const blindSecret = await cache.deviceSecret(() => options.rng(DEVICE_SECRET_BYTES));
  const session = new DiscoveryClientSession({
    suite,
    identifiers,
    rng: options.rng,
    cache: cached,
    pinnedPublicKey: options.pinnedPublicKey,
    // Checked as soon as dir.info arrives, before anything is evaluated.
    knownKey: seen,
    blindSecret,
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
    result = await runClientSession(server, session, { token: options.token, onEvent: options.onEvent, WebSocket: options.WebSocket, timeoutMs: options.timeoutMs });
  } catch (err) {
    // Refused part-way (rate_limited): keep the receipt for what was charged.
    if (session.quotaReceipt) await cache.saveReceipt(server, session.quotaReceipt);
    throw err;
  }
  if (result.quotaReceipt) await cache.saveReceipt(server, result.quotaReceipt);
  for (const witness of options.witnesses ?? []) await checkWitness(witness, options, suiteId, result);

  // Trust on first use: a key change within one epoch is an attack (the session refuses it);
  // a change with a new epoch is a rotation and only worth a warning.
  const { epoch, publicKey } = result.snapshot;
  if (seen && !equalBytes(seen.publicKey, publicKey)) options.onKeyChange?.({ epoch: seen.epoch }, { epoch });
  await cache.savePin(server, { epoch, publicKey });
  if (!result.cacheHit || result.deltaApplied) await cache.saveSnapshot(server, result.snapshot);

  const byIdentifier = contactsByIdentifier(options.book);
  const matches: CoreSyncMatch[] = [];
  for (const m of result.matches) {
    for (const contact of byIdentifier.get(m.identifier) ?? []) {
      matches.push({ name: contact.name, identifier: m.identifier, userId: m.userId, label: m.label });
    }
  }
  matches.sort((a, b) => a.name.localeCompare(b.name) || a.identifier.localeCompare(b.identifier));
  return { matches, result, identifiersChecked: identifiers.length };
}
