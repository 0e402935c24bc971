/**
 * Where `sync` got the directory's snapshot, said in one stderr line (stdout stays the
 * matches, and with --json exactly one JSON array): `cache` when the cached snapshot was
 * current, `delta` when a delta brought it up to date, `download` when it was fetched whole.
 */
import type { DiscoveryResult } from '../protocol/discovery/client.js';

export type SnapshotSource = 'cache' | 'delta' | 'download';

export function snapshotSource(result: Pick<DiscoveryResult, 'cacheHit' | 'deltaApplied'>): SnapshotSource {
  if (result.deltaApplied) return 'delta';
  return result.cacheHit ? 'cache' : 'download';
}

/** `snapshot: <source> ...`, with the epoch and version (and the bytes of a download). */
export function snapshotSourceLine(result: Pick<DiscoveryResult, 'cacheHit' | 'deltaApplied' | 'downloadedBytes' | 'snapshot'>): string {
  const { epoch, version } = result.snapshot;
  const at = `epoch ${epoch}, version ${version}`;
  switch (snapshotSource(result)) {
    case 'cache':
      return `snapshot: cache (current, ${at})`;
    case 'delta':
      return `snapshot: delta (cache brought up to ${at})`;
    case 'download':
      return `snapshot: download (${result.downloadedBytes} bytes, ${at})`;
  }
}
