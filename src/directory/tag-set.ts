/** Shared by both stores' readTagSet (kept apart so the memory store never loads SQLite). */
import { ContactPsiError } from '../errors.js';

/** Throws `invalid_option` unless undefined or a positive integer. */
export function checkPrefixBytes(prefixBytes: number | undefined): void {
  if (prefixBytes !== undefined && !(Number.isSafeInteger(prefixBytes) && prefixBytes > 0)) {
    throw new ContactPsiError('invalid_option', 'prefixBytes must be a positive integer');
  }
}
