/**
 * Sync an address book against a directory server: parse and normalize the contacts,
 * run one discovery session over WebSocket, keep the snapshot cache and the pinned key
 * up to date, and map matches back to address-book entries. The steps are
 * src/browser/sync-core.ts's, shared with contact-psi/browser; this file gives them files.
 */
import { randomBytes } from 'node:crypto';
import { runSync } from '../browser/sync-core.js';
import type { AddressBook } from '../contacts/index.js';
import type { BackendName } from '../group/index.js';
import type { SuiteId } from '../oprf/index.js';
import type { DiscoveryResult } from '../protocol/discovery/client.js';
import type { SessionEvent } from '../protocol/session-core.js';
import type { OprfOffload } from '../protocol/offload.js';
import type { WitnessComparison } from '../protocol/discovery/witness.js';
import type { VerifiabilityError } from '../protocol/discovery/verify-error.js';
import { labelDisplay } from '../protocol/discovery/label-text.js';
import { FileSyncCache } from './file-sync-cache.js';

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

/** Asks every witness (in parallel, one short session each, no token) and applies the witness rule. */
export { checkWitnesses } from '../browser/sync-core.js';

/**
 * The sync of src/browser/sync-core.ts (the same code the browser runs), over this cache
 * folder's files (FileSyncCache: snapshot, pins, key pin, receipt, OPRF outputs, device
 * secret) with OS randomness; labels also as text.
 */
export async function syncAddressBook(options: SyncOptions): Promise<SyncOutcome> {
  const { cacheDir, ...rest } = options;
  const outcome = await runSync({ ...rest, cache: new FileSyncCache(cacheDir, options.server), rng: (n) => new Uint8Array(randomBytes(n)) });
  const matches: SyncMatch[] = outcome.matches.map((m) => ({ name: m.name, identifier: m.identifier, userId: m.userId, label: labelDisplay(m.label), labelBytes: m.label }));
  return { matches, result: outcome.result, identifiersChecked: outcome.identifiersChecked };
}
