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

/** Most bytes appended to a record by one write (a session's charge hashes; spec/sync-failover.md §4). */
export const MAX_CHARGED_RECORD_BYTES = 8_000_000;

/**
 * Checks a quota write before any of it runs: keys as account ids, records of whole 8-byte
 * hashes (at most MAX_CHARGED_RECORD_BYTES per write: a session's records are bounded by the
 * elements it may evaluate) and a safe generation.
 */
export function checkQuotaWrite(write: QuotaWrite): void {
  for (const { key } of write.buckets) checkAccount(key);
  for (const record of write.records ?? []) {
    checkAccount(record.key);
    if (!(record.hashes instanceof Uint8Array) || record.hashes.length % 8 !== 0 || record.hashes.length > MAX_CHARGED_RECORD_BYTES) {
      throw new ContactPsiError('invalid_record', `a charged record holds whole 8-byte hashes, at most ${MAX_CHARGED_RECORD_BYTES} bytes`);
    }
    if (!Number.isSafeInteger(record.generation) || record.generation < 0) throw new ContactPsiError('invalid_record', 'a charged record needs a non-negative integer generation');
  }
}

/**
 * What a write does to a stored record (stored as appended parts: an append never rewrites
 * what is there, or a client sending one-element chunks would make each charge copy the
 * whole record): `append` when it holds the same generation, `replace` when the stored one
 * is older (or absent), `keep` when it is newer (a concurrent later session of the chain, or
 * a later epoch, wrote it: an older one must not win).
 */
export function recordAction(storedGeneration: number | undefined, generation: number): 'append' | 'replace' | 'keep' {
  if (storedGeneration === undefined || storedGeneration < generation) return 'replace';
  return storedGeneration === generation ? 'append' : 'keep';
}

/** A record from its parts, in order. */
export function joinRecord(generation: number, parts: readonly Uint8Array[]): ChargedRecord {
  const hashes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    hashes.set(p, at);
    at += p.length;
  }
  return { generation, hashes };
}
