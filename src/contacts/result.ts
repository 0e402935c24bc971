/**
 * Normalizers report bad input as a value, never by throwing: an address book is user data,
 * and one malformed entry must not abort the import of the others. The codes are stable
 * (listed in spec/contacts.md).
 */
export type NormalizeErrorCode =
  | 'empty'
  | 'invalid_phone'
  | 'no_region'
  | 'too_short'
  | 'too_long'
  | 'invalid_region'
  | 'invalid_email';

export interface NormalizeFailure {
  readonly ok: false;
  readonly code: NormalizeErrorCode;
  readonly reason: string;
}

export function failure(code: NormalizeErrorCode, reason: string): NormalizeFailure {
  return { ok: false, code, reason };
}
