/**
 * What every AnnouncementStore (types.ts) checks before it stores or reads log entries, so
 * SQLite, memory and PostgreSQL refuse the same input with the same code.
 */
import { ContactPsiError } from '../errors.js';
import type { LogEntryRecord } from './types.js';

/** Most entries one readLog call returns (dir.log pages are smaller). */
export const MAX_LOG_READ = 100_000;
/** Largest envelope stored (a real one is about 300 bytes). */
export const MAX_LOG_ENVELOPE_BYTES = 4096;

const isUint = (v: number): boolean => Number.isSafeInteger(v) && v >= 0;

export function checkLogRange(from: number, limit: number): void {
  if (!isUint(from) || !isUint(limit) || limit > MAX_LOG_READ) throw new ContactPsiError('invalid_input', `log range from ${from} limit ${limit}`);
}

export function checkLogEntry(e: LogEntryRecord): void {
  const ok =
    isUint(e.seq) &&
    (e.kind === 'epoch-key' || e.kind === 'announcement') &&
    isUint(e.epoch) &&
    e.epoch <= 0xffffffff &&
    isUint(e.version) &&
    (e.kind === 'announcement' || e.version === 0) &&
    e.envelope instanceof Uint8Array &&
    e.envelope.length > 0 &&
    e.envelope.length <= MAX_LOG_ENVELOPE_BYTES;
  if (!ok) throw new ContactPsiError('invalid_input', 'a malformed announcement log entry');
}

/** A row as a SQL driver returns it (numbers may come back as strings or bigints from PostgreSQL). */
export interface RawLogEntry {
  seq: number | string | bigint;
  kind: string;
  epoch: number | string | bigint;
  version: number | string | bigint;
  envelope: Uint8Array;
}

export const logEntry = (r: RawLogEntry): LogEntryRecord => ({
  seq: Number(r.seq),
  kind: r.kind as LogEntryRecord['kind'],
  epoch: Number(r.epoch),
  version: Number(r.version),
  envelope: new Uint8Array(r.envelope),
});
