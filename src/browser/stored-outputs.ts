/**
 * The OPRF outputs of a sync as a SyncCache stores them (StoredOutputs: entries keyed by a
 * keyed hash of the identifier, src/client/output-keys.ts) and back (KnownOutputs, what the
 * session takes): the translation every store of records (IndexedDB, memory, an app's own)
 * shares. The Node client's file (src/client/output-cache.ts) writes the same keys.
 */
import { outputEntryKey } from '../client/output-keys.js';
import type { KnownOutput, KnownOutputs } from '../protocol/discovery/known-outputs.js';
import type { StoredOutputs } from './sync-cache.js';

const hexOf = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** The stored outputs of the book's identifiers (entries of other identifiers, or under another key, are not found). */
export function knownOutputsOf(stored: StoredOutputs, identifiers: readonly string[], cacheKeyFor: (identity: Uint8Array | undefined) => Uint8Array): KnownOutputs {
  const key = cacheKeyFor(stored.identity);
  const byKey = new Map<string, string>();
  for (const id of identifiers) byKey.set(hexOf(outputEntryKey(key, id)), id);
  const entries = new Map<string, KnownOutput>();
  for (const e of stored.entries) {
    const identifier = byKey.get(hexOf(e.key));
    if (identifier !== undefined) entries.set(identifier, { output: e.output, labelChecked: e.labelChecked, match: e.match });
  }
  return { identity: stored.identity, epoch: stored.epoch, publicKey: stored.publicKey, version: stored.version, entries };
}

/** What a SyncCache stores of the session's outputs: identifiers replaced by their keyed hashes. */
export function storedOutputsOf(outputs: KnownOutputs, cacheKey: Uint8Array): StoredOutputs {
  const entries = [...outputs.entries].map(([identifier, e]) => ({
    key: outputEntryKey(cacheKey, identifier).slice(),
    output: e.output,
    labelChecked: e.labelChecked,
    ...(e.match ? { match: { userId: e.match.userId, label: e.match.label } } : {}),
  }));
  return { ...(outputs.identity ? { identity: outputs.identity } : {}), epoch: outputs.epoch, publicKey: outputs.publicKey, version: Math.max(0, outputs.version), entries };
}
