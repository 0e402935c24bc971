/**
 * The user's consent to contact discovery, persisted in the cache folder (`consent.json`,
 * mode 0600). Nothing about the address book leaves the device unless this says granted;
 * an unreadable or malformed file counts as "not granted" (fail closed).
 */
import { join } from 'node:path';
import { isPlainObject, readJsonFile, writeJsonFileAtomic } from './local-file.js';

export const CONSENT_FILE = 'consent.json';

export interface ConsentRecord {
  version: 1;
  granted: boolean;
  /** When the user last granted or revoked (ms since the epoch, from the SDK's clock). */
  changedAt: number;
}

export class ConsentStore {
  readonly path: string;

  constructor(cacheDir: string) {
    this.path = join(cacheDir, CONSENT_FILE);
  }

  /** Read from disk on every call, so a revocation by another instance is seen at once. */
  record(): ConsentRecord | undefined {
    try {
      const rec = readJsonFile(this.path);
      if (!isPlainObject(rec) || rec.version !== 1 || typeof rec.granted !== 'boolean' || typeof rec.changedAt !== 'number') return undefined;
      return { version: 1, granted: rec.granted, changedAt: rec.changedAt };
    } catch {
      return undefined;
    }
  }

  granted(): boolean {
    return this.record()?.granted === true;
  }

  /** A revocation is written as `granted: false` (not a deletion), so its time stays on record. */
  set(granted: boolean, now: number): void {
    writeJsonFileAtomic(this.path, { version: 1, granted, changedAt: now } satisfies ConsentRecord);
  }
}
