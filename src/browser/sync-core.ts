/**
 * One sync of an address book against a directory server, written once for every runtime:
 * the Node client (src/client/sync.ts, over files) and the browser client (sync.ts next to
 * this file, over IndexedDB) differ only in the SyncCache, the random source and the
 * WebSocket they hand in. Nothing here touches a file, a timer or a Node API.
 *
 * The steps, each for a reason:
 * - the pins (directory identity, newest signed key statement and announcement), the quota
 *   receipt and the cached snapshot are read before connecting (a damaged pin or receipt is
 *   `cache_corrupt`: the user decides); dir.info must be signed by the pinned identity
 *   (trust on first use, or `pinnedIdentityKey`), and a snapshot or delta must reach the
 *   signed commitment (spec/verifiability.md);
 * - where a quota applies (a token), blinds are deterministic under a secret derived from
 *   the device secret per (directory identity, account) (blind-secret.ts), so a contact
 *   checked before gives the same blinded element and, with the receipt, is not charged
 *   again, while two operators or accounts see unrelated elements; without a token blinds
 *   are random (nothing to recognize, only linkability to lose);
 * - the receipt is saved even when the server refuses part-way (`rate_limited`), for what
 *   was charged;
 * - witnesses are asked for their signed announcement before anything is evaluated;
 * - the pins move only after a whole verified sync; the snapshot is saved when it was
 *   downloaded or moved by a delta.
 * - the OPRF outputs of the epoch are facts about the directory identity (their DLEQ proofs
 *   verify against the epoch key it signed): they are read once dir.info is verified, under
 *   the identity that signed it (`identityScope`), so every node of a fleet, or a load
 *   balancer in front of it, finds the same ones, and a server that cannot sign as the
 *   identity finds none. What the client cannot verify (a label answered "none", the quota
 *   receipt) is written there only by a URL the user declared to be the identity's (`fleet`,
 *   a configured `pinnedIdentityKey`); any other URL keeps it under its own URL, since a relay
 *   can present the identity's public signed documents (identity-share.ts). A re-sync
 *   evaluates, and is charged for, only new identifiers;
 * - a sync cut off part-way (connection closed, node killed, timeout, refusal) saves every
 *   output it received and verified, then the newest receipt whose elements all have one:
 *   outputs first, so a receipt never covers an element whose output was lost (that element
 *   would be evaluated, and charged, again).
 */
// Runtime-neutral (noble SHA-256): the same account, so one device secret gives the same blinds in both clients.
import { clientAccountOf } from '../client/client-account.js';
import { outputCacheKey } from '../client/output-keys.js';
import { contactsByIdentifier, uniqueIdentifiers, type AddressBook } from '../contacts/index.js';
import { ContactPsiError } from '../errors.js';
import { loadGroup, type BackendName, type Rng } from '../group/index.js';
import { createSuite, Modes, type SuiteId } from '../oprf/index.js';
import { groupIdOf } from '../oprf/suite-group.js';
import type { Announcement, Signed } from '../protocol/discovery/announcement.js';
import { blindSecretFor } from '../protocol/discovery/blind-secret.js';
import { DiscoveryClientSession, type DiscoveryResult } from '../protocol/discovery/client.js';
import { newPins, type PinState } from '../protocol/discovery/identity-pins.js';
import { outputsUsable } from '../protocol/discovery/known-outputs.js';
import type { VerifiabilityError } from '../protocol/discovery/verify-error.js';
import { compareWithWitnesses, type WitnessComparison } from '../protocol/discovery/witness.js';
import { WitnessQuerySession } from '../protocol/discovery/witness-query.js';
import type { OprfOffload } from '../protocol/offload.js';
import type { SessionEvent } from '../protocol/session-core.js';
import { runClientSession } from '../transport/ws/client.js';
import type { WebSocketConstructor } from '../transport/ws/client-socket.js';
import { declaredForIdentity, withVerifiedOutputs } from './identity-share.js';
import { DEVICE_SECRET_BYTES, identityScope, type KeyPin, type SyncCache } from './sync-cache.js';
import type { KnownOutputs, QuotaReceipt } from '../protocol/discovery/client.js';

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
  /**
   * The directory identity (Ed25519, 32 bytes) from configuration; default: pinned on first
   * use. Configured, it also declares `server` a URL of that identity: what the client cannot
   * verify (label absences, the quota receipt) is then shared with the identity's other
   * declared URLs (identity-share.ts). Pinned on first use, it declares nothing.
   */
  pinnedIdentityKey?: Uint8Array;
  /**
   * URLs the user declared to be nodes of one directory (syncAcrossFleet passes its list):
   * when `server` is one of them, its outputs, label checks and receipt are kept under the
   * directory identity it verifies as, shared by every node (spec/sync-failover.md). Any other
   * URL keeps them under its own URL, and adds to the identity's only OPRF outputs whose DLEQ
   * proof verified (a relay at another URL can present X's public signed documents).
   */
  fleet?: readonly string[];
  onEvent?: (event: SessionEvent<DiscoveryResult>) => void;
  /** Called when the directory's key differs from the one seen before (a new epoch). */
  onKeyChange?: (previous: { epoch: number }, current: { epoch: number }) => void;
  /** Mirrors of the same directory, asked for their signed announcement before anything is evaluated. */
  witnesses?: string[];
  /** What the witnesses answered (the comparison throws `split_view` itself on a fork). */
  onWitnesses?: (comparison: WitnessComparison) => void;
  /** A delta that did not reach the signed commitment (the snapshot was downloaded instead). */
  onDeltaRefused?: (error: VerifiabilityError) => void;
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

