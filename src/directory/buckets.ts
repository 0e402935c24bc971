/**
 * Checks for quota bucket state, shared by every store so they accept the same values. The
 * account id is opaque (the server's account or device id); the bound keeps one bad
 * caller from filling the table with huge keys.
 */
import { ContactPsiError } from '../errors.js';
import type { BucketState, ChargedRecord, QuotaWrite } from './types.js';

export const MAX_ACCOUNT_LENGTH = 256;

export function checkAccount(account: string): void {
  if (typeof account !== 'string' || account.length === 0 || account.length > MAX_ACCOUNT_LENGTH) {
    throw new ContactPsiError('invalid_account', `account ids must be strings of 1..${MAX_ACCOUNT_LENGTH} characters`);
  }
}

/** A copy of the state, checked: finite tokens, an integer time. */
export function checkBucket(state: BucketState): BucketState {
  if (typeof state !== 'object' || state === null || !Number.isFinite(state.tokens) || !Number.isSafeInteger(state.updatedAt)) {
    throw new ContactPsiError('invalid_bucket', 'a bucket needs finite tokens and an integer updatedAt');
  }
  // -0 + 0 is +0: SQLite stores no negative zero, so both stores return the same value.
  return { tokens: state.tokens + 0, updatedAt: state.updatedAt };
}

/** Most bytes of one charged record (a session's charge hashes; spec/sync-failover.md §4). */
export const MAX_CHARGED_RECORD_BYTES = 8_000_000;

/**
 * Checks a quota write before any of it runs: keys as account ids, a record of whole 8-byte
 * hashes and a safe generation. The appended length is checked by the store against
 * MAX_CHARGED_RECORD_BYTES (`invalid_record`), inside the transaction.
 */
export function checkQuotaWrite(write: QuotaWrite): void {
  for (const { key } of write.buckets) checkAccount(key);
  for (const key of write.clear ?? []) checkAccount(key);
  const record = write.record;
  if (record === undefined) return;
  checkAccount(record.key);
  if (!(record.hashes instanceof Uint8Array) || record.hashes.length % 8 !== 0 || record.hashes.length > MAX_CHARGED_RECORD_BYTES) {
    throw new ContactPsiError('invalid_record', `a charged record holds whole 8-byte hashes, at most ${MAX_CHARGED_RECORD_BYTES} bytes`);
  }
  if (!Number.isSafeInteger(record.generation) || record.generation < 0) throw new ContactPsiError('invalid_record', 'a charged record needs a non-negative integer generation');
}

/** The record after a write's append: appended to when of the same generation, else replaced. */
export function appendedRecord(stored: ChargedRecord | undefined, record: NonNullable<QuotaWrite['record']>): ChargedRecord {
  const base = stored !== undefined && stored.generation === record.generation ? stored.hashes : new Uint8Array(0);
  if (base.length + record.hashes.length > MAX_CHARGED_RECORD_BYTES) {
    throw new ContactPsiError('invalid_record', `a charged record is at most ${MAX_CHARGED_RECORD_BYTES} bytes`);
  }
  const hashes = new Uint8Array(base.length + record.hashes.length);
  hashes.set(base, 0);
  hashes.set(record.hashes, base.length);
  return { generation: record.generation, hashes };
}
