/**
 * Checks for quota bucket state, shared by every store so they accept the same values. The
 * account id is opaque (the server's account or device id); the bound keeps one bad
 * caller from filling the table with huge keys.
 */
import { ContactPsiError } from '../errors.js';
import type { BucketState } from './types.js';

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