/**
 * Asks every witness (in parallel, one short session each) and applies the witness rule.
 * No bearer token: a witness is another party (a mirror, another vantage point).
 */
export async function checkWitnesses(urls: readonly string[], suite: SuiteId, announcement: Signed<Announcement>, WebSocket?: WebSocketConstructor): Promise<WitnessComparison> {
  const { epoch, version } = announcement.statement;
  const answers = await Promise.all(
    urls.map(async (url) => {
      const answer = await runClientSession(url, new WitnessQuerySession(suite, epoch, version), { WebSocket });
      return { name: url, announcements: answer.announcements };
    }),
  );
  return compareWithWitnesses(announcement, announcement.identityKey, answers);
}

/** The pin state a sync starts from: the cached one, under the configured identity if there is one. */
export function startingPins(cached: PinState | undefined, configured: Uint8Array | undefined): PinState {
  if (configured === undefined) return cached ?? newPins();
  if (configured.length !== 32) throw new ContactPsiError('invalid_option', 'a directory identity key is 32 bytes (64 hex digits)');
  // The configuration is the user's word: a cache of another identity is not carried over.
  if (cached?.identityKey && equalBytes(cached.identityKey, configured)) return { ...cached, pinnedBy: 'config' };
  return newPins({ identityKey: configured });
}

/**
 * What a session cut off part-way leaves: its verified outputs, then the newest receipt whose
 * elements all have one (DiscoveryClientSession.quotaReceipt), in that order.
 */
export async function savePartial(
  cache: SyncCache,
  scope: string,
  session: DiscoveryClientSession,
  incremental: boolean,
  cacheKeyFor: (identity: Uint8Array | undefined) => Uint8Array,
): Promise<void> {
  session.finalizeReceived();
  const partial = incremental ? session.partialOutputs : undefined;
  if (partial) await cache.saveOutputs(scope, partial, cacheKeyFor(partial.identity));
  const receipt = session.quotaReceipt;
  // Without outputs kept (a lookup), a receipt still saves what it covers from a charge again.
  if (receipt) await cache.saveReceipt(scope, receipt);
}

/** Waits for every write to finish, then throws the first that failed (none is left running). */
async function allWritten(writes: readonly (Promise<void> | undefined)[]): Promise<void> {
  const settled = await Promise.allSettled(writes);
  for (const s of settled) if (s.status === 'rejected') throw s.reason;
}

