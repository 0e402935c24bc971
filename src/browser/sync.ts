/**
 * `syncAddressBook` of `contact-psi/browser`: one call, as in Node, that keeps what makes
 * repeated syncs cheap and safe (the snapshot, the key pinned on first use, the quota
 * receipt, the device secret) in a SyncCache: IndexedDB by default, or any implementation
 * passed in (MemorySyncCache to keep nothing, an app's own storage in React Native).
 *
 * Without the device secret and the receipt, every contact would be charged against the
 * account's quota on every sync (issue 12 §3); with them a re-sync costs only new contacts.
 */
import type { Rng } from '../group/index.js';
import { ContactPsiError } from '../errors.js';
import { IndexedDbSyncCache } from './indexeddb-cache.js';
import { runSync, type CoreSyncOutcome, type SyncCoreOptions } from './sync-core.js';

export interface BrowserSyncOptions extends Omit<SyncCoreOptions, 'cache' | 'rng'> {
  /** Where to keep state between syncs (default: IndexedDbSyncCache.open(), database `contact-psi`). */
  cache?: SyncCoreOptions['cache'];
  /** Random bytes (default: crypto.getRandomValues). */
  rng?: Rng;
}

export type BrowserSyncOutcome = CoreSyncOutcome;

/** WebCrypto's limit per getRandomValues call. */
const MAX_RANDOM_CHUNK = 65_536;

/** crypto.getRandomValues, chunked (it refuses more than 64 KiB at once). */
export const webCryptoRng: Rng = (n) => {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (c === undefined || typeof c.getRandomValues !== 'function') {
    throw new ContactPsiError('backend_unavailable', 'no crypto.getRandomValues here: pass an rng (a cryptographically secure one)');
  }
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += MAX_RANDOM_CHUNK) c.getRandomValues(out.subarray(at, Math.min(n, at + MAX_RANDOM_CHUNK)));
  return out;
};

let defaultCache: Promise<IndexedDbSyncCache> | undefined;

export async function syncAddressBook(options: BrowserSyncOptions): Promise<BrowserSyncOutcome> {
  let cache = options.cache;
  if (cache === undefined) {
    defaultCache ??= IndexedDbSyncCache.open();
    // A refusal (private window) is not cached: a later call may try again.
    defaultCache.catch(() => (defaultCache = undefined));
    cache = await defaultCache;
  }
  return runSync({ ...options, cache, rng: options.rng ?? webCryptoRng });
}
