/**
 * Persists the scheduler's SyncState (`sync-state.json`, mode 0600), so a restarted app
 * neither syncs again at once nor forgets a change made while it was closed. It holds a
 * hash of the identifiers, never the identifiers; a malformed file is ignored (the next
 * sync is then a first sync).
 */
import { join } from 'node:path';
import { isPlainObject, readJsonFile, removeFile, writeJsonFileAtomic } from './local-file.js';
import type { SyncState } from './scheduler.js';

export const SYNC_STATE_FILE = 'sync-state.json';

export class SyncStateStore {
  readonly path: string;

  constructor(cacheDir: string) {
    this.path = join(cacheDir, SYNC_STATE_FILE);
  }

  load(): SyncState | undefined {
    try {
      const s = readJsonFile(this.path);
      if (!isPlainObject(s) || s.version !== 1) return undefined;
      const { syncedHash, lastSyncAt, nextDueAt } = s;
      if (typeof syncedHash !== 'string' || !Number.isFinite(lastSyncAt) || !Number.isFinite(nextDueAt)) return undefined;
      return { syncedHash, lastSyncAt: lastSyncAt as number, nextDueAt: nextDueAt as number };
    } catch {
      return undefined;
    }
  }

  save(state: SyncState): void {
    writeJsonFileAtomic(this.path, { version: 1, ...state });
  }

  clear(): void {
    removeFile(this.path);
  }
}