export async function runSync(options: SyncCoreOptions): Promise<CoreSyncOutcome> {
  const { server, cache } = options;
  const suiteId = options.suite ?? 'ristretto255-SHA512';
  const group = await loadGroup(groupIdOf(suiteId), options.backend ?? 'auto');
  const suite = createSuite(suiteId, Modes.VOPRF, group);
  if (options.resetCache) await cache.reset(server);
  const identifiers = uniqueIdentifiers(options.book);
  const witnesses = options.witnesses ?? [];
  const seen: KeyPin | undefined = await cache.loadPin(server);
  const cachedPins = await cache.loadPins(server);
  const pins = startingPins(cachedPins, options.pinnedIdentityKey);
  const cached = await cache.loadSnapshot(server, options.onCacheDiscarded);
  const deviceSecret = await cache.deviceSecret(() => options.rng(DEVICE_SECRET_BYTES));
  const account = clientAccountOf(options.token);
  const quotaApplies = options.token !== undefined;
  const incremental = (options.purpose ?? 'sync') === 'sync';
  const cacheKeyFor = (identity: Uint8Array | undefined) => outputCacheKey(deviceSecret, identity, account);
  const declared = declaredForIdentity(server, options);
  // Where this sync's outputs and receipt are written, set by knownFor: the verified
  // identity's scope for a declared URL, else the URL's own (identity-share.ts).
  let scope: string | undefined;
  // The verified identity's scope and what it held, for an undeclared URL's verified outputs.
  let shared: { scope: string; outputs: KnownOutputs | undefined } | undefined;
  // knownFor runs as the session's deferred work, where an error becomes a protocol error:
  // a damaged receipt is rethrown as it was (`cache_corrupt`, naming its file).
  let cacheError: unknown;
  // The identity's receipt read from an undeclared URL: damaged, it is the declared URLs' to
  // recover (`cache_corrupt` there, with --reset-cache); here it is as good as none.
  const loadOtherReceipt = async (other: string, tolerant: boolean): Promise<QuotaReceipt | undefined> => {
    try {
      return await cache.loadReceipt(other);
    } catch (err) {
      if (tolerant && err instanceof ContactPsiError && err.code === 'cache_corrupt') return undefined;
      throw err;
    }
  };
  const knownFor = async (view: { identity: Uint8Array | undefined; epoch: number; publicKey: Uint8Array }): Promise<{ outputs?: KnownOutputs; quotaReceipt?: QuotaReceipt }> => {
    try {
      const identityOf = view.identity ? identityScope(view.identity) : undefined;
      scope = identityOf !== undefined && declared ? identityOf : server;
      // The identity's folder is reset only from a declared URL: any URL that verifies as X
      // could otherwise have the fleet's receipt deleted.
      if (options.resetCache && scope !== server) await cache.reset(scope);
      // Read first where this sync writes; then the other place. The identity's scope is written
      // only by declared URLs, so what it holds may be read by any URL of the identity (read
      // only: an undeclared URL's answers go to its own scope). A declared URL reads the URL's
      // too: caches of earlier versions kept both there (the outputs carry their identity,
      // checked by the session; a receipt only if the URL's pins name this identity, or none).
      const other = identityOf === undefined ? undefined : scope === server ? identityOf : server;
      const legacy = scope !== server && (cachedPins?.identityKey === undefined || (view.identity !== undefined && equalBytes(cachedPins.identityKey, view.identity)));
      let quotaReceipt = await cache.loadReceipt(scope);
      if (quotaReceipt === undefined && other !== undefined && (other !== server || legacy)) quotaReceipt = await loadOtherReceipt(other, scope === server);
      let outputs: KnownOutputs | undefined;
      if (incremental) {
        const own = await cache.loadOutputs(scope, identifiers, cacheKeyFor, options.onCacheDiscarded);
        const theirs = other === undefined ? undefined : await cache.loadOutputs(other, identifiers, cacheKeyFor, options.onCacheDiscarded);
        // The first usable for this identity, epoch and key (an old epoch's file is not).
        outputs = [own, theirs].find((o) => outputsUsable(o, view)) ?? own ?? theirs;
        if (identityOf !== undefined && scope === server) shared = { scope: identityOf, outputs: theirs };
      }
      return { outputs, quotaReceipt };
    } catch (err) {
      cacheError = err;
      throw err;
    }
  };
  const session = new DiscoveryClientSession({
    suite,
    identifiers,
    rng: options.rng,
    cache: cached,
    pinnedPublicKey: options.pinnedPublicKey,
    // The signed view: a rotation the identity signs is followed, a second key for a seen epoch is key_conflict.
    pins,
    commitment: groupIdOf(suiteId) === 'ristretto255' ? { group } : undefined,
    checkView:
      witnesses.length === 0
        ? undefined
        : async (announcement) => {
            // Awaited first: `onWitnesses?.(await ...)` would skip the check when nobody listens.
            const comparison = await checkWitnesses(witnesses, suiteId, announcement, options.WebSocket);
            options.onWitnesses?.(comparison);
          },
    blindSecretFor: (identityKey) => blindSecretFor({ deviceSecret, identityKey, account, quotaApplies }),
    knownFor,
    quotaApplies,
    maxDownloadBytes: options.maxDownloadBytes,
    maxDeltaPrefixes: options.maxDeltaPrefixes,
    purpose: options.purpose,
    offload: options.offload,
    // Smaller chunks let blinding, evaluation and finalizing overlap (one proof per chunk).
    chunkItems: options.chunkItems ?? (options.offload ? OFFLOAD_CHUNK_ITEMS : undefined),
  });
  // An undeclared URL adds its verified outputs (only those) to the identity's (identity-share.ts).
  const shareVerified = async (outputs: KnownOutputs): Promise<void> => {
    if (shared === undefined) return;
    const merged = withVerifiedOutputs(shared.outputs, outputs);
    if (merged) await cache.saveOutputs(shared.scope, merged, cacheKeyFor(merged.identity));
  };
  // The identity's copy holds outputs only (withVerifiedOutputs: no label state), so it is
  // final once every output is verified: written while the server looks up the labels
  // instead of after them (issue 13 §1: the save was a third of the client's tail). Started
  // from a microtask, after the pump has handed dir.labels.get to the socket.
  let earlyShare: Promise<void> | undefined;
  const onEvent = (event: SessionEvent<DiscoveryResult>): void => {
    options.onEvent?.(event);
    if (earlyShare !== undefined || shared === undefined || !incremental) return;
    if (event.type !== 'progress' || event.phase !== 'evaluate' || event.done !== event.total) return;
    earlyShare = Promise.resolve().then(async () => {
      const outputs = session.partialOutputs;
      if (outputs) await shareVerified(outputs);
    });
    earlyShare.catch(() => undefined); // awaited below, where its error is thrown
  };
  let result: DiscoveryResult;
  try {
    result = await runClientSession(server, session, { token: options.token, onEvent, WebSocket: options.WebSocket, timeoutMs: options.timeoutMs });
  } catch (err) {
    if (cacheError !== undefined) throw cacheError;
    await earlyShare?.catch(() => undefined); // the partial share below writes it again
    // Cut off part-way (closed, killed, timed out, refused): keep every output received and
    // verified, then the receipt for what was charged, so none of it is evaluated (and
    // charged) again in this epoch, on this node or another of the directory. Outputs
    // first: a receipt saved ahead of the outputs it covers is a double charge.
    if (scope !== undefined) {
      await savePartial(cache, scope, session, incremental, cacheKeyFor);
      const partial = incremental ? session.partialOutputs : undefined;
      if (partial) await shareVerified(partial);
    }
    throw err;
  }
  const where = scope ?? server;
  // Outputs before the receipt: a receipt saved ahead of the outputs it covers is a double
  // charge. The other files are independent of them and of each other: written at once (a
  // file cache syncs them to disk together, not one fsync after another).
  const outputsThenReceipt = (async () => {
    if (incremental) await cache.saveOutputs(where, result.outputs, cacheKeyFor(result.outputs.identity));
    if (result.quotaReceipt) await cache.saveReceipt(where, result.quotaReceipt);
  })();
  // The same outputs as result.outputs (every identifier of the book, known or evaluated), shared early.
  const share = earlyShare ?? (incremental ? shareVerified(result.outputs) : undefined);
  if (result.refusedDelta) options.onDeltaRefused?.(result.refusedDelta);
  const { epoch, publicKey } = result.snapshot;
  await allWritten([
    outputsThenReceipt,
    share,
    // The pin state moves only after a whole verified sync (witnesses included).
    result.verified ? cache.savePins(server, result.verified.state) : undefined,
    cache.savePin(server, { epoch, publicKey }),
    !result.cacheHit || result.deltaApplied ? cache.saveSnapshot(server, result.snapshot) : undefined,
  ]);
  // A new epoch key, signed by the pinned identity: a rotation, reported.
  if (seen && !equalBytes(seen.publicKey, publicKey)) options.onKeyChange?.({ epoch: seen.epoch }, { epoch });

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
