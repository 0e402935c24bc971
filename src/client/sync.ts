/**
 * Sync an address book against a directory server: parse and normalize the contacts,
 * run one discovery session over WebSocket, keep the snapshot cache and the pinned key
 * up to date, and map matches back to address-book entries. The steps are
 * src/browser/sync-core.ts's, shared with contact-psi/browser; this file gives them files.
 */
import { pooledRandom } from './pooled-random.js';
import { runSync, type SyncCoreOptions } from '../browser/sync-core.js';
import type { DiscoveryResult } from '../protocol/discovery/client.js';
import { labelDisplayNative } from './label-display-native.js';
import { FileSyncCache } from './file-sync-cache.js';

/**
 * The options of the runtime-neutral sync (src/browser/sync-core.ts: one list, documented
 * there), with the cache as a folder of 0600 files and Node's randomness and WebSocket (ws
 * unless `WebSocket` says otherwise: the CLI hands in one whose socket is already opening,
 * src/cli/early-connect.ts).
 */
export interface SyncOptions extends Omit<SyncCoreOptions, 'cache' | 'rng'> {
  /** Where the snapshot, pins, quota receipt, OPRF outputs and device secret live between syncs. */
  cacheDir: string;
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
  const outcome = await runSync({ ...rest, cache: new FileSyncCache(cacheDir, options.server), rng: pooledRandom() });
  const matches: SyncMatch[] = outcome.matches.map((m) => ({ name: m.name, identifier: m.identifier, userId: m.userId, label: labelDisplayNative(m.label), labelBytes: m.label }));
  return { matches, result: outcome.result, identifiersChecked: outcome.identifiersChecked };
}
